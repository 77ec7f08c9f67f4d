//! Historical scenarios (SPEC §10): the n historical days as explicit scenario states, in
//! place of Monte Carlo paths. Scenario t (t = 1..n, row t − 1, which is also its path index
//! in a tail, so ties go to the earlier day) moves every asset jointly over the horizon of
//! D days:
//! - hs:  ln(S_h/S₀)_a = r_{t,a}·√D, vol level Y_a = 1;
//! - fhs: ln(S_h/S₀)_a = r_{t,a}·(v_a/σ_{t−1,a})·√D with v_a today's daily vol (APC
//!   applied), and Y_a = σ_{t,a}/σ_{t−1,a}, that day's relative EWMA vol move (not scaled
//!   by D).
//!
//! σ_{t,a} is the EWMA daily vol after return t, σ₀ that of the seed covariance. The vol
//! level enters the revalue stage exactly as a Monte Carlo vol level does (tenor-scaled).

use super::AssetState;

/// Explicit scenario states: scenarios × assets, row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScenarioTable {
    assets: usize,
    states: Vec<AssetState>,
}

/// Which historical method makes the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoricalMethod {
    /// Plain historical simulation: today's book under each day's returns.
    Hs,
    /// Filtered historical simulation: each day's returns rescaled from that day's EWMA vol
    /// to today's.
    Fhs,
}

/// Why a table cannot be made: an EWMA vol of zero at the start of scenario `scenario`
/// (1-based) for the asset at `asset`, which fhs would divide by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroVol {
    pub scenario: usize,
    pub asset: usize,
}

impl ScenarioTable {
    /// A table of `states.len() / assets` scenarios.
    ///
    /// # Panics
    /// If `states.len()` is not a multiple of `assets` (a caller's bug, not an input).
    pub fn new(assets: usize, states: Vec<AssetState>) -> Self {
        assert!(
            assets == 0 && states.is_empty() || assets > 0 && states.len().is_multiple_of(assets),
            "{} states do not make rows of {assets} assets",
            states.len()
        );
        Self { assets, states }
    }

    /// Scenarios in the table.
    pub fn len(&self) -> usize {
        self.states.len().checked_div(self.assets).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Assets per scenario.
    pub fn assets(&self) -> usize {
        self.assets
    }

    /// Panics unless the table's rows are states of `book`'s simulated assets: the run
    /// layer makes every table from the book it runs on, so a mismatch is a caller's bug.
    pub fn assert_fits(&self, book: &crate::book::Book) {
        assert_eq!(
            self.assets,
            book.assets.len(),
            "a scenario table for another book"
        );
    }

    /// The states of scenario row `i`.
    pub fn row(&self, i: usize) -> &[AssetState] {
        &self.states[i * self.assets..(i + 1) * self.assets]
    }

    /// The states of rows `rows`, row-major.
    pub fn rows(&self, rows: std::ops::Range<usize>) -> &[AssetState] {
        &self.states[rows.start * self.assets..rows.end * self.assets]
    }

    /// The hs or fhs table of `returns` (n × assets daily log returns, row-major, in date
    /// order). fhs needs `sigma`, the EWMA daily vols σ₀..σ_n ((n + 1) × assets), and
    /// `today` (v_a, daily); hs ignores both. `horizon_days` is D.
    pub fn historical(
        method: HistoricalMethod,
        assets: usize,
        returns: &[f64],
        sigma: &[f64],
        today: &[f64],
        horizon_days: f64,
    ) -> Result<Self, ZeroVol> {
        let n = returns.len().checked_div(assets).unwrap_or(0);
        let scale = horizon_days.sqrt();
        let mut states = Vec::with_capacity(n * assets);
        for t in 0..n {
            for a in 0..assets {
                let r = returns[t * assets + a];
                states.push(match method {
                    HistoricalMethod::Hs => AssetState {
                        log_return: r * scale,
                        log_vol: 0.0,
                    },
                    HistoricalMethod::Fhs => {
                        let (before, after) = (sigma[t * assets + a], sigma[(t + 1) * assets + a]);
                        if before <= 0.0 {
                            return Err(ZeroVol {
                                scenario: t + 1,
                                asset: a,
                            });
                        }
                        AssetState {
                            log_return: r * (today[a] / before) * scale,
                            log_vol: (after / before).ln(),
                        }
                    }
                });
            }
        }
        Ok(Self::new(assets, states))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs_scales_by_the_root_of_the_horizon() {
        let t = ScenarioTable::historical(HistoricalMethod::Hs, 2, &[0.01, -0.02], &[], &[], 4.0)
            .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.row(0)[0].log_return, 0.02);
        assert_eq!(t.row(0)[1].log_return, -0.04);
        assert_eq!(t.row(0)[1].log_vol, 0.0);
    }

    #[test]
    fn fhs_rescales_to_todays_vol() {
        // σ₀ = 0.02, σ₁ = 0.04: the return is halved to today's 0.01 and Y = 2.
        let t = ScenarioTable::historical(
            HistoricalMethod::Fhs,
            1,
            &[0.03],
            &[0.02, 0.04],
            &[0.01],
            1.0,
        )
        .unwrap();
        assert_eq!(t.row(0)[0].log_return, 0.015);
        assert_eq!(t.row(0)[0].log_vol, 2f64.ln());
        let zero = ScenarioTable::historical(
            HistoricalMethod::Fhs,
            1,
            &[0.03],
            &[0.0, 0.04],
            &[0.01],
            1.0,
        );
        assert_eq!(
            zero,
            Err(ZeroVol {
                scenario: 1,
                asset: 0
            })
        );
    }
}
