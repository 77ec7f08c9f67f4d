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
use crate::greeks::account_assets;
use crate::risk::{self, Measure};
use crate::run::{
    self, AccountFigures, Evaluation, RunInputs, ScenarioSource, Simulation, TAIL_ENTRY_BUDGET,
    check_figures, limits, margin_figures,
};

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
    let levels = inputs.config.confidence.iter().copied();
    let inset = run::inset_len(whole.paths, levels.chain([inputs.config.margin.confidence]));
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
        &inputs.files.config,
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
    let zeros = vec![0.0; book.accounts.len()];
    let figures = margin_figures(&book, &zeros, &inputs.config, backend, named)?;
    let ev = placeholder_evaluation(inputs, book, whole, figures)?;
    let (run_parts, accounts) = path_independent_parts(inputs, &ev, inset, backend)?;
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

/// An evaluation of the shard's book whose path figures are placeholders (zeros): what the
/// report code assembles the path-independent parts from; its non-finite check runs on them
/// as the whole run's would.
fn placeholder_evaluation(
    inputs: &RunInputs,
    book: Book,
    whole: SimulationPlan,
    figures: run::MarginFigures,
) -> Result<Evaluation> {
    let config = &inputs.config;
    let placeholder = |confidence| Measure {
        confidence,
        var: 0.0,
        es: 0.0,
        var_ci: [0.0; 2],
        es_ci: [0.0; 2],
        k: 1,
    };
    let accounts = book
        .accounts
        .iter()
        .map(|a| AccountFigures {
            measures: config.confidence.iter().map(|&c| placeholder(c)).collect(),
            margin_es: placeholder(config.margin.confidence),
            components: vec![0.0; a.holdings.len()],
            tail: AccountTail::default(),
        })
        .collect();
    let ev = Evaluation {
        sim: Simulation {
            book,
            plan: whole,
            source: ScenarioSource::MonteCarlo,
            accounts,
        },
        figures,
        seconds: 0.0,
        warnings: Vec::new(),
    };
    check_figures(&ev.sim, &ev.figures, &inputs.portfolio)?;
    Ok(ev)
}

/// The report parts no path changes: the run's (horizon, steps, repair, calibration) and
/// each account's stress, Greeks, margin inputs and full stress grid, assembled by the
/// report code itself from a [`placeholder_evaluation`] (the grid as `stress_report` lists
/// it).
fn path_independent_parts(
    inputs: &RunInputs,
    ev: &Evaluation,
    inset_len: usize,
    backend: &dyn Backend,
) -> Result<(RunParts, Vec<AccountParts>)> {
    let config = &inputs.config;
    let report = crate::report::report(ev, config, backend);
    let book = &ev.sim.book;
    let grid = &ev.figures.stress.grid;
    let run_parts = RunParts {
        horizon_days: config.horizon_days,
        steps: config.steps,
        tail_len: ev.sim.plan.tail_len,
        inset_len,
        confidence: config.confidence.clone(),
        margin_confidence: config.margin.confidence,
        mm_ratio: config.margin.mm_ratio,
        apc_buffer: config.margin.apc.and_then(|t| t.buffer()),
        correlation_repair: report.run.correlation_repair,
        calibration: report.run.calibration,
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
    for (i, (((account, r), m), s)) in book
        .accounts
        .iter()
        .zip(report.accounts)
        .zip(&ev.figures.margins)
        .zip(&ev.figures.stress.accounts)
        .enumerate()
    {
        let (Some(stress), Some(greeks)) = (r.stress, r.greeks) else {
            // `report::report` fills both for every account of a run.
            return Err(Error::Verification(format!(
                "internal: no stress or Greeks in the report of account {}",
                account.id
            )));
        };
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
                .map_or_else(|| "portfolio".into(), |a| a.file()),
            stress,
            greeks,
            grid: m.grid,
            scenario: m.scenario,
            liquidity: m.liquidity,
            short_option_minimum: m.short_option_minimum,
            holdings: account
                .holdings
                .iter()
                .map(|h| HoldingPart {
                    label: h.label.clone(),
                    instrument: h.instrument,
                    quantity: h.quantity,
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
    Ok((run_parts, parts))
}
