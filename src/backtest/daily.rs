//! The loop over the backtest's days: each day's calibrations, replayed forecast and
//! realised losses (module docs of [`super`]).

use super::{BacktestDay, BacktestInputs, replay};
use crate::book::Book;
use crate::calibrate::{Calibration, DofChoice, calibrate};
use crate::engine::Backend;
use crate::engine::cpu::CpuBackend;
use crate::error::Result;
use crate::report::{MarginCurrency, margin_currency};
use crate::run::evaluate;

/// An account's days as they are collected.
pub(super) struct AccountSeries {
    pub id: String,
    pub currency: MarginCurrency,
    pub days: Vec<BacktestDay>,
}

/// What the loop hands back to the report.
pub(super) struct DailyRun {
    pub accounts: Vec<AccountSeries>,
    /// The calibration of the last day's forecast.
    pub last_calibration: Calibration,
    /// The scenarios of the last day's forecast.
    pub last_paths: u64,
    pub warnings: Vec<String>,
}

/// Forecasts and realises every day `t` of `days` (ascending return indices).
pub(super) fn run_days(
    inputs: &BacktestInputs,
    days: &[usize],
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DailyRun> {
    let (history, config) = (&inputs.history, &inputs.run.config);
    let reference = CpuBackend::new();
    let calibrate_through = |t: usize| {
        calibrate(
            &replay::history_through(history, t),
            &config.calibration,
            config.margin.apc,
            DofChoice::of(config),
            inputs.run.market.as_of,
        )
    };
    let mut accounts: Vec<AccountSeries> = Vec::new();
    let mut last = None;
    let mut warnings = Vec::new();
    // The calibration through return t is day t's realised vol and day t + 1's forecast:
    // kept for the next day (the same calibration, computed once).
    let mut through_previous: Option<(usize, Calibration)> = None;
    for (done, &t) in days.iter().enumerate() {
        let before = match through_previous.take() {
            Some((s, c)) if s == t - 1 => c,
            _ => calibrate_through(t - 1)?,
        };
        let after = calibrate_through(t)?;
        let day_inputs = replay::forecast_inputs(
            &inputs.run,
            &replay::history_through(history, t - 1),
            &before,
            &config.calibration,
            inputs.method,
        )?;
        let ev = evaluate(&day_inputs, backend, &|_| {})?;
        let book = &ev.sim.book;
        let vols = |c: &Calibration| c.assets.iter().map(|a| a.vol_used).collect::<Vec<_>>();
        let losses = replay::realised_losses(
            book,
            &history.symbols,
            &history.returns[t - 1],
            &vols(&before),
            &vols(&after),
            &reference,
        )?;
        if accounts.is_empty() {
            warnings = ev.warnings.clone();
            accounts = empty_series(book, days.len());
        }
        let date = history.dates[t - 1].format("%Y-%m-%d").to_string();
        for (i, series) in accounts.iter_mut().enumerate() {
            let m = &ev.sim.accounts[i].measures[0];
            series.days.push(BacktestDay {
                date: date.clone(),
                var: m.var,
                es: m.es,
                initial: ev.figures.margins[i].initial,
                loss: losses[i],
                exception: losses[i] > m.var,
            });
        }
        last = Some((before, ev.sim.plan.paths));
        through_previous = Some((t, after));
        progress(done as u64 + 1);
    }
    let (last_calibration, last_paths) = last.expect("days() selects at least one day");
    Ok(DailyRun {
        accounts,
        last_calibration,
        last_paths,
        warnings,
    })
}

/// One empty series per account of `book`, room for `days` days.
fn empty_series(book: &Book, days: usize) -> Vec<AccountSeries> {
    book.accounts
        .iter()
        .map(|a| AccountSeries {
            id: a.id.clone(),
            currency: margin_currency(book, a),
            days: Vec::with_capacity(days),
        })
        .collect()
}
