//! The grid stress of SPEC §5: per asset, price × vol-level moves, Deribit-like.
//!
//! For each simulated asset a, with R = `price_range` and n = `price_points` (odd):
//! - regular points: mᵢ = R·(2i − (n − 1))/(n − 1), i = 0 … n − 1 (from −R to +R, 0 included),
//!   under every v of `vol_moves`, counted in full (fraction 1);
//! - extended points: every m of `extended_moves` under every v of `extended_vol_moves`,
//!   counted at the fraction R/|m| of their loss.
//!
//! A point moves only asset a: S' = S·(1 + m) and the vol level Y = 1 + v applied as in the
//! Monte Carlo, σ' = σ_surface(τ₁, k₁)·Y^{w(τ₁)} ([`VolRule::TenorScaled`]). Only positions on a
//! are revalued at the horizon; every other position keeps today's value, so time decay is
//! counted once per asset, not once per asset grid for the whole book.

use crate::book::Book;
use crate::config::StressConfig;
use crate::engine::{AssetState, StressScenario, VolRule};

/// One point of an asset's grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridPoint {
    /// Index into [`Book::assets`].
    pub asset: usize,
    /// Relative price move m: S' = S·(1 + m).
    pub price_move: f64,
    /// Vol-level move v: Y = 1 + v.
    pub vol_move: f64,
    /// The fraction of its loss that counts: 1, or R/|m| for an extended move.
    pub fraction: f64,
    pub extended: bool,
}

impl GridPoint {
    /// The scenario the revalue stage runs for this point.
    pub fn stress_scenario(&self, assets: usize) -> StressScenario {
        let mut states = vec![AssetState::default(); assets];
        states[self.asset] = AssetState {
            log_return: self.price_move.ln_1p(),
            log_vol: self.vol_move.ln_1p(),
        };
        StressScenario {
            states,
            vol_rule: VolRule::TenorScaled,
            only_asset: Some(self.asset),
        }
    }
}

/// The regular price moves −R … +R in `points` equal steps (0 exactly in the middle).
fn price_moves(range: f64, points: u32) -> Vec<f64> {
    let n = points.max(1);
    if n == 1 {
        return vec![0.0];
    }
    let half = f64::from(n - 1);
    (0..n)
        .map(|i| range * (2.0 * f64::from(i) - half) / half)
        .collect()
}

/// Every grid point of every simulated asset, asset by asset: the regular points (price move
/// outer, vol move inner), then the extended points (move outer, vol move inner).
pub fn grid_points(book: &Book, config: &StressConfig) -> Vec<GridPoint> {
    let moves = price_moves(config.price_range, config.price_points);
    let mut points = Vec::new();
    for asset in 0..book.assets.len() {
        for &m in &moves {
            for &v in &config.vol_moves {
                points.push(GridPoint {
                    asset,
                    price_move: m,
                    vol_move: v,
                    fraction: 1.0,
                    extended: false,
                });
            }
        }
        for &m in &config.extended_moves {
            for &v in &config.extended_vol_moves {
                points.push(GridPoint {
                    asset,
                    price_move: m,
                    vol_move: v,
                    fraction: config.price_range / m.abs(),
                    extended: true,
                });
            }
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_price_moves_are_deribit_like() {
        let m = price_moves(0.16, 9);
        assert_eq!(m.len(), 9);
        assert_eq!(m[0], -0.16);
        assert_eq!(m[4], 0.0);
        assert_eq!(m[8], 0.16);
        assert!((m[5] - 0.04).abs() < 1e-17);
    }

    #[test]
    fn configured_price_grids_follow_their_parameters() {
        let m = price_moves(0.10, 5);
        let want = [-0.10, -0.05, 0.0, 0.05, 0.10];
        assert_eq!(m.len(), want.len());
        for (got, want) in m.iter().zip(want) {
            assert!((got - want).abs() < 1e-16, "{m:?}");
        }
    }
}
