//! Book summaries → a SPEC §2 market snapshot (D3–D10, D12, D13).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde::Serialize;

use super::responses::{Rows, SummaryRow, read_rows};
use super::smile::{KNOTS, fit_rate, knots, read_row};
use super::{Document, Notes};
use crate::error::{Error, Result};
use crate::input::json::{Path, Source};
use crate::instrument::{InstrumentKind, parse_deribit};
use crate::time::{SECONDS_PER_YEAR, format_rfc3339};

/// Options expiring within this long of as_of are skipped (D5), ms.
const MIN_EXPIRY_MS: i64 = 3_600_000;
/// A row older than as_of by more than this is noted (D6), ms.
const STALE_MS: i64 = 300_000;
/// A delivery price further than this from the asset's spot is noted (D6).
const SPOT_TOLERANCE: f64 = 0.005;
/// Fewest strikes that make an expiry's smile row (D5).
const MIN_STRIKES: usize = 3;

/// A usable row: where it was read and what it says.
struct Quote {
    file: String,
    at: Path,
    /// The row's `instrument_name`, for its notices.
    name: String,
    asset: String,
    kind: InstrumentKind,
    /// Expiry, ms since the epoch (`None` for perpetuals).
    expiry_ms: Option<i64>,
    strike: f64,
    created_ms: i64,
    delivery: f64,
    /// Options: mark_iv / 100. Futures: unused.
    vol: f64,
    /// Options: underlying_price; futures and perpetuals: mark_price.
    forward: f64,
}

/// The market file as written: assets sorted, expiries ascending (D14).
#[derive(Serialize)]
pub struct MarketOut {
    pub as_of: String,
    pub assets: BTreeMap<String, AssetOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CorrelationOut>,
}

#[derive(Serialize)]
pub struct AssetOut {
    pub spot: f64,
    pub rate: f64,
    pub vol: GridOut,
}

#[derive(Serialize)]
pub struct GridOut {
    pub expiries: Vec<String>,
    pub log_moneyness: Vec<f64>,
    pub implied_vols: Vec<Vec<f64>>,
}

#[derive(Serialize)]
pub struct CorrelationOut {
    pub symbols: Vec<String>,
    pub matrix: Vec<Vec<f64>>,
}

/// The market of the book summaries (no correlation yet), and its as_of in ms.
pub fn import_market(files: &[Document], notes: &mut Notes) -> Result<(MarketOut, i64)> {
    let mut latest: BTreeMap<String, Quote> = BTreeMap::new();
    let mut other_kinds: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for doc in files {
        let src = Source::new(&doc.text, &doc.file, "a book summary response")?;
        let rows: Rows<SummaryRow> = read_rows(&src)?;
        if rows.testnet {
            notes.push(
                &doc.file,
                "testnet",
                "the response is from Deribit's testnet",
            );
        }
        for (i, row) in rows.rows.into_iter().enumerate() {
            let at = rows.at.index(i);
            let name = row.instrument_name.clone();
            let Some(quote) = usable(&src, &at, row, &mut other_kinds, notes) else {
                continue;
            };
            keep_latest(&mut latest, name, quote)?;
        }
    }
    for (kind, names) in &other_kinds {
        notes.push(
            "book summaries",
            kind,
            format!(
                "{} {kind} row(s) skipped, they feed no figure: {}",
                names.len(),
                names.join(", ")
            ),
        );
    }
    let Some(as_of) = latest.values().map(|q| q.created_ms).max() else {
        let file = files.first().map_or("book summaries", |d| d.file.as_str());
        return Err(Error::input(
            file,
            "result",
            "(no usable rows)",
            "no usable option or future row in the book summaries",
        ));
    };
    let mut by_asset: BTreeMap<String, Vec<Quote>> = BTreeMap::new();
    for quote in latest.into_values() {
        if let Some(why) = expired(&quote, as_of) {
            notes.push(&quote.file, &quote.at.to_string(), why);
            continue;
        }
        by_asset.entry(quote.asset.clone()).or_default().push(quote);
    }
    let mut assets = BTreeMap::new();
    for (symbol, quotes) in by_asset {
        if let Some(asset) = asset(&symbol, &quotes, as_of, notes) {
            assets.insert(symbol, asset);
        }
    }
    if assets.is_empty() {
        return Err(Error::input(
            files.first().map_or("book summaries", |d| d.file.as_str()),
            "result",
            "(no usable expiry)",
            "no asset has an option expiry with at least 3 usable strikes",
        ));
    }
    notes.push(
        "market",
        "adv_usd",
        "not imported (Deribit's derivatives volume is not spot ADV): the liquidity add-on \
         uses its fallback for every asset",
    );
    let as_of_text = chrono::DateTime::from_timestamp_millis(as_of)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    let market = MarketOut {
        as_of: as_of_text,
        assets,
        correlation: None,
    };
    Ok((market, as_of))
}

/// The row as a [`Quote`], or `None` with a notice (D5, D8, D12).
fn usable(
    src: &Source,
    at: &Path,
    row: SummaryRow,
    other_kinds: &mut BTreeMap<&'static str, Vec<String>>,
    notes: &mut Notes,
) -> Option<Quote> {
    let name_at = at.key("instrument_name");
    let spec = match parse_deribit(&row.instrument_name) {
        Ok(spec) if spec.kind != InstrumentKind::Spot => spec,
        parsed => {
            let kind = other_kind(&row.instrument_name, parsed.is_ok());
            if let Some(kind) = kind {
                other_kinds
                    .entry(kind)
                    .or_default()
                    .push(row.instrument_name);
            } else if let Err(why) = parsed {
                notes.push(src.file, &name_at.to_string(), format!("skipped: {why}"));
            }
            return None;
        }
    };
    let mut skip = |field: &str, why: &str| {
        let field_at = at.key(field);
        let value = src.written(&field_at);
        notes.push(
            src.file,
            &field_at.to_string(),
            format!("{} skipped: {why} (got {value})", row.instrument_name),
        );
        None
    };
    let positive =
        |v: Option<crate::input::bounds::Num<_>>| v.map(|v| v.get()).filter(|&v| v > 0.0);
    let Some(delivery) = positive(row.estimated_delivery_price) else {
        return skip(
            "estimated_delivery_price",
            "needs a positive delivery price",
        );
    };
    let (vol, forward) = if spec.kind == InstrumentKind::Option {
        let Some(iv) = positive(row.mark_iv) else {
            return skip("mark_iv", "mark_iv is null or not positive");
        };
        let Some(forward) = positive(row.underlying_price) else {
            return skip("underlying_price", "needs a positive underlying_price");
        };
        (iv / 100.0, forward)
    } else {
        let Some(mark) = positive(row.mark_price) else {
            return skip("mark_price", "needs a positive mark_price");
        };
        (0.0, mark)
    };
    Some(Quote {
        file: src.file.to_string(),
        at: at.clone(),
        name: row.instrument_name.clone(),
        asset: spec.underlying,
        kind: spec.kind,
        expiry_ms: spec.expiry,
        strike: spec.strike.unwrap_or(0.0),
        created_ms: row.creation_timestamp.get() as i64,
        delivery,
        vol,
        forward,
    })
}

/// The kind of a row that is neither an option nor a future (D8): a spot pair
/// (`BTC_USDC`, or a bare symbol), a combo (`BTC-FS-27DEC26_PERP`, `BTC-CS-…`); `None`
/// for a name that is none of these (noted with the parser's reason).
fn other_kind(name: &str, is_spot: bool) -> Option<&'static str> {
    let parts: Vec<&str> = name.split('-').collect();
    if is_spot || (parts.len() == 1 && name.contains('_')) {
        return Some("spot");
    }
    let code = parts.get(1).copied().unwrap_or("");
    let is_code =
        !code.is_empty() && code.len() <= 6 && code.bytes().all(|b| b.is_ascii_uppercase());
    (parts.len() >= 3 && is_code && code != "PERPETUAL").then_some("combo")
}

/// D13: of two rows of one instrument the later `creation_timestamp` wins; equal ones are
/// an input error naming both.
fn keep_latest(latest: &mut BTreeMap<String, Quote>, name: String, quote: Quote) -> Result<()> {
    match latest.entry(name) {
        Entry::Vacant(slot) => {
            slot.insert(quote);
        }
        Entry::Occupied(mut slot) => {
            let kept = slot.get();
            if kept.created_ms == quote.created_ms {
                return Err(Error::input(
                    &quote.file,
                    quote.at.key("creation_timestamp").to_string(),
                    quote.created_ms,
                    format!(
                        "{} is also at {}: {} with the same creation_timestamp; which one \
                         is current cannot be told",
                        slot.key(),
                        kept.file,
                        kept.at
                    ),
                ));
            }
            if quote.created_ms > kept.created_ms {
                slot.insert(quote);
            }
        }
    }
    Ok(())
}

/// Why a quote cannot be used at as_of: an option within 1 hour of expiry (D5), a future
/// at or past its expiry.
fn expired(q: &Quote, as_of: i64) -> Option<String> {
    let expiry = q.expiry_ms?;
    let what = match q.kind {
        InstrumentKind::Option if expiry - as_of <= MIN_EXPIRY_MS => "expires within 1 hour of",
        InstrumentKind::Future if expiry <= as_of => "has expired at",
        _ => return None,
    };
    Some(format!("{} skipped: the instrument {what} as_of", q.name))
}

/// Year fraction from as_of to an expiry, both in ms.
fn years(from_ms: i64, to_ms: i64) -> f64 {
    (to_ms - from_ms) as f64 / 1000.0 / SECONDS_PER_YEAR
}

/// D6: the asset's spot, the delivery price of its latest row (the first of equals, in
/// instrument order); stale rows and delivery prices off the spot are noted.
fn spot(symbol: &str, quotes: &[Quote], as_of: i64, notes: &mut Notes) -> f64 {
    let newest = quotes.iter().fold(&quotes[0], |best, q| {
        if q.created_ms > best.created_ms {
            q
        } else {
            best
        }
    });
    let spot = newest.delivery;
    for q in quotes {
        if as_of - q.created_ms > STALE_MS {
            let age = (as_of - q.created_ms) as f64 / 1000.0;
            notes.push(
                &q.file,
                &q.at.to_string(),
                format!("{age} s older than as_of"),
            );
        }
        if (q.delivery / spot - 1.0).abs() > SPOT_TOLERANCE {
            notes.push(
                &q.file,
                &q.at.key("estimated_delivery_price").to_string(),
                format!(
                    "{} differs from {symbol}'s spot {spot} by more than 0.5%",
                    q.delivery
                ),
            );
        }
    }
    spot
}

/// One asset: spot (D6), rate (D3), knots (D4) and rows (D5); `None` with a notice when no
/// expiry has enough strikes.
fn asset(symbol: &str, quotes: &[Quote], as_of: i64, notes: &mut Notes) -> Option<AssetOut> {
    let spot = spot(symbol, quotes, as_of, notes);
    let rows = expiry_rows(symbol, quotes, notes);
    if rows.is_empty() {
        notes.push(
            "market",
            symbol,
            "not imported: no option expiry with at least 3 usable strikes",
        );
        return None;
    }
    let rate = rate(symbol, &rows, quotes, spot, as_of, notes);
    // §2's k = ln(K / (spot·e^{rate·T})) per strike.
    let smiles: Vec<Vec<(f64, f64)>> = rows
        .iter()
        .map(|r| {
            let t = years(as_of, r.expiry_ms);
            r.strikes
                .iter()
                .map(|&(k, v)| ((k / spot).ln() - rate * t, v))
                .collect()
        })
        .collect();
    let Some(grid) = knots(smiles.iter().flatten().map(|p| p.0)) else {
        notes.push(
            "market",
            symbol,
            "not imported: its strikes span no range of log-moneyness within ±1.5",
        );
        return None;
    };
    debug_assert_eq!(grid.len(), KNOTS);
    Some(AssetOut {
        spot,
        rate,
        vol: GridOut {
            expiries: rows.iter().map(|r| format_rfc3339(r.expiry_ms)).collect(),
            implied_vols: smiles
                .iter()
                .map(|s| grid.iter().map(|&k| read_row(s, k)).collect())
                .collect(),
            log_moneyness: grid,
        },
    })
}

/// D3: least squares of ln(F/spot) = rate·T over one point per option expiry (its mean
/// underlying_price) and one per future (its mark_price); the rate is noted.
fn rate(
    symbol: &str,
    rows: &[ExpiryRow],
    quotes: &[Quote],
    spot: f64,
    as_of: i64,
    notes: &mut Notes,
) -> f64 {
    let mut points: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (years(as_of, r.expiry_ms), (r.forward / spot).ln()))
        .collect();
    points.extend(
        quotes
            .iter()
            .filter(|q| q.kind != InstrumentKind::Option)
            .map(|q| {
                let t = q.expiry_ms.map_or(0.0, |e| years(as_of, e));
                (t, (q.forward / spot).ln())
            }),
    );
    let rate = fit_rate(&points).unwrap_or(0.0);
    notes.push(
        "market",
        &format!("assets.{symbol}.rate"),
        format!(
            "{rate} fitted by least squares over {} points (option expiries and futures)",
            points.len()
        ),
    );
    rate
}

/// An expiry's smile as quoted: strikes ascending with the mean vol of their quotes.
struct ExpiryRow {
    expiry_ms: i64,
    /// Mean underlying_price of the expiry's quotes.
    forward: f64,
    strikes: Vec<(f64, f64)>,
}

/// Per expiry (ascending), per strike (ascending), the mean vol of its call and put (D5);
/// expiries with fewer than 3 strikes are skipped with a notice.
fn expiry_rows(symbol: &str, quotes: &[Quote], notes: &mut Notes) -> Vec<ExpiryRow> {
    let mut by_expiry: BTreeMap<i64, Vec<&Quote>> = BTreeMap::new();
    for q in quotes.iter().filter(|q| q.kind == InstrumentKind::Option) {
        by_expiry
            .entry(q.expiry_ms.unwrap_or(0))
            .or_default()
            .push(q);
    }
    let mut rows = Vec::new();
    for (expiry_ms, mut qs) in by_expiry {
        qs.sort_by(|a, b| a.strike.total_cmp(&b.strike));
        let mut strikes: Vec<(f64, f64, usize)> = Vec::new();
        for q in &qs {
            match strikes.last_mut() {
                Some((k, sum, n)) if *k == q.strike => {
                    *sum += q.vol;
                    *n += 1;
                }
                _ => strikes.push((q.strike, q.vol, 1)),
            }
        }
        let when = format_rfc3339(expiry_ms);
        if strikes.len() < MIN_STRIKES {
            notes.push(
                "market",
                &format!("{symbol} {when}"),
                format!(
                    "expiry skipped: {} usable strike(s), needs 3",
                    strikes.len()
                ),
            );
            continue;
        }
        rows.push(ExpiryRow {
            expiry_ms,
            forward: qs.iter().map(|q| q.forward).sum::<f64>() / qs.len() as f64,
            strikes: strikes
                .into_iter()
                .map(|(k, sum, n)| (k, sum / n as f64))
                .collect(),
        });
    }
    rows
}
