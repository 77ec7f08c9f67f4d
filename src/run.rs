//! A whole run: compile the book, simulate on a backend, turn tails into the report.

use std::time::Instant;

use crate::book::{Book, Currency, SourceFiles};
use crate::config::RunConfig;
use crate::engine::cpu::aggregate::holding_losses;
use crate::engine::{AccountTail, Backend, SimulationPlan};
use crate::error::Result;
use crate::market::Market;
use crate::portfolio::Portfolio;
use crate::report::{
    AccountReport, ComponentReport, MeasureReport, RepairReport, Report, RunInfo,
};
use crate::risk::{self, Measure};

/// Everything a run reads.
#[derive(Clone, Debug)]
pub struct RunInputs {
    pub market: Market,
    pub portfolio: Portfolio,
    pub config: RunConfig,
    pub files: SourceFiles,
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
    pub tail: AccountTail,
}

/// The simulation part of a run, reusable by stress, margin and what-if.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub book: Book,
    pub plan: SimulationPlan,
    pub accounts: Vec<AccountFigures>,
}

/// The simulation plan of a configuration.
pub fn plan(config: &RunConfig) -> SimulationPlan {
    let mut levels = config.confidence.clone();
    levels.push(config.margin.confidence);
    SimulationPlan {
        paths: config.paths,
        seed: config.seed,
        tail_len: risk::tail_len(config.paths, &levels),
        chunk_paths: config.chunk_paths,
    }
}

/// Simulates every account of a compiled book and computes VaR, ES and components.
pub fn simulate(
    book: Book,
    config: &RunConfig,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Simulation> {
    let plan = plan(config);
    let tails = backend.tails(&book, &plan, progress)?;
    let mut accounts: Vec<AccountFigures> = tails
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
    component_es(&book, &plan, backend, &mut accounts)?;
    Ok(Simulation {
        book,
        plan,
        accounts,
    })
}

/// Component ES at the margin confidence: the mean loss of each holding over the account's
/// k tail paths, regenerated alone (counter-based draws).
fn component_es(
    book: &Book,
    plan: &SimulationPlan,
    backend: &dyn Backend,
    accounts: &mut [AccountFigures],
) -> Result<()> {
    let mut paths: Vec<u32> = accounts
        .iter()
        .flat_map(|a| a.tail.worst[..a.margin_es.k].iter().map(|e| e.path))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let revalued = backend.revalue_paths(book, plan.seed, &paths)?;
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

/// Runs the whole pipeline and builds the report.
pub fn run(
    inputs: &RunInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    let started = Instant::now();
    let book = Book::compile(&inputs.market, &inputs.portfolio, &inputs.config, &inputs.files)?;
    let sim = simulate(book, &inputs.config, backend, progress)?;
    let info = backend.info();
    let config = &inputs.config;
    let accounts = sim
        .book
        .accounts
        .iter()
        .zip(&sim.accounts)
        .map(|(account, fig)| AccountReport {
            id: account.id.clone(),
            currency: match account.currency {
                Currency::Usd => "USD".to_string(),
                Currency::Coin(c) => sim.book.assets[c].symbol.clone(),
            },
            measures: fig.measures.iter().map(measure_report).collect(),
            stress: None,
            margin: None,
            greeks: None,
            components: account
                .holdings
                .iter()
                .zip(&fig.components)
                .map(|(h, &es)| ComponentReport {
                    instrument: h.label.clone(),
                    es,
                })
                .collect(),
        })
        .collect();
    Ok(Report {
        run: RunInfo {
            paths: config.paths,
            seed: config.seed,
            horizon_days: config.horizon_days,
            steps: config.steps,
            backend: info.backend.to_string(),
            device: info.device,
            precision: info.precision.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            seconds: started.elapsed().as_secs_f64(),
            correlation_repair: sim.book.correlation_repair.as_ref().map(|r| RepairReport {
                method: "Higham (2002) nearest correlation matrix".into(),
                frobenius_distance: r.frobenius_distance,
                min_eigenvalue_before: r.min_eigenvalue_before,
            }),
        },
        accounts,
    })
}

fn measure_report(m: &Measure) -> MeasureReport {
    MeasureReport {
        confidence: m.confidence,
        var: m.var,
        es: m.es,
        var_ci: m.var_ci,
        es_ci: m.es_ci,
    }
}
