//! `tailrisk merge`: N shard files → the report of the whole run (SPEC §14, H2–H8).
//!
//! Checks, in order: each file reads as a shard (checksum, format version, structure: else
//! 65 naming it, H5); each agrees with the first file given on the tailrisk version, the
//! inputs' SHA-256, seed, P, N, backend and precision (else 65 naming the file that differs,
//! H3); every index 0..N is there once (a duplicate is 65 naming both files, a missing
//! index 65 naming it, H6). The shards are then taken in index order, so the result does
//! not depend on the order of the files (H8).

use std::collections::BTreeMap;

use super::ShardIndex;
use super::file::{AccountParts, Damaged, ShardFile, ShardHeader, decode};
use crate::engine::{AccountTail, TailEntry};
use crate::error::{Error, Result};
use crate::margin;
use crate::model::aggregate::holding_loss;
use crate::model::distribution::LossHistogram;
use crate::report::html::AccountExtras;
use crate::report::{
    AccountReport, ComponentReport, MarginCurrency, Report, RunInfo, margin_report, measure_report,
};
use crate::risk::{self, Measure};
use crate::run::{self, AccountDistribution};

/// A shard file read, with the name it was given by.
#[derive(Clone, Debug)]
pub struct NamedShard {
    pub file: String,
    pub shard: ShardFile,
}

/// Reads the bytes of shard file `file`: any damage is an input error naming it.
pub fn read_shard(file: &str, bytes: &[u8]) -> Result<NamedShard> {
    let shard = decode(bytes)
        .and_then(|s| check_structure(&s).map(|()| s))
        .map_err(|Damaged(why)| {
            Error::input(
                file,
                "(shard file)",
                "(contents)",
                format!("damaged shard file: {why}"),
            )
        })?;
    Ok(NamedShard {
        file: file.to_string(),
        shard,
    })
}

/// The report of the whole run from its shards, in any order.
pub fn merge(shards: Vec<NamedShard>) -> Result<Report> {
    Ok(merge_with_extras(shards)?.report)
}

/// A merged run: its report and, per account, what its HTML page shows beyond the report
/// (the loss distribution and the full stress grid): `run --report`'s [`AccountExtras`].
#[derive(Clone, Debug)]
pub struct Merged {
    pub report: Report,
    pub extras: Vec<AccountExtras>,
}

/// [`merge`], with each account's page extras: the histogram is the sum of the shards'
/// (every loss counted once, by the project's fixed bins), the inset the worst
/// [`run::inset_len`] losses of the union of the shards' tails in the tail order.
pub fn merge_with_extras(mut shards: Vec<NamedShard>) -> Result<Merged> {
    let Some(first) = shards.first() else {
        return Err(Error::input(
            "command line",
            "merge",
            "",
            "needs shard files",
        ));
    };
    for other in &shards[1..] {
        check_same_run(first, other)?;
    }
    check_every_index_once(&shards)?;
    shards.sort_by_key(|s| s.shard.header.index);
    let lead = &shards[0].shard.header;
    let (accounts, extras): (Vec<AccountReport>, Vec<AccountExtras>) = lead
        .accounts
        .iter()
        .enumerate()
        .map(|(a, parts)| merge_account(&shards, a, parts))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let mut devices: Vec<&str> = Vec::new();
    for s in &shards {
        if !devices.contains(&s.shard.header.device.as_str()) {
            devices.push(&s.shard.header.device);
        }
    }
    let run = &lead.run;
    let report = Report {
        run: RunInfo {
            method: "mc",
            // Shards refuse --variance-reduction is.
            variance_reduction: None,
            paths: lead.paths,
            seed: lead.seed,
            horizon_days: run.horizon_days,
            steps: run.steps,
            backend: lead.backend,
            device: devices.join(" + "),
            precision: lead.precision,
            version: lead.tailrisk_version.clone(),
            seconds: shards.iter().map(|s| s.shard.header.seconds).sum(),
            correlation_repair: run.correlation_repair.clone(),
            calibration: run.calibration.clone(),
        },
        accounts,
    };
    Ok(Merged { report, extras })
}

/// One account's report and page extras: its tail is the best `tail_len` of the shards'
/// tails; VaR, ES, intervals and component ES are computed from it exactly as the whole run
/// computes them.
fn merge_account(
    shards: &[NamedShard],
    a: usize,
    parts: &AccountParts,
) -> Result<(AccountReport, AccountExtras)> {
    let lead = &shards[0].shard.header;
    let run = &lead.run;
    let mut entries: Vec<(TailEntry, usize)> = shards
        .iter()
        .enumerate()
        .flat_map(|(s, shard)| shard.shard.tails[a].iter().map(move |&e| (e, s)))
        .collect();
    entries.sort_unstable_by(|x, y| TailEntry::worse_first(&x.0, &y.0));
    let worst_losses = entries
        .iter()
        .take(run.inset_len)
        .map(|e| e.0.loss)
        .collect();
    entries.truncate(run.tail_len);
    let tail = AccountTail {
        worst: entries.iter().map(|e| e.0).collect(),
    };
    let measures: Vec<Measure> = run
        .confidence
        .iter()
        .map(|&c| risk::measure(&tail, lead.paths, c))
        .collect();
    let margin_es = risk::measure(&tail, lead.paths, run.margin_confidence);
    // Σ over the k tail paths in tail order, holding by holding, then / k: the whole run's
    // component ES (run.rs), on the P&L the owning shard stored.
    let mut sums = vec![0.0; parts.holdings.len()];
    for &(entry, s) in &entries[..margin_es.k] {
        let shard = &shards[s];
        let Some((log_returns, pnl)) = shard.shard.paths.row(entry.path) else {
            return Err(damaged(
                shard,
                format!("path {} has no revaluation", entry.path),
            ));
        };
        let coin = parts
            .coin
            .as_ref()
            .map(|c| (run.asset_spots[c.asset], log_returns[c.asset]));
        for (sum, h) in sums.iter_mut().zip(&parts.holdings) {
            let base_value = run.base_values[h.instrument];
            if !h.margin_coin {
                *sum += holding_loss(h.quantity, pnl[h.instrument], base_value, coin);
            }
        }
    }
    let components: Vec<f64> = sums.iter().map(|s| s / margin_es.k as f64).collect();
    check_finite(parts, &measures, &margin_es, &components)?;
    let m = margin::margin(
        margin_es.es,
        parts.grid,
        parts.scenario,
        parts.liquidity,
        parts.short_option_minimum,
        run.mm_ratio,
    )
    .with_apc_buffer(run.apc_buffer, run.mm_ratio);
    let extras = page_extras(shards, a, parts, worst_losses, m.binding);
    let report = AccountReport {
        id: parts.id.clone(),
        currency: match &parts.coin {
            None => MarginCurrency::Usd,
            Some(c) => MarginCurrency::Coin(c.symbol.clone()),
        },
        measures: measures.iter().map(measure_report).collect(),
        stress: Some(parts.stress.clone()),
        margin: Some(margin_report(&m)),
        greeks: Some(parts.greeks.clone()),
        components: parts
            .holdings
            .iter()
            .zip(components)
            .map(|(h, es)| ComponentReport {
                instrument: h.label.clone(),
                es,
            })
            .collect(),
    };
    Ok((report, extras))
}

/// What the page shows of account `a` beyond its report: the sum of the shards' histograms,
/// the merged inset losses, and its stress grid with the cell that drives the merged margin.
fn page_extras(
    shards: &[NamedShard],
    a: usize,
    parts: &AccountParts,
    worst_losses: Vec<f64>,
    binding: margin::Binding,
) -> AccountExtras {
    let mut histogram = LossHistogram::new();
    shards
        .iter()
        .for_each(|s| histogram.merge(&s.shard.histograms[a]));
    let grid = &shards[0].shard.header.run.grid;
    let grid_binds = binding == margin::Binding::Grid;
    AccountExtras {
        distribution: Some(AccountDistribution {
            histogram,
            worst_losses,
        }),
        grid: parts
            .grid_points
            .iter()
            // Every index is in the grid: `check_structure` refused the file otherwise.
            .filter_map(|p| p.report(grid, grid_binds))
            .collect(),
    }
}

/// The whole run's non-finite check (run/finite.rs) on the figures the merge makes; the
/// path-independent ones were checked by each shard.
fn check_finite(
    parts: &AccountParts,
    measures: &[Measure],
    margin_es: &Measure,
    components: &[f64],
) -> Result<()> {
    let mut named: Vec<(String, f64)> = Vec::new();
    for m in measures.iter().chain([margin_es]) {
        let at = m.confidence * 100.0;
        named.push((format!("VaR at {at}%"), m.var));
        named.push((format!("ES at {at}%"), m.es));
        named.push((
            format!("the VaR interval at {at}%"),
            m.var_ci[0] + m.var_ci[1],
        ));
        named.push((format!("the ES interval at {at}%"), m.es_ci[0] + m.es_ci[1]));
    }
    for (h, &c) in parts.holdings.iter().zip(components) {
        named.push((format!("the component ES of {}", h.label), c));
    }
    crate::run::first_non_finite(&parts.file, &parts.id, named)
}

/// H3: what must agree between two shards of one run, in the order it is checked.
fn check_same_run(first: &NamedShard, other: &NamedShard) -> Result<()> {
    let (a, b) = (&first.shard.header, &other.shard.header);
    let fields: [(&str, String, String); 7] = [
        (
            "tailrisk_version",
            a.tailrisk_version.clone(),
            b.tailrisk_version.clone(),
        ),
        ("seed", a.seed.to_string(), b.seed.to_string()),
        ("paths", a.paths.to_string(), b.paths.to_string()),
        ("shards", a.shards.to_string(), b.shards.to_string()),
        ("backend", a.backend.to_string(), b.backend.to_string()),
        (
            "precision",
            a.precision.to_string(),
            b.precision.to_string(),
        ),
        // Last: it covers seed and paths too, which are named above when they differ.
        (
            "inputs_sha256",
            a.inputs_sha256.clone(),
            b.inputs_sha256.clone(),
        ),
    ];
    match fields.into_iter().find(|(_, x, y)| x != y) {
        None => Ok(()),
        Some((field, expected, got)) => Err(Error::input(
            &other.file,
            field,
            got,
            format!(
                "not a shard of the same run as {} ({field} {expected}): shards merge only with \
                 the same inputs (market, book, config, scenarios, history, flags), seed, \
                 paths, shard count, backend and precision",
                first.file
            ),
        )),
    }
}

/// H6: each index 0..N once.
fn check_every_index_once(shards: &[NamedShard]) -> Result<()> {
    let n = shards[0].shard.header.shards;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for s in shards {
        let i = s.shard.header.index;
        if let Some(earlier) = seen.insert(i, &s.file) {
            return Err(Error::input(
                &s.file,
                "index",
                format!("{i}/{n}"),
                format!(
                    "shard {i}/{n} is given twice: in {earlier} and in {}",
                    s.file
                ),
            ));
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::input(
        "command line",
        "shard files",
        missing.join(", "),
        format!(
            "shard {} of the run is missing: merge needs all {n}",
            missing.join(", ")
        ),
    ))
}

fn damaged(shard: &NamedShard, why: String) -> Error {
    Error::input(
        &shard.file,
        "(shard file)",
        "(contents)",
        format!("damaged shard file: {why}"),
    )
}

/// H5: a header and bulk that fit each other and the run they describe.
fn check_structure(s: &ShardFile) -> Result<(), Damaged> {
    let h: &ShardHeader = &s.header;
    let bad = |why: String| Err(Damaged(why));
    if h.shards == 0 || h.index >= h.shards || h.shards > h.paths {
        return bad(format!(
            "shard {}/{} of {} paths",
            h.index, h.shards, h.paths
        ));
    }
    let range = ShardIndex {
        index: h.index,
        count: h.shards,
    }
    .range(h.paths);
    if (h.first_path, h.end_path) != (range.start, range.end) {
        return bad(format!(
            "paths {}..{} for shard {}/{}",
            h.first_path, h.end_path, h.index, h.shards
        ));
    }
    if !(h.seconds.is_finite() && h.seconds >= 0.0) {
        return bad(format!("compute seconds {}", h.seconds));
    }
    let mut levels = h.run.confidence.clone();
    levels.push(h.run.margin_confidence);
    if h.run.tail_len != risk::tail_len(h.paths, &levels) {
        return bad(format!("tail length {} for its levels", h.run.tail_len));
    }
    if h.run.inset_len != run::inset_len(h.paths, h.run.confidence.iter().copied()) {
        return bad(format!("inset length {} for its levels", h.run.inset_len));
    }
    let n_shard = range.end - range.start;
    let k_expected = h.run.tail_len.max(h.run.inset_len).min(n_shard as usize);
    let in_range = |p: u32| range.contains(&u64::from(p));
    for (a, tail) in s.tails.iter().enumerate() {
        let sorted = tail
            .windows(2)
            .all(|w| TailEntry::worse_first(&w[0], &w[1]).is_lt());
        if tail.len() != k_expected || !sorted || !tail.iter().all(|e| in_range(e.path)) {
            return bad(format!(
                "the tail of account {a} is not its {k_expected} largest losses"
            ));
        }
    }
    for (a, histogram) in s.histograms.iter().enumerate() {
        if histogram.total() != n_shard {
            return bad(format!(
                "the histogram of account {a} counts {} losses, not its {n_shard} paths",
                histogram.total()
            ));
        }
    }
    let t = &s.paths;
    let ascending = t.paths.windows(2).all(|w| w[0] < w[1]);
    if t.assets != h.run.asset_spots.len()
        || t.instruments != h.run.base_values.len()
        || !ascending
        || !t.paths.iter().all(|&p| in_range(p))
    {
        return bad("its path table does not fit the book".into());
    }
    for account in &h.accounts {
        let fits = account
            .holdings
            .iter()
            .all(|x| x.instrument < t.instruments)
            && account.coin.as_ref().is_none_or(|c| c.asset < t.assets)
            && account.grid_points.iter().all(|p| p.0 < h.run.grid.len());
        if !fits {
            return bad(format!("account {} refers past the book", account.id));
        }
    }
    Ok(())
}
