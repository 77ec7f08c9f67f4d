//! Stress testing (SPEC §5, methodology §10): the per-asset grid and the named joint scenarios.
//!
//! Stress scenarios are scenarios: every grid point and named scenario becomes a
//! [`StressScenario`](crate::engine::StressScenario) that goes through the backend's revalue stage
//! ([`Backend::revalue_scenarios`], the same Black-76 repricing at as_of + horizon as the Monte
//! Carlo paths, on either backend), and the aggregate functions turn instrument P&L into each
//! account's loss in its margin currency (a coin account divides by the coin's stressed spot).
//! They never enter the VaR/ES tail.
//!
//! Per account: the loss of every grid point and every named scenario; per asset the worst
//! counted grid loss (fraction × loss); grid loss = Σ_assets max(0, worst); the worst named
//! scenario.

pub mod grid;
pub mod named;

use crate::book::Book;
use crate::config::StressConfig;
use crate::engine::Backend;
use crate::error::Result;
use crate::model::aggregate::account_loss;

pub use grid::{GridPoint, grid_points};
pub use named::{NamedScenario, ResolvedScenario, ScenarioOrigin, ScenarioSet, Shock};

/// The stress losses of every account.
#[derive(Clone, Debug, PartialEq)]
pub struct StressResults {
    /// Every grid point, of every asset.
    pub grid: Vec<GridPoint>,
    pub named: Vec<ResolvedScenario>,
    /// In the book's account order.
    pub accounts: Vec<AccountStress>,
}

/// The stress losses of one account, in its margin currency.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountStress {
    /// The loss at every grid point (before the fraction), in the order of
    /// [`StressResults::grid`].
    pub grid_losses: Vec<f64>,
    /// Per simulated asset: the grid point (index into [`StressResults::grid`]) with the largest
    /// counted loss fraction × loss, the first of equals; `None` for an asset without points.
    pub worst_grid: Vec<Option<usize>>,
    /// Σ_assets max(0, worst counted loss).
    pub grid_loss: f64,
    /// The loss of every named scenario, in the order of [`StressResults::named`].
    pub named_losses: Vec<f64>,
    /// The named scenario with the largest loss, the first of equals; `None` without scenarios.
    pub worst_named: Option<usize>,
}

impl AccountStress {
    /// The counted loss of grid point `i`: its fraction times its loss.
    pub fn counted(&self, grid: &[GridPoint], i: usize) -> f64 {
        grid[i].fraction * self.grid_losses[i]
    }

    /// The loss of the worst named scenario, 0 without scenarios.
    pub fn worst_named_loss(&self) -> f64 {
        self.worst_named.map_or(0.0, |i| self.named_losses[i])
    }
}

/// Revalues every grid point and named scenario in one call to the backend's revalue stage
/// and forms every account's stress losses.
pub fn run_stress(
    book: &Book,
    backend: &dyn Backend,
    config: &StressConfig,
    named: Vec<ResolvedScenario>,
) -> Result<StressResults> {
    let grid = grid_points(book, config);
    let assets = book.assets.len();
    let scenarios: Vec<_> = grid
        .iter()
        .map(|p| p.stress_scenario(assets))
        .chain(named.iter().map(ResolvedScenario::stress_scenario))
        .collect();
    let pnl = backend.revalue_scenarios(book, &scenarios)?;
    let width = book.instruments.len();
    let row = |s: usize| &pnl[s * width..(s + 1) * width];

    let accounts = book
        .accounts
        .iter()
        .map(|account| {
            let losses: Vec<f64> = scenarios
                .iter()
                .enumerate()
                .map(|(s, scenario)| account_loss(book, account, row(s), &scenario.states))
                .collect();
            let (grid_losses, named_losses) = losses.split_at(grid.len());
            let counted: Vec<f64> = grid
                .iter()
                .zip(grid_losses)
                .map(|(p, loss)| p.fraction * loss)
                .collect();
            let mut worst_grid: Vec<Option<usize>> = vec![None; assets];
            for (i, p) in grid.iter().enumerate() {
                if worst_grid[p.asset].is_none_or(|w| counted[i] > counted[w]) {
                    worst_grid[p.asset] = Some(i);
                }
            }
            let grid_loss = worst_grid
                .iter()
                .flatten()
                .map(|&w| counted[w].max(0.0))
                .sum();
            let worst_named = (0..named_losses.len()).reduce(|w, i| {
                if named_losses[i] > named_losses[w] {
                    i
                } else {
                    w
                }
            });
            AccountStress {
                grid_losses: grid_losses.to_vec(),
                worst_grid,
                grid_loss,
                named_losses: named_losses.to_vec(),
                worst_named,
            }
        })
        .collect();
    Ok(StressResults {
        grid,
        named,
        accounts,
    })
}
