//! Report assembly: the structures of SPEC §8 ([`Report`], [`StressCommandReport`], the
//! `run` object of every report) built from what [`crate::run`] evaluated.

use std::collections::BTreeMap;

use crate::book::{AccountBook, Book, Currency};
use crate::config::RunConfig;
use crate::engine::Backend;
use crate::greeks::Greeks;
use crate::greeks::account_assets;
use crate::margin::{Binding, Margin};
use crate::risk::Measure;
use crate::run::{Evaluation, RunInputs, Simulation};
use crate::stress::{ScenarioOrigin, StressResults};

use super::{
    AccountReport, AccountStressReport, ComponentReport, GreeksReport, GridPointReport, GridReport,
    MarginComponents, MarginCurrency, MarginReport, MeasureReport, NamedLossReport, RepairReport,
    Report, RunInfo, ScenarioDefinition, ScenarioReport, ShockReport, StressCommandReport,
    StressReport,
};

/// The report of SPEC §8 from an evaluation.
pub fn report(ev: &Evaluation, config: &RunConfig, backend: &dyn Backend) -> Report {
    let book = &ev.sim.book;
    let f = &ev.figures;
    let accounts = book
        .accounts
        .iter()
        .enumerate()
        .zip(&ev.sim.accounts)
        .map(|((i, account), fig)| AccountReport {
            id: account.id.clone(),
            currency: margin_currency(book, account),
            measures: fig.measures.iter().map(measure_report).collect(),
            stress: Some(account_stress(book, &f.stress, i)),
            margin: Some(margin_report(&f.margins[i])),
            greeks: Some(account_greeks(book, &f.greeks, i)),
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
    Report {
        run: run_info(config, &ev.sim, backend, ev.seconds),
        accounts,
    }
}

/// Account `i`'s stress summary: its grid loss, the worst counted point per asset it holds,
/// and every named scenario's loss (no path enters it).
pub fn account_stress(book: &Book, stress: &StressResults, i: usize) -> StressReport {
    let s = &stress.accounts[i];
    StressReport {
        grid_loss: s.grid_loss,
        grid: account_assets(book, &book.accounts[i])
            .iter()
            .filter_map(|&a| s.worst_grid[a])
            .map(|w| {
                let p = &stress.grid[w];
                GridReport {
                    asset: book.assets[p.asset].symbol.clone(),
                    loss: s.counted(&stress.grid, w),
                    price_move: p.price_move,
                    vol_move: p.vol_move,
                }
            })
            .collect(),
        scenarios: stress
            .named
            .iter()
            .zip(&s.named_losses)
            .map(|(n, &loss)| ScenarioReport {
                name: n.name.clone(),
                loss,
            })
            .collect(),
    }
}

/// Account `i`'s Greeks per asset it holds, by symbol (no path enters them).
pub fn account_greeks(
    book: &Book,
    greeks: &[Vec<Greeks>],
    i: usize,
) -> BTreeMap<String, GreeksReport> {
    account_assets(book, &book.accounts[i])
        .iter()
        .map(|&a| {
            let g = greeks[i][a];
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
        .collect()
}

/// The Higham repair of the book's correlation, as the report's `run` object gives it.
pub fn repair_report(book: &Book) -> Option<RepairReport> {
    book.correlation_repair.as_ref().map(|r| RepairReport {
        method: "Higham (2002) nearest correlation matrix".into(),
        frobenius_distance: r.frobenius_distance,
        min_eigenvalue_before: r.min_eigenvalue_before,
    })
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
                currency: margin_currency(book, account),
                margin: margin_report(m),
                binding: m.binding,
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
        run: run_info(&inputs.config, &ev.sim, backend, ev.seconds),
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
pub fn margin_currency(book: &Book, account: &AccountBook) -> MarginCurrency {
    match account.currency {
        Currency::Usd => MarginCurrency::Usd,
        Currency::Coin(c) => MarginCurrency::Coin(book.assets[c].symbol.clone()),
    }
}

/// The `margin` object of an account's report.
pub fn margin_report(m: &Margin) -> MarginReport {
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
/// The report's `run` object. `paths` is the number of scenarios: Monte Carlo paths, or the
/// historical days of hs/fhs (whose `seed` and `steps` are then unused).
pub fn run_info(
    config: &RunConfig,
    sim: &Simulation,
    backend: &dyn Backend,
    seconds: f64,
) -> RunInfo {
    let (book, info) = (&sim.book, backend.info());
    RunInfo {
        method: sim.source.method_name(),
        variance_reduction: config.importance_sampling.then_some("is"),
        paths: sim.plan.paths,
        seed: config.seed,
        horizon_days: config.horizon_days,
        steps: config.steps,
        backend: info.backend,
        device: info.device,
        precision: info.precision,
        version: env!("CARGO_PKG_VERSION").to_string(),
        seconds,
        correlation_repair: repair_report(book),
        calibration: config.calibrated.clone(),
    }
}

/// One entry of an account's `measures`.
pub fn measure_report(m: &Measure) -> MeasureReport {
    MeasureReport {
        confidence: m.confidence,
        var: m.var,
        es: m.es,
        var_ci: m.var_ci,
        es_ci: m.es_ci,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{BackendKind, Precision};

    fn json(value: &impl serde::Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    /// The enums serialise exactly as the strings reports held before them.
    #[test]
    fn choices_serialise_as_their_report_strings() {
        assert_eq!(json(&BackendKind::Cpu), r#""cpu""#);
        assert_eq!(json(&BackendKind::Gpu), r#""gpu""#);
        assert_eq!(json(&Precision::F64), r#""f64""#);
        assert_eq!(json(&Precision::F64Reference), r#""f64-reference""#);
        assert_eq!(json(&Precision::F32), r#""f32""#);
        assert_eq!(json(&MarginCurrency::Usd), r#""USD""#);
        assert_eq!(json(&MarginCurrency::Coin("ETH".into())), r#""ETH""#);
        for b in [
            Binding::Es,
            Binding::Grid,
            Binding::Scenario,
            Binding::ShortOptionMinimum,
            Binding::None,
        ] {
            assert_eq!(json(&b), format!("\"{}\"", b.as_str()));
            assert_eq!(b.to_string(), b.as_str());
        }
        assert_eq!(Binding::ShortOptionMinimum.as_str(), "short_option_minimum");
        assert_eq!(BackendKind::Gpu.to_string(), "gpu");
        assert_eq!(Precision::F32.to_string(), "f32");
        assert_eq!(MarginCurrency::Coin("BTC".into()).to_string(), "BTC");
    }
}
