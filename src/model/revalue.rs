//! Revalue stage, CPU twin of `shaders/revalue.wgsl`: the P&L per unit of quantity of every
//! instrument in a scenario, by full revaluation at t₁ = as_of + h (SPEC §3).
//!
//! With S_h = S₀·e^{r} (r the scenario's log return), τ₁ = τ₀ − h and carry c₁ = e^{rate·τ₁}
//! (1 when τ₁ ≤ 0), per unit and times the multiplier m:
//! - spot, linear perpetual: S_h − S₀ = S₀·expm1(r);
//! - inverse perpetual: (1/S₀ − 1/S_h)·S_h = expm1(r);
//! - linear future: F₁ − F₀ with F₁ = S_h·c₁;
//! - inverse future: (1/F₀ − 1/F₁)·S_h = S_h/F₀ − 1/c₁;
//! - option, τ₁ > 0: Black-76 at F₁ = S_h·c₁, σ₁ = σ_surface(τ₁, ln(K/F₁))·vol factor,
//!   minus today's value; τ₁ ≤ 0: intrinsic on S_h minus today's value.
//!
//! The vol factor is Y^{w(τ₁)} = e^{x·w(τ₁)} for Monte Carlo and grid scenarios and
//! (1 + vol) = e^{x} for named scenarios ([`VolRule`]), with the tenor weight
//! w(τ) = (30 days / max(τ, 1 day))^β, β = 0.30 below 30 days and 0.13 from 30 days.
//! Every difference is written so that a zero move gives exactly zero P&L (expm1 forms).

use crate::book::{Book, InstrumentRow};
use crate::instrument::{InstrumentKind, Right, Settlement};
use crate::market::VolSurface;
use crate::model::{AssetState, VolRule};
use crate::pricing::{black76, intrinsic};
use crate::time::DAY;

/// Tenor weight w(τ) of a vol-level shock (SPEC §3).
#[inline]
pub fn tenor_weight(tau: f64) -> f64 {
    let beta = if tau < 30.0 * DAY { 0.30 } else { 0.13 };
    (30.0 * DAY / tau.max(DAY)).powf(beta)
}

/// How one instrument is revalued, resolved once per run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Payoff {
    /// S_h − S₀ (spot, linear perpetual).
    Linear,
    /// expm1(r) (inverse perpetual).
    InversePerpetual,
    /// F₁ − F₀.
    LinearFuture,
    /// S_h/F₀ − 1/c₁.
    InverseFuture,
    /// Black-76, or intrinsic once expired.
    Option(Right),
}

/// The per-instrument constants of the revalue stage.
#[derive(Clone, Copy, Debug)]
pub struct RevalueRow {
    pub payoff: Payoff,
    pub asset: usize,
    pub multiplier: f64,
    pub spot0: f64,
    pub forward0: f64,
    pub strike: f64,
    pub rate: f64,
    /// τ₁ = τ₀ − h (years); ≤ 0 means settled inside the horizon.
    pub tau1: f64,
    /// c₁ = e^{rate·τ₁} for τ₁ > 0, else 1.
    pub carry1: f64,
    /// w(τ₁) for τ₁ > 0.
    pub tenor_weight: f64,
    /// Today's value per unit (multiplier included).
    pub base_value: f64,
}

impl RevalueRow {
    pub fn new(book: &Book, row: &InstrumentRow) -> Self {
        Self::at_horizon(book, row, book.horizon)
    }

    /// The row of a revaluation `horizon` years after `as_of` (the book's own horizon for
    /// scenarios; one day for theta).
    pub fn at_horizon(book: &Book, row: &InstrumentRow, horizon: f64) -> Self {
        let asset = &book.assets[row.asset];
        let tau1 = row.tau0 - horizon;
        let payoff = match (row.spec.kind, row.spec.settlement) {
            (InstrumentKind::Spot, _) | (InstrumentKind::Perpetual, Settlement::Linear) => {
                Payoff::Linear
            }
            (InstrumentKind::Perpetual, Settlement::Inverse) => Payoff::InversePerpetual,
            (InstrumentKind::Future, Settlement::Linear) => Payoff::LinearFuture,
            (InstrumentKind::Future, Settlement::Inverse) => Payoff::InverseFuture,
            (InstrumentKind::Option, _) => Payoff::Option(row.right()),
        };
        let live = tau1 > 0.0 && tau1.is_finite();
        Self {
            payoff,
            asset: row.asset,
            multiplier: row.spec.multiplier,
            spot0: asset.spot,
            forward0: row.forward0,
            strike: row.strike(),
            rate: asset.rate,
            tau1,
            carry1: if live { (asset.rate * tau1).exp() } else { 1.0 },
            tenor_weight: if live { tenor_weight(tau1) } else { 1.0 },
            base_value: row.base_value,
        }
    }

    /// P&L per unit of quantity, USD, in a scenario where the asset is in `state`.
    #[inline]
    pub fn pnl(&self, surface: &VolSurface, state: AssetState, rule: VolRule) -> f64 {
        let r = state.log_return;
        let m = self.multiplier;
        match self.payoff {
            Payoff::Linear => m * self.spot0 * r.exp_m1(),
            Payoff::InversePerpetual => m * r.exp_m1(),
            Payoff::LinearFuture => {
                // F₁ − F₀ = S₀c₁·expm1(r) + (S₀c₁ − F₀): exact zero when nothing moves.
                let s0c1 = self.spot0 * self.carry1;
                m * (s0c1 * r.exp_m1() + (s0c1 - self.forward0))
            }
            Payoff::InverseFuture => {
                let ratio = self.spot0 / self.forward0;
                m * (ratio * r.exp_m1() + (ratio - 1.0 / self.carry1))
            }
            Payoff::Option(right) => {
                let spot_h = self.spot0 * r.exp();
                if self.tau1 <= 0.0 {
                    return m * intrinsic(right, spot_h, self.strike) - self.base_value;
                }
                let forward1 = spot_h * self.carry1;
                let factor = match rule {
                    VolRule::TenorScaled => (state.log_vol * self.tenor_weight).exp(),
                    VolRule::Uniform => state.log_vol.exp(),
                };
                let vol = surface.vol(self.tau1, (self.strike / forward1).ln()) * factor;
                m * black76(right, forward1, self.strike, vol, self.tau1, self.rate)
                    - self.base_value
            }
        }
    }
}

/// The revalue stage of a book: one [`RevalueRow`] per instrument.
#[derive(Clone, Debug)]
pub struct RevalueModel {
    pub rows: Vec<RevalueRow>,
    pub surfaces: Vec<VolSurface>,
}

impl RevalueModel {
    pub fn new(book: &Book) -> Self {
        Self {
            rows: book
                .instruments
                .iter()
                .map(|r| RevalueRow::new(book, r))
                .collect(),
            surfaces: book.assets.iter().map(|a| a.surface.clone()).collect(),
        }
    }

    /// P&L of instrument `i` given the states of every asset.
    #[inline]
    pub fn pnl(&self, i: usize, states: &[AssetState], rule: VolRule) -> f64 {
        let row = &self.rows[i];
        row.pnl(&self.surfaces[row.asset], states[row.asset], rule)
    }

    /// P&L per unit of `instruments` on every row of `table`, one column per instrument
    /// (tenor-scaled vol level), instruments in parallel.
    pub fn table_columns(
        &self,
        table: &crate::model::historical::ScenarioTable,
        instruments: &[usize],
    ) -> Vec<Vec<f64>> {
        use rayon::prelude::*;
        instruments
            .par_iter()
            .map(|&i| {
                (0..table.len())
                    .map(|p| self.pnl(i, table.row(p), VolRule::TenorScaled))
                    .collect()
            })
            .collect()
    }

    /// P&L of every instrument in one scenario into `out`.
    pub fn revalue_into(&self, states: &[AssetState], rule: VolRule, out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.pnl(i, states, rule);
        }
    }
}
