//! Sensitivities at the base (SPEC §8, methodology §9): analytic Greeks of the pricer exactly
//! as it reprices scenarios, per account and asset, in the account's currency.
//!
//! The pricer (see [`crate::model::revalue`]) values an option by Black-76 on the
//! forward F = S·e^{rτ} with sticky moneyness: σ = σ_surface(τ, k), k = ln(K/F), so the smile
//! moves with the forward. With D = e^{−rτ}, s = σ√τ, d₁ = ln(F/K)/s + s/2, d₂ = d₁ − s and
//! the Black-76 partials
//!
//! - Δ_F = D·Φ(d₁) (call), −D·Φ(−d₁) (put);   Γ_F = D·φ(d₁)/(F s);
//! - 𝒱 = ∂V/∂σ = D·F·φ(d₁)·√τ;   vanna = ∂²V/∂F∂σ = −D·φ(d₁)·d₂/σ;   volga = 𝒱·d₁d₂/σ,
//!
//! and the smile slope σ_k = ∂σ/∂k and curvature σ_kk at the option's (τ, k)
//! ([`VolSurface::smile_derivatives`]), the chain rule through dk/dF = −1/F gives, per unit
//! (times the multiplier):
//!
//! - delta_usd = S·∂V/∂S = F·Δ_F − 𝒱·σ_k;
//! - gamma_usd = S²·∂²V/∂S² = F²Γ_F − 2F·vanna·σ_k + volga·σ_k² + 𝒱·(σ_k + σ_kk);
//! - vega_usd = V(σ + 0.01) − V(σ): the change of V for +1 vol point on the whole surface, by
//!   repricing (for short-dated out-of-the-money options it differs from 0.01·𝒱 by several
//!   percent, through volga);
//! - at a knot of the piecewise-linear smile, delta and gamma are the averages of their
//!   one-sided limits;
//! - theta_usd = V(as_of + 1 day) − V(as_of) with the spot and the surface fixed. The surface
//!   is a function of time to expiry (SPEC §3), so "surface fixed" means it is read at τ − 1 day
//!   and at the forward's new moneyness, exactly as a zero-move scenario one day ahead is
//!   repriced; an option with τ ≤ 1 day settles at intrinsic value on today's spot.
//!
//! Delta-one instruments at the base (m the multiplier): spot and linear perpetual m·S,
//! inverse perpetual m, linear future m·F₀, inverse future m·S/F₀; no gamma or vega; theta from
//! the same one-day repricing (carry of futures).
//!
//! A coin-margined account in coin c measures W = U/S_c, U its USD value. For an asset a ≠ c
//! every Greek is the USD Greek divided by S_c; for the coin itself the conversion has its own
//! delta and gamma: S·∂W/∂S = (delta_usd − U)/S and S²·∂²W/∂S² = (gamma_usd − 2·delta_usd + 2U)/S
//! (U the whole account's value today), vega and theta divided by S. Coin collateral thus has
//! zero coin delta, and an inverse contract of USD notional q has coin delta q/S.

use crate::book::{AccountBook, Book, Currency, InstrumentRow};
use crate::engine::{AssetState, VolRule};
use crate::instrument::Right;
use crate::market::{Side, VolSurface};
use crate::model::revalue::{Payoff, RevalueRow};
use crate::pricing::{black76, norm_cdf, norm_pdf};
use crate::time::DAY;

/// One vol point: the bump of vega.
pub const VOL_POINT: f64 = 0.01;

/// Delta, gamma, vega and theta, in the units of the report (USD or coin).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Greeks {
    /// S·∂V/∂S.
    pub delta: f64,
    /// S²·∂²V/∂S².
    pub gamma: f64,
    /// Change of V for +1 vol point on the whole surface.
    pub vega: f64,
    /// V one day later minus V now, spot and surface fixed.
    pub theta: f64,
}

impl Greeks {
    fn scaled(self, c: f64) -> Greeks {
        Greeks {
            delta: c * self.delta,
            gamma: c * self.gamma,
            vega: c * self.vega,
            theta: c * self.theta,
        }
    }

    fn add(&mut self, other: Greeks) {
        self.delta += other.delta;
        self.gamma += other.gamma;
        self.vega += other.vega;
        self.theta += other.theta;
    }
}

/// Greeks per unit of quantity of every instrument of the book, USD, in instrument order.
pub fn instrument_greeks(book: &Book) -> Vec<Greeks> {
    book.instruments
        .iter()
        .map(|row| unit_greeks(book, row))
        .collect()
}

/// Greeks of one unit of an instrument at the base, USD (multiplier included).
pub fn unit_greeks(book: &Book, row: &InstrumentRow) -> Greeks {
    let asset = &book.assets[row.asset];
    let revalue = RevalueRow::new(book, row);
    let m = row.spec.multiplier;
    // θ = V(as_of + 1 day) − V(as_of): the revalue stage's zero-move P&L over one day.
    let theta = RevalueRow::at_horizon(book, row, DAY).pnl(
        &asset.surface,
        AssetState::default(),
        VolRule::Uniform,
    );
    let (delta, gamma, vega) = match revalue.payoff {
        Payoff::Linear => (m * asset.spot, 0.0, 0.0),
        Payoff::InversePerpetual => (m, 0.0, 0.0),
        Payoff::LinearFuture => (m * row.forward0, 0.0, 0.0),
        Payoff::InverseFuture => (m * asset.spot / row.forward0, 0.0, 0.0),
        Payoff::Option(right) => {
            let g = option_greeks(
                right,
                row.forward0,
                row.strike(),
                row.tau0,
                asset.rate,
                &asset.surface,
            );
            (m * g.delta, m * g.gamma, m * g.vega)
        }
    };
    Greeks {
        delta,
        gamma,
        vega,
        theta,
    }
}

/// Analytic delta_usd and gamma_usd, and vega_usd by an exact one-vol-point repricing (theta
/// left 0), of one unit (multiplier 1) of a European option on forward F at time to expiry
/// τ > 0, sticky moneyness on `surface` (formulas in the module docs). At a smile knot, where
/// the piecewise-linear smile has a kink, delta and gamma are the averages of their limits from
/// either side (delta is then the central-difference limit of the pricer).
pub fn option_greeks(
    right: Right,
    forward: f64,
    strike: f64,
    tau: f64,
    rate: f64,
    surface: &VolSurface,
) -> Greeks {
    let k = (strike / forward).ln();
    let sigma = surface.vol(tau, k);
    let discount = (-rate * tau).exp();
    let sqrt_tau = tau.sqrt();
    let sd = sigma * sqrt_tau;
    let d1 = (forward / strike).ln() / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let pdf = norm_pdf(d1);
    let delta_f = match right {
        Right::Call => discount * norm_cdf(d1),
        Right::Put => -discount * norm_cdf(-d1),
    };
    let gamma_f = discount * pdf / (forward * sd);
    let vega = discount * forward * pdf * sqrt_tau;
    let vanna = -discount * pdf * d2 / sigma;
    let volga = vega * d1 * d2 / sigma;
    let sided = |side: Side| {
        let (slope, curvature) = surface.smile_derivatives(tau, k, side);
        (
            forward * delta_f - vega * slope,
            forward * forward * gamma_f - 2.0 * forward * vanna * slope
                + volga * slope * slope
                + vega * (slope + curvature),
        )
    };
    let (left, right_side) = (sided(Side::Left), sided(Side::Right));
    Greeks {
        delta: 0.5 * (left.0 + right_side.0),
        gamma: 0.5 * (left.1 + right_side.1),
        vega: black76(right, forward, strike, sigma + VOL_POINT, tau, rate)
            - black76(right, forward, strike, sigma, tau, rate),
        theta: 0.0,
    }
}

/// The assets an account's Greeks, grid stress and add-ons are reported for: those it holds a
/// net position on, and its margin coin (whose spot moves every coin figure), in book order.
pub fn account_assets(book: &Book, account: &AccountBook) -> Vec<usize> {
    let mut held = vec![false; book.assets.len()];
    for e in &account.exposures {
        held[book.instruments[e.instrument].asset] = true;
    }
    if let Currency::Coin(c) = account.currency {
        held[c] = true;
    }
    (0..book.assets.len()).filter(|&a| held[a]).collect()
}

/// An account's Greeks per asset (every asset of the book, in book order), USD.
pub fn account_greeks_usd(book: &Book, account: &AccountBook, unit: &[Greeks]) -> Vec<Greeks> {
    let mut out = vec![Greeks::default(); book.assets.len()];
    for e in &account.exposures {
        let asset = book.instruments[e.instrument].asset;
        out[asset].add(unit[e.instrument].scaled(e.quantity));
    }
    out
}

/// An account's Greeks per asset (every asset of the book, in book order) in its margin
/// currency: the USD Greeks, or for a coin account those of U/S_c (module docs).
pub fn account_greeks(book: &Book, account: &AccountBook, unit: &[Greeks]) -> Vec<Greeks> {
    let usd = account_greeks_usd(book, account, unit);
    match account.currency {
        Currency::Usd => usd,
        Currency::Coin(c) => {
            let spot = book.assets[c].spot;
            let value = account.base_value_usd;
            usd.into_iter()
                .enumerate()
                .map(|(a, g)| {
                    if a == c {
                        Greeks {
                            delta: (g.delta - value) / spot,
                            gamma: (g.gamma - 2.0 * g.delta + 2.0 * value) / spot,
                            vega: g.vega / spot,
                            theta: g.theta / spot,
                        }
                    } else {
                        g.scaled(1.0 / spot)
                    }
                })
                .collect()
        }
    }
}
