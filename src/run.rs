//! A whole run evaluated: compile the book, simulate on a backend, turn tails into VaR, ES,
//! components, stress, Greeks and margin, and check that every figure is finite
//! (`run/finite.rs`); [`crate::report`] assembles the report from the evaluation.

pub mod distribution;
mod finite;
pub mod importance;
pub mod limits;
mod source;

pub use distribution::{AccountDistribution, inset_len};
pub use finite::{check_figures, first_non_finite};
pub use source::{HistoricalScenarios, ScenarioSource};

use std::borrow::Cow;
use std::time::Instant;

use crate::book::{Book, SourceFiles};
use crate::config::RunConfig;
use crate::engine::{AccountTail, Backend, SimulationPlan};
use crate::error::Result;
use crate::greeks::{Greeks, account_greeks, instrument_greeks};
use crate::margin::{self, Margin, liquidity_addon, short_option_minimum};
use crate::market::Market;
use crate::model::aggregate::holding_losses;
use crate::portfolio::Portfolio;
use crate::report::Report;
use crate::risk::{self, Measure};
use crate::stress::{ResolvedScenario, ScenarioSet, StressResults, run_stress};

/// Everything a run reads.
#[derive(Clone, Debug)]
pub struct RunInputs {
    pub market: Market,
    pub portfolio: Portfolio,
    pub config: RunConfig,
    pub files: SourceFiles,
    /// The named stress scenarios: `--scenarios` or the built-in set.
    pub scenarios: ScenarioSet,
    /// With `--method hs|fhs`: the historical days that replace the Monte Carlo paths.
    pub historical: Option<HistoricalScenarios>,
}

impl RunInputs {
    /// Compiles the book these inputs describe.
    pub fn compile(&self) -> Result<Book> {
        Book::compile(&self.market, &self.portfolio, &self.config, &self.files)
    }

    /// The scenarios of a run of `book`: Monte Carlo, or the table of the historical days.
    pub fn source(&self, book: &Book) -> Result<ScenarioSource> {
        match &self.historical {
            None => Ok(ScenarioSource::MonteCarlo),
            Some(h) => Ok(ScenarioSource::Table {
                method: h.method,
                table: std::sync::Arc::new(h.table(book, self.config.horizon_days)?),
            }),
        }
    }
}

/// The figures of one account before they become a report.
#[derive(Clone, Debug)]
pub struct AccountFigures {
    /// One per `config.confidence`.
    pub measures: Vec<Measure>,
    /// ES at the margin confidence.
    pub margin_es: Measure,
    /// Component ES per holding at the margin confidence (sums to `margin_es.es`).
    pub components: Vec<f64>,
    /// The ES tail at the margin confidence: its k largest losses (longer tails needed for
    /// the intervals are dropped once the figures are made).
    pub tail: AccountTail,
}

/// The simulation part of a run, reusable by stress, margin and what-if.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub book: Book,
    /// For a table, `paths` is its number of rows.
    pub plan: SimulationPlan,
    pub source: ScenarioSource,
    pub accounts: Vec<AccountFigures>,
}

/// The simulation plan of a configuration.
pub fn plan(config: &RunConfig) -> SimulationPlan {
    plan_over(config, config.paths)
}

/// The plan of a configuration over `paths` scenarios (a table's rows).
fn plan_over(config: &RunConfig, paths: u64) -> SimulationPlan {
    let mut levels = config.confidence.clone();
    levels.push(config.margin.confidence);
    SimulationPlan {
        paths,
        first_path: 0,
        seed: config.seed,
        tail_len: risk::tail_len(paths, &levels),
        chunk_paths: config.chunk_paths,
    }
}

/// Tail candidates one pass may hold over all its accounts (16 bytes each, and the CPU's
/// buffers hold up to twice the tail before cutting back): 2²³ entries, 128 MiB.
pub const TAIL_ENTRY_BUDGET: usize = 1 << 23;

/// Simulates every account of a compiled book and computes VaR, ES and components.
///
/// Memory does not grow with the book or the path count beyond [`TAIL_ENTRY_BUDGET`]: when
/// accounts × tail length would exceed it, accounts are simulated in groups, each group a
/// full pass over the same paths (an account's losses do not depend on the other accounts,
/// so the figures are identical), and each group keeps only its accounts' ES tails.
pub fn simulate(
    book: Book,
    config: &RunConfig,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Simulation> {
    simulate_within(book, config, backend, progress, TAIL_ENTRY_BUDGET)
}

/// The passes a simulation makes over the paths: the whole book when all its accounts'
/// tails fit `tail_entry_budget` (each account holds up to 2·`tail_len` candidates), else
/// the book split into account groups, each a full pass over the same paths.
pub fn account_passes(
    book: &Book,
    tail_len: usize,
    tail_entry_budget: usize,
) -> Vec<Cow<'_, Book>> {
    let per_group = accounts_per_pass(tail_len, tail_entry_budget);
    if book.accounts.len() <= per_group {
        return vec![Cow::Borrowed(book)];
    }
    let without_accounts = Book {
        accounts: Vec::new(),
        ..book.clone()
    };
    book.accounts
        .chunks(per_group)
        .map(|group| {
            Cow::Owned(Book {
                accounts: group.to_vec(),
                ..without_accounts.clone()
            })
        })
        .collect()
}

/// Accounts one pass simulates together: as many as `tail_entry_budget` holds at up to
/// 2·`tail_len` candidates each, at least one.
pub fn accounts_per_pass(tail_len: usize, tail_entry_budget: usize) -> usize {
    (tail_entry_budget / (2 * tail_len.max(1))).max(1)
}

/// [`simulate`] with an explicit budget of tail entries per pass.
pub fn simulate_within(
    book: Book,
    config: &RunConfig,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
    tail_entry_budget: usize,
) -> Result<Simulation> {
    let source = ScenarioSource::MonteCarlo;
    simulate_source(book, config, source, backend, progress, tail_entry_budget)
}

/// [`simulate_within`] over the scenarios of `source`: Monte Carlo paths, or the rows of a
/// table (the figures are those of SPEC §4 over its n rows).
pub fn simulate_source(
    book: Book,
    config: &RunConfig,
    source: ScenarioSource,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
    tail_entry_budget: usize,
) -> Result<Simulation> {
    let plan = plan_over(config, source.scenarios(config.paths));
    let passes = Passes {
        plan,
        tail_entry_budget,
        counting: false,
    };
    Ok(simulate_passes(book, config, source, backend, progress, passes)?.0)
}

/// How [`simulate_passes`] runs: its plan, the tail budget per pass, and whether the tail
/// pass counts each account's loss histogram and keeps its worst `plan.tail_len` losses.
struct Passes {
    plan: SimulationPlan,
    tail_entry_budget: usize,
    counting: bool,
}

/// [`simulate_source`], and with `passes.counting` each account's loss distribution (its
/// histogram and worst `passes.plan.tail_len` losses; empty otherwise).
fn simulate_passes(
    book: Book,
    config: &RunConfig,
    source: ScenarioSource,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
    passes: Passes,
) -> Result<(Simulation, Vec<AccountDistribution>)> {
    let Passes {
        plan,
        tail_entry_budget,
        counting,
    } = passes;
    let mut distributions = Vec::new();
    let passes = account_passes(&book, plan.tail_len, tail_entry_budget);
    let groups = passes.len() as u64;
    let mut accounts = Vec::with_capacity(book.accounts.len());
    for (g, sub) in passes.iter().enumerate() {
        let done_before = g as u64 * plan.paths;
        let report = &|done| progress((done_before + done) / groups);
        let tails = if counting {
            let counted = source.counted_tails(backend, sub, &plan, report)?;
            distributions.extend(AccountDistribution::of(&counted));
            counted.tails
        } else {
            source.tails(backend, sub, &plan, report)?
        };
        let mut figures: Vec<AccountFigures> = tails
            .into_iter()
            .map(|tail| AccountFigures {
                measures: config
                    .confidence
                    .iter()
                    .map(|&c| risk::measure(&tail, plan.paths, c))
                    .collect(),
                margin_es: risk::measure(&tail, plan.paths, config.margin.confidence),
                components: Vec::new(),
                tail,
            })
            .collect();
        component_es(sub, &plan, &source, backend, &mut figures)?;
        for f in &mut figures {
            f.tail.worst.truncate(f.margin_es.k);
            f.tail.worst.shrink_to_fit();
        }
        accounts.extend(figures);
    }
    let sim = Simulation {
        book,
        plan,
        source,
        accounts,
    };
    Ok((sim, distributions))
}

/// Component ES at the margin confidence: the mean loss of each holding over the account's
/// k tail paths, regenerated alone (counter-based draws; a table's rows revalued again).
fn component_es(
    book: &Book,
    plan: &SimulationPlan,
    source: &ScenarioSource,
    backend: &dyn Backend,
    accounts: &mut [AccountFigures],
) -> Result<()> {
    let mut paths: Vec<u32> = accounts
        .iter()
        .flat_map(|a| a.tail.worst[..a.margin_es.k].iter().map(|e| e.path))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let revalued = source.revalue(backend, book, plan, &paths)?;
    let (n_assets, n_instr) = (book.assets.len(), book.instruments.len());
    for (account, figures) in book.accounts.iter().zip(accounts.iter_mut()) {
        let mut sums = vec![0.0; account.holdings.len()];
        let mut parts = vec![0.0; account.holdings.len()];
        let k = figures.margin_es.k;
        for entry in &figures.tail.worst[..k] {
            let row = paths.binary_search(&entry.path).unwrap_or(0);
            let states = &revalued.states[row * n_assets..(row + 1) * n_assets];
            let pnl = &revalued.pnl[row * n_instr..(row + 1) * n_instr];
            holding_losses(book, account, pnl, states, &mut parts);
            sums.iter_mut().zip(&parts).for_each(|(s, p)| *s += p);
        }
        figures.components = sums.into_iter().map(|s| s / k as f64).collect();
    }
    Ok(())
}

/// Stress, Greeks and margin of every account of a book (everything of a run beyond VaR/ES).
#[derive(Clone, Debug)]
pub struct MarginFigures {
    pub stress: StressResults,
    /// Per account, per asset (every asset, book order), in the account's margin currency.
    pub greeks: Vec<Vec<Greeks>>,
    pub margins: Vec<Margin>,
}

/// Everything a run computes.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub sim: Simulation,
    pub figures: MarginFigures,
    /// Wall time of the whole evaluation.
    pub seconds: f64,
    /// What the caller should tell the user (shocks on unsimulated assets skipped).
    pub warnings: Vec<String>,
}

/// Runs the stress scenarios through the backend's revalue stage, computes the Greeks and
/// combines them with the ES at the margin confidence (`margin_es`, one per account) into
/// margin (SPEC §5–§7).
pub fn margin_figures(
    book: &Book,
    margin_es: &[f64],
    config: &RunConfig,
    backend: &dyn Backend,
    named: Vec<ResolvedScenario>,
) -> Result<MarginFigures> {
    let (stress, greeks) = stress_and_greeks(book, config, backend, named)?;
    let mut margins = Vec::with_capacity(book.accounts.len());
    for (((account, s), &es), g) in book
        .accounts
        .iter()
        .zip(&stress.accounts)
        .zip(margin_es)
        .zip(&greeks)
    {
        margins.push(margin::margin(
            es,
            s.grid_loss,
            s.worst_named_loss(),
            liquidity_addon(book, account, g),
            short_option_minimum(book, account),
            config.margin.mm_ratio,
        ));
    }
    // The APC buffer tool scales the whole IM (SPEC §9, settled detail 6).
    let buffer = config.margin.apc.and_then(|t| t.buffer());
    for m in &mut margins {
        *m = m.with_apc_buffer(buffer, config.margin.mm_ratio);
    }
    Ok(MarginFigures {
        stress,
        greeks,
        margins,
    })
}

/// The figures of a run no path enters: the stress scenarios through the backend's revalue
/// stage, and each account's Greeks per asset (every asset, book order, in its margin
/// currency).
pub fn stress_and_greeks(
    book: &Book,
    config: &RunConfig,
    backend: &dyn Backend,
    named: Vec<ResolvedScenario>,
) -> Result<(StressResults, Vec<Vec<Greeks>>)> {
    let stress = run_stress(book, backend, &config.stress, named)?;
    let unit = instrument_greeks(book);
    let greeks = book
        .accounts
        .iter()
        .map(|account| account_greeks(book, account, &unit))
        .collect();
    Ok((stress, greeks))
}

/// Compiles the book, resolves the named scenarios (a bad scenarios file fails before the
/// simulation), simulates, and computes stress, Greeks and margin; a figure that is not a
/// finite number is an error ([`check_figures`]).
pub fn evaluate(
    inputs: &RunInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Evaluation> {
    Ok(evaluate_counting(inputs, || inputs.compile(), backend, progress, false)?.0)
}

/// [`evaluate`] of `book`, already compiled from `inputs` (the service keeps compiled books
/// warm, `crate::book::WarmBook`).
pub fn evaluate_book(
    inputs: &RunInputs,
    book: Book,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Evaluation> {
    Ok(evaluate_counting(inputs, || Ok(book), backend, progress, false)?.0)
}

/// [`evaluate`] for an HTML report: the same figures, bit for bit, and each account's loss
/// distribution from the same tail pass (its histogram, and its worst [`inset_len`] losses).
pub fn evaluate_with_distributions(
    inputs: &RunInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Evaluation, Vec<AccountDistribution>)> {
    evaluate_counting(inputs, || inputs.compile(), backend, progress, true)
}

/// The evaluation of the book `compile` gives (timed from when `compile` is called: a
/// book compiled earlier is not in the seconds).
fn evaluate_counting(
    inputs: &RunInputs,
    compile: impl FnOnce() -> Result<Book>,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
    counting: bool,
) -> Result<(Evaluation, Vec<AccountDistribution>)> {
    let started = Instant::now();
    let book = compile()?;
    let named = inputs.scenarios.resolve(&book)?;
    let warnings = inputs.scenarios.skipped_shocks(&book);
    let source = inputs.source(&book)?;
    let mut plan = plan_over(&inputs.config, source.scenarios(inputs.config.paths));
    // R4: k at the highest reported confidence, whose VaR and ES the inset marks (not the
    // margin confidence, which the page does not mark there).
    let inset = inset_len(plan.paths, inputs.config.confidence.iter().copied());
    if counting {
        plan.tail_len = plan.tail_len.max(inset);
    }
    let tail_len = plan.tail_len;
    limits::check_tail_memory(
        inputs.config.sizing_source(&inputs.files.config),
        inputs.config.paths,
        tail_len,
        book.accounts
            .len()
            .min(accounts_per_pass(tail_len, TAIL_ENTRY_BUDGET)),
        rayon::current_num_threads(),
        limits::available_memory(),
    )?;
    let passes = Passes {
        plan,
        tail_entry_budget: TAIL_ENTRY_BUDGET,
        counting,
    };
    let (sim, mut distributions) = if inputs.config.importance_sampling {
        importance_sampled(inputs, book, backend, progress, counting)?
    } else {
        simulate_passes(book, &inputs.config, source, backend, progress, passes)?
    };
    for d in &mut distributions {
        d.worst_losses.truncate(inset);
    }
    let es: Vec<f64> = sim.accounts.iter().map(|a| a.margin_es.es).collect();
    let figures = margin_figures(&sim.book, &es, &inputs.config, backend, named)?;
    check_figures(&sim, &figures, &inputs.portfolio)?;
    let ev = Evaluation {
        sim,
        figures,
        seconds: started.elapsed().as_secs_f64(),
        warnings,
    };
    Ok((ev, distributions))
}

/// The usage error of `--variance-reduction is` with `--method hs|fhs` (exit 2).
pub fn importance_not_historical() -> crate::error::Error {
    crate::error::Error::Usage(
        "--variance-reduction is applies to Monte Carlo paths, not to --method hs|fhs".into(),
    )
}

/// [`importance::simulate_importance`] for a run: Monte Carlo only, and no loss histogram
/// (an importance-sampled histogram would need its weights).
fn importance_sampled(
    inputs: &RunInputs,
    book: Book,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
    counting: bool,
) -> Result<(Simulation, Vec<AccountDistribution>)> {
    if inputs.historical.is_some() {
        return Err(importance_not_historical());
    }
    if counting {
        return Err(crate::error::Error::Usage(
            "--variance-reduction is does not write HTML reports (--report) in this version".into(),
        ));
    }
    let config = &inputs.config;
    let sim = importance::simulate_importance(
        book,
        config,
        config.sizing_source(&inputs.files.config),
        backend,
        progress,
    )?;
    Ok((sim, Vec::new()))
}

/// Runs the whole pipeline and builds the report.
pub fn run(
    inputs: &RunInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    let ev = evaluate(inputs, backend, progress)?;
    Ok(crate::report::report(&ev, &inputs.config, backend))
}
