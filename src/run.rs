//! A whole run: compile the book, simulate on a backend, turn tails into the report.

use std::borrow::Cow;
use std::time::Instant;

use crate::book::{AccountBook, Book, Currency, SourceFiles};
use crate::config::RunConfig;
use crate::engine::{AccountTail, Backend, SimulationPlan};
use crate::error::Result;
use crate::greeks::{Greeks, account_assets, account_greeks, instrument_greeks};
use crate::margin::{self, Binding, Margin, liquidity_addon, short_option_minimum};
use crate::market::Market;
use crate::model::aggregate::holding_losses;
use crate::portfolio::Portfolio;
use crate::report::{
    AccountReport, AccountStressReport, ComponentReport, GreeksReport, GridPointReport, GridReport,
    MarginComponents, MarginReport, MeasureReport, NamedLossReport, RepairReport, Report, RunInfo,
    ScenarioDefinition, ScenarioReport, ShockReport, StressCommandReport, StressReport,
};
use crate::risk::{self, Measure};
use crate::stress::{ResolvedScenario, ScenarioOrigin, ScenarioSet, StressResults, run_stress};

/// Everything a run reads.
#[derive(Clone, Debug)]
pub struct RunInputs {
    pub market: Market,
    pub portfolio: Portfolio,
    pub config: RunConfig,
    pub files: SourceFiles,
    /// The named stress scenarios: `--scenarios` or the built-in set.
    pub scenarios: ScenarioSet,
}

impl RunInputs {
    /// Compiles the book these inputs describe.
    pub fn compile(&self) -> Result<Book> {
        Book::compile(&self.market, &self.portfolio, &self.config, &self.files)
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
    let per_group = (tail_entry_budget / (2 * tail_len.max(1))).max(1);
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

/// [`simulate`] with an explicit budget of tail entries per pass.
pub fn simulate_within(
    book: Book,
    config: &RunConfig,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
    tail_entry_budget: usize,
) -> Result<Simulation> {
    let plan = plan(config);
    let passes = account_passes(&book, plan.tail_len, tail_entry_budget);
    let groups = passes.len() as u64;
    let mut accounts = Vec::with_capacity(book.accounts.len());
    for (g, sub) in passes.iter().enumerate() {
        let done_before = g as u64 * plan.paths;
        let tails = backend.tails(sub, &plan, &|done| progress((done_before + done) / groups))?;
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
        component_es(sub, &plan, backend, &mut figures)?;
        for f in &mut figures {
            f.tail.worst.truncate(f.margin_es.k);
            f.tail.worst.shrink_to_fit();
        }
        accounts.extend(figures);
    }
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
    let stress = run_stress(book, backend, &config.stress, named)?;
    let unit = instrument_greeks(book);
    let mut greeks = Vec::with_capacity(book.accounts.len());
    let mut margins = Vec::with_capacity(book.accounts.len());
    for ((account, s), &es) in book.accounts.iter().zip(&stress.accounts).zip(margin_es) {
        let g = account_greeks(book, account, &unit);
        margins.push(margin::margin(
            es,
            s.grid_loss,
            s.worst_named_loss(),
            liquidity_addon(book, account, &g),
            short_option_minimum(book, account),
            config.margin.mm_ratio,
        ));
        greeks.push(g);
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

/// Compiles the book, resolves the named scenarios (a bad scenarios file fails before the
/// simulation), simulates, and computes stress, Greeks and margin.
pub fn evaluate(
    inputs: &RunInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Evaluation> {
    let started = Instant::now();
    let book = inputs.compile()?;
    let named = inputs.scenarios.resolve(&book)?;
    let sim = simulate(book, &inputs.config, backend, progress)?;
    let es: Vec<f64> = sim.accounts.iter().map(|a| a.margin_es.es).collect();
    let figures = margin_figures(&sim.book, &es, &inputs.config, backend, named)?;
    Ok(Evaluation {
        sim,
        figures,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Runs the whole pipeline and builds the report.
pub fn run(
    inputs: &RunInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    let ev = evaluate(inputs, backend, progress)?;
    Ok(report(&ev, &inputs.config, backend))
}

/// The report of SPEC §8 from an evaluation.
pub fn report(ev: &Evaluation, config: &RunConfig, backend: &dyn Backend) -> Report {
    let book = &ev.sim.book;
    let f = &ev.figures;
    let accounts = book
        .accounts
        .iter()
        .enumerate()
        .zip(&ev.sim.accounts)
        .map(|((i, account), fig)| {
            let s = &f.stress.accounts[i];
            let assets = account_assets(book, account);
            AccountReport {
                id: account.id.clone(),
                currency: currency_name(book, account),
                measures: fig.measures.iter().map(measure_report).collect(),
                stress: Some(StressReport {
                    grid_loss: s.grid_loss,
                    grid: assets
                        .iter()
                        .filter_map(|&a| s.worst_grid[a])
                        .map(|w| {
                            let p = &f.stress.grid[w];
                            GridReport {
                                asset: book.assets[p.asset].symbol.clone(),
                                loss: s.counted(&f.stress.grid, w),
                                price_move: p.price_move,
                                vol_move: p.vol_move,
                            }
                        })
                        .collect(),
                    scenarios: f
                        .stress
                        .named
                        .iter()
                        .zip(&s.named_losses)
                        .map(|(n, &loss)| ScenarioReport {
                            name: n.name.clone(),
                            loss,
                        })
                        .collect(),
                }),
                margin: Some(margin_report(&f.margins[i])),
                greeks: Some(
                    assets
                        .iter()
                        .map(|&a| {
                            let g = f.greeks[i][a];
                            (
                                book.assets[a].symbol.clone(),
                                GreeksReport {
                                    delta_usd: g.delta,
                                    gamma_usd: g.gamma,
                                    vega_usd: g.vega,
                                    theta_usd: g.theta,
                                },
                            )
                        })
                        .collect(),
                ),
                components: account
                    .holdings
                    .iter()
                    .zip(&fig.components)
                    .map(|(h, &es)| ComponentReport {
                        instrument: h.label.clone(),
                        es,
                    })
                    .collect(),
            }
        })
        .collect();
    Report {
        run: run_info(config, book, backend, ev.seconds),
        accounts,
    }
}

/// The output of `tailrisk stress`: every grid point and named scenario per account, marking
/// the worst ones and those that set initial margin.
pub fn stress_report(
    ev: &Evaluation,
    inputs: &RunInputs,
    backend: &dyn Backend,
) -> StressCommandReport {
    let book = &ev.sim.book;
    let f = &ev.figures;
    let grid = &f.stress.grid;
    let accounts = book
        .accounts
        .iter()
        .enumerate()
        .map(|(i, account)| {
            let s = &f.stress.accounts[i];
            let m = &f.margins[i];
            let grid_binds = m.binding == Binding::Grid;
            let named_binds = m.binding == Binding::Scenario;
            let points = account_assets(book, account)
                .into_iter()
                .flat_map(|a| {
                    grid.iter()
                        .enumerate()
                        .filter(move |(_, p)| p.asset == a)
                        .map(move |(j, p)| {
                            let counted = s.counted(grid, j);
                            let worst = s.worst_grid[a] == Some(j);
                            GridPointReport {
                                asset: book.assets[a].symbol.clone(),
                                price_move: p.price_move,
                                vol_move: p.vol_move,
                                extended: p.extended,
                                fraction: p.fraction,
                                loss: s.grid_losses[j],
                                counted_loss: counted,
                                worst,
                                drives_margin: worst && grid_binds && counted > 0.0,
                            }
                        })
                })
                .collect();
            AccountStressReport {
                id: account.id.clone(),
                currency: currency_name(book, account),
                margin: margin_report(m),
                binding: m.binding.as_str().to_string(),
                grid_loss: s.grid_loss,
                grid: points,
                scenarios: f
                    .stress
                    .named
                    .iter()
                    .enumerate()
                    .map(|(j, n)| {
                        let worst = s.worst_named == Some(j);
                        NamedLossReport {
                            name: n.name.clone(),
                            loss: s.named_losses[j],
                            worst,
                            drives_margin: worst && named_binds,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    StressCommandReport {
        run: run_info(&inputs.config, book, backend, ev.seconds),
        scenario_set: match &inputs.scenarios.origin {
            ScenarioOrigin::BuiltIn => "built-in".to_string(),
            ScenarioOrigin::File(file) => file.clone(),
        },
        scenarios: f
            .stress
            .named
            .iter()
            .map(|n| ScenarioDefinition {
                name: n.name.clone(),
                shocks: book
                    .assets
                    .iter()
                    .zip(&n.shocks)
                    .filter(|(_, x)| x.spot != 0.0 || x.vol != 0.0)
                    .map(|(a, x)| {
                        (
                            a.symbol.clone(),
                            ShockReport {
                                spot: x.spot,
                                vol: x.vol,
                            },
                        )
                    })
                    .collect(),
            })
            .collect(),
        accounts,
    }
}

/// `USD` or the coin an account is margined in.
pub(crate) fn currency_name(book: &Book, account: &AccountBook) -> String {
    match account.currency {
        Currency::Usd => "USD".to_string(),
        Currency::Coin(c) => book.assets[c].symbol.clone(),
    }
}

fn margin_report(m: &Margin) -> MarginReport {
    MarginReport {
        initial: m.initial,
        maintenance: m.maintenance,
        components: MarginComponents {
            es: m.es,
            grid: m.grid,
            scenario: m.scenario,
            liquidity: m.liquidity,
            short_option_minimum: m.short_option_minimum,
            apc_buffer: m.apc_buffer,
        },
    }
}

/// How a run was made: the `run` object of every report (seed and version included).
pub fn run_info(config: &RunConfig, book: &Book, backend: &dyn Backend, seconds: f64) -> RunInfo {
    let info = backend.info();
    RunInfo {
        paths: config.paths,
        seed: config.seed,
        horizon_days: config.horizon_days,
        steps: config.steps,
        backend: info.backend.to_string(),
        device: info.device,
        precision: info.precision.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        seconds,
        correlation_repair: book.correlation_repair.as_ref().map(|r| RepairReport {
            method: "Higham (2002) nearest correlation matrix".into(),
            frobenius_distance: r.frobenius_distance,
            min_eigenvalue_before: r.min_eigenvalue_before,
        }),
        calibration: config.calibrated.clone(),
    }
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
