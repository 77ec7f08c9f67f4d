//! The shard file (SPEC §14, settled detail H1): what one shard hands to `merge`, and its
//! encoding. Layout (integers little-endian; reference.md §11 documents it for users):
//!
//! ```text
//! magic        16 bytes  "tailrisk shard\n\0"
//! version      u32       FORMAT_VERSION
//! header       u64 length, then that many bytes of UTF-8 JSON: ShardHeader
//! sections     each: u32 tag, u64 length, payload; version 3 has exactly
//!              TAG_TAILS, TAG_PATHS, TAG_HISTOGRAMS, in that order
//! checksum     32 bytes  SHA-256 of every byte before it
//! ```
//!
//! `TAG_TAILS`: per account of the header, in its order: u64 count K', u8 width w (4 or 8),
//! the K global path indices in ascending order as LEB128 varints of their differences
//! (the first from 0), then the K losses of those paths in that order (f32 or f64 of w
//! bytes). A reader sorts them back to loss descending, then path ascending. Paths are
//! written ascending because their differences take about one byte where a u32 takes four:
//! the largest saving there is, since losses are dense f64s. `TAG_PATHS`: u64 rows R,
//! u32 assets A, u32 instruments I, u8 width w; R ascending path indices as varint
//! differences; R×A log returns; R×I P&L per unit (w bytes each): the revaluation of every
//! path some account's component ES may need. A column is written in f32 only when every
//! value is exactly an f32 (the f32 backends' values are), so the encoding is lossless:
//! `merge` reads back the very bits the shard computed.
//!
//! K' = min(n_I, max(K, inset)): the K of H1 that the figures need, raised to the losses the
//! HTML report's tail inset shows (R4, [`crate::run::inset_len`]), so that `merge --report`
//! has the whole run's worst inset losses too; the path table is still that of the first k.
//! `TAG_HISTOGRAMS` (version 2): per account, its loss histogram over the shard's paths
//! ([`crate::model::distribution`], counted in the tail pass): u64 count B of non-empty bins,
//! the B bin indices ascending as varint differences, then the B counts as LEB128 varints.
//! Counts add across shards and sum to the shard's path count.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::calibrate::Calibration;
use crate::engine::{BackendKind, Precision, TailEntry};
use crate::model::distribution::LossHistogram;
use crate::report::{GreeksReport, GridPointReport, RepairReport, StressReport};

/// The first 16 bytes of every shard file.
pub const MAGIC: &[u8; 16] = b"tailrisk shard\n\0";
/// The version of the layout above; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 3;
/// Section: every account's tail candidates.
pub const TAG_TAILS: u32 = 1;
/// Section: the revaluation of the paths component ES may need.
pub const TAG_PATHS: u32 = 2;
/// Section: every account's loss histogram over the shard's paths.
pub const TAG_HISTOGRAMS: u32 = 3;

/// A whole shard: the JSON header and the three binary sections.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardFile {
    pub header: ShardHeader,
    /// Per account (header order): its K' = min(n_I, max(tail length of the whole run,
    /// inset length)) largest losses, with global path indices, sorted worst first.
    pub tails: Vec<Vec<TailEntry>>,
    pub paths: PathTable,
    /// Per account (header order): the histogram of its losses on the shard's paths.
    pub histograms: Vec<LossHistogram>,
}

/// Everything of a shard except the bulk (H1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardHeader {
    pub tailrisk_version: String,
    /// SHA-256 (hex) of the canonical inputs after flags (`super::digest`).
    pub inputs_sha256: String,
    pub seed: u64,
    /// P, the paths of the whole run.
    pub paths: u64,
    /// N.
    pub shards: u64,
    /// I.
    pub index: u64,
    /// ⌊I·P/N⌋ and ⌊(I+1)·P/N⌋: the shard's paths.
    pub first_path: u64,
    pub end_path: u64,
    pub backend: BackendKind,
    pub precision: Precision,
    pub device: String,
    /// Compute seconds of the shard's run.
    pub seconds: f64,
    pub run: RunParts,
    pub accounts: Vec<AccountParts>,
}

/// The run-level parts of the report and what the merge computes figures with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunParts {
    pub horizon_days: f64,
    pub steps: u32,
    /// The tail length of the whole run (max over the levels of k + d).
    pub tail_len: usize,
    /// The losses the report's tail inset shows ([`crate::run::inset_len`]).
    pub inset_len: usize,
    pub confidence: Vec<f64>,
    pub margin_confidence: f64,
    pub mm_ratio: f64,
    /// The APC buffer tool's buffer, if configured.
    pub apc_buffer: Option<f64>,
    pub correlation_repair: Option<RepairReport>,
    pub calibration: Option<Calibration>,
    /// Today's spot of every simulated asset (coin accounts' S_c,0), book order.
    pub asset_spots: Vec<f64>,
    /// Today's value per unit of every instrument, book order.
    pub base_values: Vec<f64>,
    /// The stress grid of the book, every asset's points.
    pub grid: Vec<GridPointPart>,
}

/// The path-independent parts of one account's report and its holdings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountParts {
    pub id: String,
    /// `None` for USD, else the simulated asset the account is margined in.
    pub coin: Option<CoinPart>,
    /// The portfolio file the account came from, for messages.
    pub file: String,
    pub stress: StressReport,
    pub greeks: std::collections::BTreeMap<String, GreeksReport>,
    /// Margin inputs besides ES: grid loss, worst named scenario, add-on, minimum.
    pub grid: f64,
    pub scenario: f64,
    pub liquidity: f64,
    pub short_option_minimum: f64,
    pub holdings: Vec<HoldingPart>,
    /// Every stress grid point of the account's assets (its assets in book order, each
    /// asset's points in grid order), for the report's heat maps.
    pub grid_points: Vec<GridLossPart>,
}

/// A point of the book's stress grid (the same for every account): its asset's symbol and
/// moves, as `stress` reports them ([`crate::report::GridPointReport`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridPointPart {
    pub asset: String,
    pub price_move: f64,
    pub vol_move: f64,
    pub extended: bool,
    pub fraction: f64,
}

/// One grid point of an account, written as a JSON array `[point, loss, worst]` to keep
/// the header small: the point's index into [`RunParts::grid`], the account's loss there,
/// and whether it is the worst counted loss of its asset. `drives_margin` is left out: it
/// depends on the merged ES.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GridLossPart(pub usize, pub f64, pub bool);

impl GridLossPart {
    /// The report's grid point; counted loss = fraction × loss, as `stress` computes it, and
    /// `drives_margin` as `stress` sets it: worst of its asset, positive, and the grid loss
    /// sets initial margin. `None` for a point index past the grid.
    pub fn report(&self, grid: &[GridPointPart], grid_binds: bool) -> Option<GridPointReport> {
        let GridLossPart(point, loss, worst) = *self;
        let p = grid.get(point)?;
        let counted_loss = p.fraction * loss;
        Some(GridPointReport {
            asset: p.asset.clone(),
            price_move: p.price_move,
            vol_move: p.vol_move,
            extended: p.extended,
            fraction: p.fraction,
            loss,
            counted_loss,
            worst,
            drives_margin: worst && grid_binds && counted_loss > 0.0,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoinPart {
    pub asset: usize,
    pub symbol: String,
}

/// A position as written: the component ES it gets is reported under `label`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldingPart {
    pub label: String,
    pub instrument: usize,
    pub quantity: f64,
    /// The account's margin coin held as spot: its loss is 0 on every path
    /// ([`crate::book::InstrumentRow::is_margin_coin`]).
    pub margin_coin: bool,
}

/// Revalued paths, ascending: `log_returns` rows × assets, `pnl` rows × instruments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathTable {
    pub paths: Vec<u32>,
    pub assets: usize,
    pub instruments: usize,
    pub log_returns: Vec<f64>,
    pub pnl: Vec<f64>,
}

impl PathTable {
    /// The row of `path`, if the table holds it.
    pub fn row(&self, path: u32) -> Option<(&[f64], &[f64])> {
        let r = self.paths.binary_search(&path).ok()?;
        Some((
            &self.log_returns[r * self.assets..(r + 1) * self.assets],
            &self.pnl[r * self.instruments..(r + 1) * self.instruments],
        ))
    }
}

/// Encodes a shard as the module docs lay out.
pub fn encode(shard: &ShardFile) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let header = serde_json::to_vec(&shard.header).expect("a shard header serialises");
    put_u64(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    let mut tails = Vec::new();
    for tail in &shard.tails {
        let mut by_path = tail.clone();
        by_path.sort_unstable_by_key(|e| e.path);
        let losses: Vec<f64> = by_path.iter().map(|e| e.loss).collect();
        let width = width_of(&[&losses]);
        put_u64(&mut tails, tail.len() as u64);
        tails.push(width as u8);
        put_ascending(&mut tails, by_path.iter().map(|e| e.path));
        put_values(&mut tails, &losses, width);
    }
    put_section(&mut out, TAG_TAILS, &tails);
    let t = &shard.paths;
    let mut paths = Vec::new();
    put_u64(&mut paths, t.paths.len() as u64);
    paths.extend((t.assets as u32).to_le_bytes());
    paths.extend((t.instruments as u32).to_le_bytes());
    // One width for both columns, so that a reader knows the section's size up front.
    let width_columns: [&[f64]; 2] = [&t.log_returns, &t.pnl];
    let width = width_of(&width_columns);
    paths.push(width as u8);
    put_ascending(&mut paths, t.paths.iter().copied());
    for column in width_columns {
        put_values(&mut paths, column, width);
    }
    put_section(&mut out, TAG_PATHS, &paths);
    let mut histograms = Vec::new();
    for h in &shard.histograms {
        let bins = h.sparse();
        put_u64(&mut histograms, bins.len() as u64);
        put_ascending(&mut histograms, bins.iter().map(|&(b, _)| b));
        bins.iter()
            .for_each(|&(_, c)| put_varint(&mut histograms, c));
    }
    put_section(&mut out, TAG_HISTOGRAMS, &histograms);
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// Why a file is not a shard this version can read.
#[derive(Debug)]
pub struct Damaged(pub String);

/// Decodes a shard: checksum first (a damaged byte anywhere is found there), then magic,
/// version and structure. The header's consistency with the bulk is checked by the caller
/// ([`super::merge()`]), which knows the whole run.
pub fn decode(bytes: &[u8]) -> Result<ShardFile, Damaged> {
    let damaged = |why: &str| Damaged(why.to_string());
    if bytes.len() < MAGIC.len() + 4 + 32 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(damaged(
            "not a tailrisk shard file (no shard magic at its start)",
        ));
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(damaged(
            "its SHA-256 checksum does not match its contents (truncated or damaged)",
        ));
    }
    let mut r = Reader {
        bytes: &body[MAGIC.len()..],
    };
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(Damaged(format!(
            "format version {version}; this tailrisk reads version {FORMAT_VERSION}"
        )));
    }
    let header_len = r.len()?;
    let header: ShardHeader = serde_json::from_slice(r.take(header_len)?)
        .map_err(|e| Damaged(format!("its header is not a shard header: {e}")))?;
    let mut tails_section = r.section(TAG_TAILS)?;
    let tails = (0..header.accounts.len())
        .map(|_| read_tail(&mut tails_section))
        .collect::<Result<Vec<_>, _>>()?;
    tails_section.end("the tails section")?;
    let mut paths_section = r.section(TAG_PATHS)?;
    let paths = read_paths(&mut paths_section)?;
    paths_section.end("the paths section")?;
    let mut histograms_section = r.section(TAG_HISTOGRAMS)?;
    let histograms = (0..header.accounts.len())
        .map(|_| read_histogram(&mut histograms_section))
        .collect::<Result<Vec<_>, _>>()?;
    histograms_section.end("the histograms section")?;
    r.end("the file")?;
    Ok(ShardFile {
        header,
        tails,
        paths,
        histograms,
    })
}

fn read_histogram(r: &mut Reader) -> Result<LossHistogram, Damaged> {
    let n = r.len()?;
    let bins = r.ascending(n)?;
    let counts = (0..n).map(|_| r.varint()).collect::<Result<Vec<_>, _>>()?;
    let pairs: Vec<(u32, u64)> = bins.into_iter().zip(counts).collect();
    LossHistogram::from_sparse(&pairs)
        .ok_or_else(|| Damaged("a histogram bin out of range or with a zero count".into()))
}

fn read_tail(r: &mut Reader) -> Result<Vec<TailEntry>, Damaged> {
    let k = r.len()?;
    let width = r.width()?;
    let paths = r.ascending(k)?;
    let losses = r.values(k, width)?;
    let mut tail: Vec<TailEntry> = losses
        .into_iter()
        .zip(paths)
        .map(|(loss, path)| TailEntry { loss, path })
        .collect();
    tail.sort_unstable_by(TailEntry::worse_first);
    Ok(tail)
}

fn read_paths(r: &mut Reader) -> Result<PathTable, Damaged> {
    let rows = r.len()?;
    let assets = r.u32()? as usize;
    let instruments = r.u32()? as usize;
    let width = r.width()?;
    let paths = r.ascending(rows)?;
    let log_returns = r.values(rows.saturating_mul(assets), width)?;
    let pnl = r.values(rows.saturating_mul(instruments), width)?;
    Ok(PathTable {
        paths,
        assets,
        instruments,
        log_returns,
        pnl,
    })
}

fn put_u64(out: &mut Vec<u8>, x: u64) {
    out.extend_from_slice(&x.to_le_bytes());
}

fn put_section(out: &mut Vec<u8>, tag: u32, payload: &[u8]) {
    out.extend_from_slice(&tag.to_le_bytes());
    put_u64(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Strictly ascending u32s as LEB128 varints of their differences, the first from 0.
fn put_ascending(out: &mut Vec<u8>, values: impl Iterator<Item = u32>) {
    let mut previous = 0u32;
    for v in values {
        let mut delta = v - previous;
        previous = v;
        loop {
            let byte = (delta & 0x7f) as u8;
            delta >>= 7;
            if delta == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
}

/// A u64 as a LEB128 varint: 7 bits a byte, low first, the high bit set on all but the last.
fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x & 0x7f) as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// 4 when every value is exactly an f32 (bit for bit, signed zeros included), else 8.
fn width_of(columns: &[&[f64]]) -> usize {
    let exact = |x: &f64| f64::from(*x as f32).to_bits() == x.to_bits();
    if columns.iter().all(|c| c.iter().all(exact)) {
        4
    } else {
        8
    }
}

fn put_values(out: &mut Vec<u8>, values: &[f64], width: usize) {
    for &x in values {
        if width == 4 {
            out.extend_from_slice(&(x as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Bounds-checked reading of the binary part: running past the end is a damaged file, never
/// a panic.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Damaged> {
        if n > self.bytes.len() {
            return Err(Damaged("it ends in the middle of a section".into()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, Damaged> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    /// A u64 length that must fit what is left.
    fn len(&mut self) -> Result<usize, Damaged> {
        let n = u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"));
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or_else(|| Damaged(format!("a length of {n} exceeds the bytes left")))
    }

    fn width(&mut self) -> Result<usize, Damaged> {
        match self.take(1)?[0] {
            4 => Ok(4),
            8 => Ok(8),
            w => Err(Damaged(format!(
                "a value width of {w} bytes (4 or 8 expected)"
            ))),
        }
    }

    fn values(&mut self, n: usize, width: usize) -> Result<Vec<f64>, Damaged> {
        let bytes = self.take(
            n.checked_mul(width)
                .ok_or_else(|| Damaged("a section too long".into()))?,
        )?;
        Ok(bytes
            .chunks_exact(width)
            .map(|b| match width {
                4 => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
                _ => f64::from_le_bytes(b.try_into().expect("8 bytes")),
            })
            .collect())
    }

    /// A u64 written by [`put_varint`] (at most 10 bytes, no bits beyond 64).
    fn varint(&mut self) -> Result<u64, Damaged> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            x |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(x);
            }
        }
        Err(Damaged("a count that is not a u64 varint".into()))
    }

    /// `n` strictly ascending u32s written by [`put_ascending`].
    fn ascending(&mut self, n: usize) -> Result<Vec<u32>, Damaged> {
        let bad = || Damaged("path indices that are not ascending u32s".into());
        // Each takes at least one byte: a count beyond the bytes left is damage, not memory.
        if n > self.bytes.len() {
            return Err(bad());
        }
        let mut out = Vec::with_capacity(n);
        let mut previous: Option<u32> = None;
        for _ in 0..n {
            let mut delta = 0u64;
            let mut shift = 0;
            loop {
                let byte = self.take(1)?[0];
                delta |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
                shift += 7;
                if shift > 28 {
                    return Err(bad());
                }
            }
            let value = match previous {
                None => u32::try_from(delta).map_err(|_| bad())?,
                Some(_) if delta == 0 => return Err(bad()),
                Some(p) => u32::try_from(u64::from(p) + delta).map_err(|_| bad())?,
            };
            out.push(value);
            previous = Some(value);
        }
        Ok(out)
    }

    /// The payload of the next section, which must carry `tag`.
    fn section(&mut self, tag: u32) -> Result<Reader<'a>, Damaged> {
        let got = self.u32()?;
        if got != tag {
            return Err(Damaged(format!(
                "section tag {got} where {tag} was expected"
            )));
        }
        let n = self.len()?;
        Ok(Reader {
            bytes: self.take(n)?,
        })
    }

    fn end(&self, what: &str) -> Result<(), Damaged> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(Damaged(format!(
                "{} unread bytes at the end of {what}",
                self.bytes.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascending_paths_round_trip_through_varints() {
        let paths = [0u32, 1, 127, 128, 300, 16_384, 4_000_000_000, u32::MAX];
        let mut bytes = Vec::new();
        put_ascending(&mut bytes, paths.iter().copied());
        let mut r = Reader { bytes: &bytes };
        assert_eq!(r.ascending(paths.len()).unwrap(), paths);
        assert!(r.end("test").is_ok());
        // A repeated path (a zero difference) is damage.
        let mut r = Reader { bytes: &[5, 0] };
        assert!(r.ascending(2).is_err());
    }

    #[test]
    fn counts_round_trip_through_varints() {
        let counts = [0u64, 1, 127, 128, 300, 1 << 35, u64::MAX];
        let mut bytes = Vec::new();
        counts.iter().for_each(|&c| put_varint(&mut bytes, c));
        let mut r = Reader { bytes: &bytes };
        let back: Vec<u64> = counts.iter().map(|_| r.varint().unwrap()).collect();
        assert_eq!(back, counts);
        assert!(r.end("test").is_ok());
        // Eleven continuation bytes, or bits past 64: damage.
        assert!(Reader { bytes: &[0xff; 11] }.varint().is_err());
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert!(Reader { bytes: &over }.varint().is_err());
    }

    #[test]
    fn width_is_four_only_for_exact_f32_values() {
        assert_eq!(width_of(&[&[0.5, -0.0, 3.0]]), 4);
        assert_eq!(width_of(&[&[0.1]]), 8);
        assert_eq!(width_of(&[&[1.0], &[0.1]]), 8);
    }
}
