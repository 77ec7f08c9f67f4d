//! One shard's run: the paths of its range through the backend, the path-independent parts
//! of the report, and the shard file that carries both to `merge`.

use std::time::Instant;

use super::ShardIndex;
use super::file::{
    AccountParts, CoinPart, GridLossPart, GridPointPart, HoldingPart, PathTable, RunParts,
    ShardFile, ShardHeader,
};
use crate::book::{Book, Currency};
use crate::engine::{AccountTail, Backend, CountedTails, SimulationPlan};
use crate::error::{Error, Result};
use crate::greeks::Greeks;
use crate::greeks::account_assets;
use crate::margin::{liquidity_addon, short_option_minimum};
use crate::report::{account_greeks, account_stress, repair_report};
use crate::risk;
use crate::run::{self, RunInputs, ScenarioSource, TAIL_ENTRY_BUDGET, limits};
use crate::stress::StressResults;

/// A shard's file and the warnings its run gives (as the whole run would).
#[derive(Debug)]
pub struct ShardRun {
    pub file: ShardFile,
    pub warnings: Vec<String>,
}

/// Runs shard `shard` of the run `inputs` describe on `backend`. Monte Carlo only: the
/// scenarios of hs and fhs are a table of days, not paths (exit 65).
pub fn run_shard(
    inputs: &RunInputs,
    shard: ShardIndex,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ShardRun> {
    let started = Instant::now();
    if inputs.historical.is_some() {
        return Err(Error::input(
            "command line",
            "--shard",
            format!("{}/{}", shard.index, shard.count),
            "shards split Monte Carlo paths; --method hs and fhs run on one machine",
        ));
    }
    let book = inputs.compile()?;
    let named = inputs.scenarios.resolve(&book)?;
    let warnings = inputs.scenarios.skipped_shocks(&book);
    let whole = run::plan(&inputs.config);
    let range = shard.range(whole.paths);
    let inset = run::inset_len(whole.paths, inputs.config.confidence.iter().copied());
    let plan = SimulationPlan {
        paths: range.end - range.start,
        first_path: range.start,
        // K' of the file: K of H1 raised to the report's inset; a shard of fewer paths keeps
        // them all.
        tail_len: whole
            .tail_len
            .max(inset)
            .min((range.end - range.start) as usize),
        ..whole.clone()
    };
    limits::check_tail_memory(
        inputs.config.sizing_source(&inputs.files.config),
        plan.paths,
        plan.tail_len,
        book.accounts
            .len()
            .min(run::accounts_per_pass(plan.tail_len, TAIL_ENTRY_BUDGET)),
        rayon::current_num_threads(),
        limits::available_memory(),
    )?;
    let CountedTails { tails, histograms } = shard_tails(&book, &plan, backend, progress)?;
    let k_margin = risk::tail_rank(whole.paths, inputs.config.margin.confidence);
    let table = path_table(&book, &tails, k_margin, plan.seed, backend)?;
    let (stress, greeks) = run::stress_and_greeks(&book, &inputs.config, backend, named)?;
    let (run_parts, accounts) =
        path_independent_parts(inputs, &book, &whole, &stress, &greeks, inset);
    accounts.iter().try_for_each(check_parts_finite)?;
    let info = backend.info();
    let header = ShardHeader {
        tailrisk_version: env!("CARGO_PKG_VERSION").to_string(),
        inputs_sha256: super::inputs_sha256(inputs),
        seed: plan.seed,
        paths: inputs.config.paths,
        shards: shard.count,
        index: shard.index,
        first_path: range.start,
        end_path: range.end,
        backend: info.backend,
        precision: info.precision,
        device: info.device,
        seconds: started.elapsed().as_secs_f64(),
        run: run_parts,
        accounts,
    };
    Ok(ShardRun {
        file: ShardFile {
            header,
            tails: tails.into_iter().map(|t| t.worst).collect(),
            paths: table,
            histograms,
        },
        warnings,
    })
}

/// Every account's tail and loss histogram over the shard's paths, counted in one tail pass
/// ([`Backend::counted_tails`], as `run --report` counts them), in account groups past the
/// tail budget as the whole run makes them (neither depends on the grouping).
fn shard_tails(
    book: &Book,
    plan: &SimulationPlan,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CountedTails> {
    let passes = run::account_passes(book, plan.tail_len, TAIL_ENTRY_BUDGET);
    let groups = passes.len() as u64;
    let mut all = CountedTails {
        tails: Vec::with_capacity(book.accounts.len()),
        histograms: Vec::with_capacity(book.accounts.len()),
    };
    for (g, sub) in passes.iter().enumerate() {
        let done_before = g as u64 * plan.paths;
        let counted = ScenarioSource::MonteCarlo.counted_tails(backend, sub, plan, &|done| {
            progress((done_before + done) / groups)
        })?;
        all.tails.extend(counted.tails);
        all.histograms.extend(counted.histograms);
    }
    Ok(all)
}

/// The revaluation of [`component_paths`] by the backend's own regeneration: what the
/// whole run's component ES reads for those paths.
fn path_table(
    book: &Book,
    tails: &[AccountTail],
    k_margin: usize,
    seed: u64,
    backend: &dyn Backend,
) -> Result<PathTable> {
    let paths = component_paths(tails, k_margin);
    let revalued = backend.revalue_paths(book, seed, &paths)?;
    Ok(PathTable {
        assets: book.assets.len(),
        instruments: book.instruments.len(),
        log_returns: revalued.states.iter().map(|s| s.log_return).collect(),
        pnl: revalued.pnl,
        paths,
    })
}

/// The paths whose holding losses component ES may need: each account's first
/// min(K, k) entries at the margin confidence (the whole run's k of them lie among its
/// shards' first k), ascending and distinct, shared by the accounts.
fn component_paths(tails: &[AccountTail], k_margin: usize) -> Vec<u32> {
    let mut paths: Vec<u32> = tails
        .iter()
        .flat_map(|t| t.worst.iter().take(k_margin).map(|e| e.path))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
}

/// The report parts no path changes: the run's (horizon, steps, repair, calibration) and
/// each account's stress, Greeks, the ES-independent margin terms and full stress grid,
/// assembled by the report's own functions (the grid as `stress_report` lists it). The merge
/// checks every figure it assembles from them for finiteness, as a whole run does.
fn path_independent_parts(
    inputs: &RunInputs,
    book: &Book,
    whole: &SimulationPlan,
    stress: &StressResults,
    greeks: &[Vec<Greeks>],
    inset_len: usize,
) -> (RunParts, Vec<AccountParts>) {
    let config = &inputs.config;
    let grid = &stress.grid;
    let run_parts = RunParts {
        horizon_days: config.horizon_days,
        steps: config.steps,
        tail_len: whole.tail_len,
        inset_len,
        confidence: config.confidence.clone(),
        margin_confidence: config.margin.confidence,
        mm_ratio: config.margin.mm_ratio,
        apc_buffer: config.margin.apc.and_then(|t| t.buffer()),
        correlation_repair: repair_report(book),
        calibration: config.calibrated.clone(),
        asset_spots: book.assets.iter().map(|a| a.spot).collect(),
        base_values: book.instruments.iter().map(|i| i.base_value).collect(),
        grid: grid
            .iter()
            .map(|p| GridPointPart {
                asset: book.assets[p.asset].symbol.clone(),
                price_move: p.price_move,
                vol_move: p.vol_move,
                extended: p.extended,
                fraction: p.fraction,
            })
            .collect(),
    };
    let mut parts = Vec::with_capacity(book.accounts.len());
    for (i, (account, s)) in book.accounts.iter().zip(&stress.accounts).enumerate() {
        parts.push(AccountParts {
            id: account.id.clone(),
            coin: match account.currency {
                Currency::Usd => None,
                Currency::Coin(c) => Some(CoinPart {
                    asset: c,
                    symbol: book.assets[c].symbol.clone(),
                }),
            },
            file: inputs
                .portfolio
                .accounts
                .get(i)
                .map_or_else(|| "portfolio".into(), |a| a.origin.file.clone()),
            stress: account_stress(book, stress, i),
            greeks: account_greeks(book, greeks, i),
            grid: s.grid_loss,
            scenario: s.worst_named_loss(),
            liquidity: liquidity_addon(book, account, &greeks[i]),
            short_option_minimum: short_option_minimum(book, account),
            holdings: account
                .holdings
                .iter()
                .map(|h| HoldingPart {
                    label: h.label.clone(),
                    instrument: h.instrument,
                    quantity: h.quantity,
                    margin_coin: book.instruments[h.instrument].is_margin_coin(account.currency),
                })
                .collect(),
            // The points `stress_report` lists for the account, in its order.
            grid_points: account_assets(book, account)
                .into_iter()
                .flat_map(|a| {
                    grid.iter()
                        .enumerate()
                        .filter(move |(_, p)| p.asset == a)
                        .map(move |(j, _)| {
                            GridLossPart(j, s.grid_losses[j], s.worst_grid[a] == Some(j))
                        })
                })
                .collect(),
        });
    }
    (run_parts, parts)
}

/// The whole run's non-finite check (run/finite.rs) on the figures no path enters: the
/// merge checks the path figures it makes, each shard these.
fn check_parts_finite(parts: &AccountParts) -> Result<()> {
    let mut named: Vec<(String, f64)> = vec![
        ("the grid loss".into(), parts.grid),
        ("the worst named-scenario loss".into(), parts.scenario),
        ("the liquidity add-on".into(), parts.liquidity),
        (
            "the short-option minimum".into(),
            parts.short_option_minimum,
        ),
    ];
    for p in &parts.grid_points {
        named.push((format!("the loss of grid point {}", p.0), p.1));
    }
    for sc in &parts.stress.scenarios {
        named.push((format!("the loss of scenario {}", sc.name), sc.loss));
    }
    for (asset, g) in &parts.greeks {
        for (name, v) in [
            ("delta", g.delta_usd),
            ("gamma", g.gamma_usd),
            ("vega", g.vega_usd),
            ("theta", g.theta_usd),
        ] {
            named.push((format!("the {name} on {asset}"), v));
        }
    }
    crate::run::first_non_finite(&parts.file, &parts.id, named)
}
