//! The backtest of SPEC §11 (settled details 8–11): replay the book each day of a price
//! history, forecast one-day VaR, ES and initial margin with the calibration of the days
//! before, compare with the realised loss, and test the exceptions.
//!
//! [`backtest`] returns a [`BacktestReport`], the serde structure of the JSON of SPEC §11:
//! the single source of truth of `--format json`, the table ([`BacktestReport::to_table`])
//! and any rendering of it.
//!
//! For each day t = window+1..n (selected on d_t by `from`/`to`):
//! 1. calibrate on returns 1..t−1 (SPEC §9: EWMA, ν refitted, the APC tool's vol_used);
//! 2. replay the book at d_{t−1} ([`replay`]) and evaluate it as a run does
//!    ([`crate::run::evaluate`]): horizon one day in one step, confidence α, Monte Carlo on
//!    the same draws every day (key = seed) or the historical days 1..t−1 (hs, fhs);
//! 3. L_t = V_{t−1} − V_t, revalued on the f64 CPU reference whatever the backend;
//! 4. exception I_t = 1{L_t > VaR_t}; the statistics of [`stats`] over the days.

mod daily;
pub mod replay;
pub mod stats;
mod table;

use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

use crate::calibrate::Calibration;
use crate::engine::{Backend, BackendKind, Precision};
use crate::error::{Error, Result};
use crate::input::History;
use crate::model::historical::HistoricalMethod;
use crate::report::MarginCurrency;
use crate::run::RunInputs;

pub use stats::{Christoffersen, EsTest, Kupiec, Procyclicality, TrafficLight, Zone};

/// Fewest burn-in returns `--window` accepts (SPEC §11, settled detail 8).
pub const MIN_WINDOW: usize = 60;
/// Monte Carlo paths per day without `--paths` (settled detail 8).
pub const DEFAULT_PATHS: u64 = 20_000;

/// Everything a backtest reads.
#[derive(Clone, Debug)]
pub struct BacktestInputs {
    /// Market snapshot, book, configuration (flags applied) and named scenarios, not
    /// calibrated: each day calibrates its own history.
    pub run: RunInputs,
    /// The whole price history (returns 1..n and closes 0..n).
    pub history: History,
    /// `None`: Monte Carlo; else hs or fhs on the days before each forecast.
    pub method: Option<HistoricalMethod>,
    /// Burn-in returns: the days are t = window+1..n.
    pub window: usize,
    /// α of VaR, ES and the exceptions.
    pub confidence: f64,
    /// Inclusive bounds on d_t.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The output of `tailrisk backtest` (SPEC §11).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BacktestReport {
    pub run: BacktestRun,
    pub accounts: Vec<AccountBacktest>,
    /// What the caller should tell the user (named-scenario shocks on assets the book does
    /// not simulate), once; not part of the JSON.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// How the backtest was made: the `run` object of SPEC §8 with method, window and
/// confidence.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BacktestRun {
    /// `mc`, `hs` or `fhs`.
    pub method: &'static str,
    pub window: usize,
    pub confidence: f64,
    /// Monte Carlo paths per day; for hs/fhs the historical days of the last forecast
    /// (day t uses t − 1).
    pub paths: u64,
    pub seed: u64,
    pub horizon_days: f64,
    pub steps: u32,
    pub backend: BackendKind,
    pub device: String,
    pub precision: Precision,
    pub version: String,
    /// Wall time of the whole backtest.
    pub seconds: f64,
    /// The calibration of the last forecast (returns 1..t−1 of the last day).
    pub calibration: Calibration,
}

/// One account's daily series and its tests, in its margin currency.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccountBacktest {
    pub id: String,
    pub currency: MarginCurrency,
    pub days: Vec<BacktestDay>,
    pub summary: BacktestSummary,
}

/// Day t: the forecasts made at d_{t−1} and the loss realised at d_t.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BacktestDay {
    /// d_t, `YYYY-MM-DD`.
    pub date: String,
    pub var: f64,
    pub es: f64,
    /// Initial margin (SPEC §6, APC buffer included) at the margin confidence.
    pub initial: f64,
    /// L_t = V_{t−1} − V_t.
    pub loss: f64,
    /// L_t > VaR_t.
    pub exception: bool,
}

/// The tests of one account over its T days.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BacktestSummary {
    pub days: usize,
    pub exceptions: usize,
    /// T·(1 − α).
    pub expected: f64,
    pub kupiec: Kupiec,
    pub christoffersen: Christoffersen,
    pub traffic_light: TrafficLight,
    pub es_test: EsTest,
    pub procyclicality: Procyclicality,
}

impl BacktestInputs {
    /// The return indices t of the backtest days (1-based, ascending): t = window+1..n with
    /// d_t within `from`/`to`. Errors (exit 65) name the flag and the value.
    pub fn days(&self) -> Result<Vec<usize>> {
        let n = self.history.returns.len();
        if self.window < MIN_WINDOW {
            return Err(Error::input(
                "command line",
                "--window",
                self.window,
                format!("the burn-in needs at least {MIN_WINDOW} returns"),
            ));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return Err(Error::input(
                "command line",
                "--confidence",
                self.confidence,
                "must be strictly between 0 and 1",
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(Error::input(
                "command line",
                "--from",
                from,
                format!("is after --to {to}"),
            ));
        }
        if self.window >= n {
            return Err(Error::input(
                "command line",
                "--window",
                self.window,
                format!(
                    "{} has {n} returns: a backtest needs more than the burn-in window",
                    self.history.file
                ),
            ));
        }
        let date = |t: usize| self.history.dates[t - 1];
        let days: Vec<usize> = (self.window + 1..=n)
            .filter(|&t| self.from.is_none_or(|f| date(t) >= f))
            .filter(|&t| self.to.is_none_or(|l| date(t) <= l))
            .collect();
        if days.is_empty() {
            let shown = |d: Option<NaiveDate>| d.map_or("-".to_string(), |d| d.to_string());
            return Err(Error::input(
                "command line",
                "--from/--to",
                format!("{}..{}", shown(self.from), shown(self.to)),
                format!(
                    "selects no day: after the {}-return window the days run from {} to {}",
                    self.window,
                    date(self.window + 1),
                    date(n)
                ),
            ));
        }
        Ok(days)
    }
}

/// Runs the backtest on `backend`; `progress` is called with the number of days done.
pub fn backtest(
    inputs: &BacktestInputs,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BacktestReport> {
    let started = Instant::now();
    let days = inputs.days()?;
    let run = daily::run_days(inputs, &days, backend, progress)?;
    let p = 1.0 - inputs.confidence;
    let info = backend.info();
    Ok(BacktestReport {
        run: BacktestRun {
            method: method_name(inputs.method),
            window: inputs.window,
            confidence: inputs.confidence,
            paths: run.last_paths,
            seed: inputs.run.config.seed,
            horizon_days: 1.0,
            steps: 1,
            backend: info.backend,
            device: info.device,
            precision: info.precision,
            version: env!("CARGO_PKG_VERSION").to_string(),
            seconds: started.elapsed().as_secs_f64(),
            calibration: run.last_calibration,
        },
        accounts: run
            .accounts
            .into_iter()
            .map(|s| {
                let summary = summarise(&s.days, p);
                AccountBacktest {
                    id: s.id,
                    currency: s.currency,
                    days: s.days,
                    summary,
                }
            })
            .collect(),
        warnings: run.warnings,
    })
}

/// `mc`, `hs` or `fhs`.
pub fn method_name(method: Option<HistoricalMethod>) -> &'static str {
    match method {
        None => "mc",
        Some(HistoricalMethod::Hs) => "hs",
        Some(HistoricalMethod::Fhs) => "fhs",
    }
}

/// The tests of SPEC §11 over an account's days, p = 1 − α.
pub fn summarise(days: &[BacktestDay], p: f64) -> BacktestSummary {
    let hits: Vec<bool> = days.iter().map(|d| d.exception).collect();
    let losses: Vec<f64> = days.iter().map(|d| d.loss).collect();
    let es: Vec<f64> = days.iter().map(|d| d.es).collect();
    let initial: Vec<f64> = days.iter().map(|d| d.initial).collect();
    let kupiec = stats::kupiec(&hits, p);
    BacktestSummary {
        days: days.len(),
        exceptions: hits.iter().filter(|&&h| h).count(),
        expected: days.len() as f64 * p,
        kupiec,
        christoffersen: stats::christoffersen(&hits, kupiec.lr),
        traffic_light: stats::traffic_light(&hits, p),
        es_test: stats::z2(&losses, &es, &hits, p),
        procyclicality: stats::procyclicality(&initial),
    }
}

impl BacktestReport {
    /// The JSON of SPEC §11.
    pub fn to_json(&self) -> String {
        crate::report::pretty_json(self)
    }
}
