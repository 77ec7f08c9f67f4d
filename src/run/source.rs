//! Where a run's scenarios come from: Monte Carlo paths (SPEC §3), or the historical days
//! of a price history (hs, fhs: SPEC §10) as an explicit table through the same revalue,
//! aggregate and tail stages.

use std::sync::Arc;

use crate::book::Book;
use crate::engine::{
    AccountTail, Backend, CountedTails, PathRevaluation, SimulationPlan, StressScenario,
};
use crate::error::{Error, Result};
use crate::model::VolRule;
use crate::model::historical::{HistoricalMethod, ScenarioTable, ZeroVol};

/// The historical days a run may use as scenarios, by asset symbol (the book's asset order
/// is known only once it is compiled).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoricalScenarios {
    pub method: HistoricalMethod,
    /// The assets of the history, in its order.
    pub symbols: Vec<String>,
    /// Daily log returns r_t, t = 1..n: `returns[t − 1][a]` for asset `symbols[a]`.
    pub returns: Vec<Vec<f64>>,
    /// EWMA daily vols σ_t, t = 0..n (fhs): `sigma[t][a]`.
    pub sigma: Vec<Vec<f64>>,
    /// Today's annualised vol per asset, APC applied (`vol_used`, fhs).
    pub vol_used: Vec<f64>,
    /// The dates of the returns, `YYYY-MM-DD`, for messages.
    pub dates: Vec<String>,
    /// The history file, for messages.
    pub file: String,
}

/// The scenarios of a compiled run.
#[derive(Clone, Debug, Default)]
pub enum ScenarioSource {
    /// Monte Carlo paths `0..paths` drawn with the plan's seed.
    #[default]
    MonteCarlo,
    /// One table row per historical day, row t − 1 for day t.
    Table {
        method: HistoricalMethod,
        table: Arc<ScenarioTable>,
    },
}

impl HistoricalScenarios {
    /// The table of these days for `book` over `horizon_days`: each of the book's simulated
    /// assets must be in the history (the history reader guarantees it for the market's).
    pub fn table(&self, book: &Book, horizon_days: f64) -> Result<ScenarioTable> {
        let columns: Vec<usize> = book
            .assets
            .iter()
            .map(|asset| {
                self.symbols
                    .iter()
                    .position(|s| *s == asset.symbol)
                    .ok_or_else(|| {
                        Error::input(
                            &self.file,
                            "(header)",
                            &asset.symbol,
                            "the history has no column for this simulated asset",
                        )
                    })
            })
            .collect::<Result<_>>()?;
        let pick = |rows: &[Vec<f64>]| -> Vec<f64> {
            rows.iter()
                .flat_map(|row| columns.iter().map(move |&c| row[c]))
                .collect()
        };
        let today: Vec<f64> = columns
            .iter()
            .map(|&c| self.vol_used.get(c).copied().unwrap_or(0.0) / 365f64.sqrt())
            .collect();
        ScenarioTable::historical(
            self.method,
            columns.len(),
            &pick(&self.returns),
            &pick(&self.sigma),
            &today,
            horizon_days,
        )
        .map_err(|ZeroVol { scenario, asset }| {
            let symbol = &book.assets[asset].symbol;
            let date = self.dates.get(scenario - 1).map_or("?", String::as_str);
            Error::input(
                &self.file,
                format!("{symbol}, return of {date}"),
                "EWMA vol 0",
                "fhs divides each return by the EWMA vol of the day before, which is zero \
                 here (no price moves so far): use hs, or a history that starts earlier",
            )
        })
    }
}

impl ScenarioSource {
    /// `mc`, `hs` or `fhs`, as reports write it.
    pub fn method_name(&self) -> &'static str {
        match self {
            ScenarioSource::MonteCarlo => "mc",
            ScenarioSource::Table {
                method: HistoricalMethod::Hs,
                ..
            } => "hs",
            ScenarioSource::Table {
                method: HistoricalMethod::Fhs,
                ..
            } => "fhs",
        }
    }

    /// The scenarios a run covers: the configured `paths`, or every row of the table.
    pub fn scenarios(&self, paths: u64) -> u64 {
        match self {
            ScenarioSource::MonteCarlo => paths,
            ScenarioSource::Table { table, .. } => table.len() as u64,
        }
    }

    /// Each account's tail over these scenarios on `backend`.
    pub fn tails(
        &self,
        backend: &dyn Backend,
        book: &Book,
        plan: &SimulationPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<AccountTail>> {
        match self {
            ScenarioSource::MonteCarlo => backend.tails(book, plan, progress),
            ScenarioSource::Table { table, .. } => {
                let tails = backend.table_tails(book, table, plan.tail_len, plan.chunk_paths)?;
                progress(table.len() as u64);
                Ok(tails)
            }
        }
    }

    /// [`ScenarioSource::tails`] with each account's loss histogram counted in the same pass.
    pub fn counted_tails(
        &self,
        backend: &dyn Backend,
        book: &Book,
        plan: &SimulationPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<CountedTails> {
        match self {
            ScenarioSource::MonteCarlo => backend.counted_tails(book, plan, None, progress),
            ScenarioSource::Table { table, .. } => {
                backend.counted_tails(book, plan, Some(table), progress)
            }
        }
    }

    /// The states and instrument P&L of the given scenarios (paths or table rows) alone:
    /// Monte Carlo paths regenerated from their counters, table rows through the backend's
    /// revalue stage.
    pub fn revalue(
        &self,
        backend: &dyn Backend,
        book: &Book,
        plan: &SimulationPlan,
        paths: &[u32],
    ) -> Result<PathRevaluation> {
        let ScenarioSource::Table { table, .. } = self else {
            return backend.revalue_paths(book, plan.seed, paths);
        };
        let rows: Vec<StressScenario> = paths
            .iter()
            .map(|&p| StressScenario {
                states: table.row(p as usize).to_vec(),
                vol_rule: VolRule::TenorScaled,
                only_asset: None,
            })
            .collect();
        Ok(PathRevaluation {
            pnl: backend.revalue_scenarios(book, &rows)?,
            states: rows.into_iter().flat_map(|r| r.states).collect(),
        })
    }
}
