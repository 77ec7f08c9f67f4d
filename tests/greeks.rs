//! Greeks (issue #4 item 5, SPEC §8) against finite differences of tailrisk's own pricer: the
//! revalue stage's [`RevalueRow::pnl`] with the horizon set to 0 (so it prices at τ₀, sticky
//! moneyness, the smile moving with the forward) for delta and gamma; Black-76 on the surface for
//! vega; the one-day repricing by hand for theta; and the coin conversion of SPEC §7.
//!
//! These are host-side computations in f64 (the Greeks are not a backend stage), so they run
//! once, not per backend: a finite difference in f32 would measure rounding, not the Greek.

mod common;

use common::*;
use tailrisk::book::Book;
use tailrisk::config::RunConfig;
use tailrisk::engine::{AssetState, VolRule};
use tailrisk::greeks::{account_greeks, instrument_greeks, unit_greeks};
use tailrisk::instrument::{InstrumentKind, Right};
use tailrisk::market::Side;
use tailrisk::model::revalue::RevalueModel;
use tailrisk::pricing::{black76, intrinsic};

const DAY: f64 = 1.0 / 365.0;

/// Options on a flat surface with carry (BTC, rate 1%) and on a skewed grid (ETH): between two
/// expiries (4DEC26, 29JAN27: the smile's curvature σ_kk ≠ 0), on a row (27NOV26), beyond the
/// last expiry (25JUN27), beyond the end knot (k < −0.4), one day to expiry (21NOV26); every
/// strike at least 0.01 in k from a knot, so no bump crosses a kink of the smile. And every
/// delta-one kind.
const INSTRUMENTS: &[&str] = &[
    "BTC-25DEC26-100000-C",
    "BTC-4DEC26-85000-P",
    "BTC-26MAR27-90000-C",
    "BTC-21NOV26-91000-P",
    "ETH-4DEC26-3200-C",
    "ETH-4DEC26-2800-P",
    "ETH-29JAN27-2400-P",
    "ETH-29JAN27-3600-C",
    "ETH-25JUN27-4500-C",
    "ETH-27NOV26-3300-C",
    "ETH-25DEC26-2000-P",
    "BTC",
    "BTC-PERPETUAL",
    "BTC_USDC-PERPETUAL",
    "BTC-25DEC26",
    "BTC_USDC-26MAR27",
];

fn one_of_each() -> Book {
    let positions: Vec<(&str, f64)> = INSTRUMENTS.iter().map(|&n| (n, 1.0)).collect();
    book(
        &two_asset_market(),
        &portfolio(&[("all", "USD", positions)]),
        &RunConfig::default(),
    )
}

/// The pricer at τ₀ (horizon 0): P&L per unit of instrument `i` when its asset's spot is
/// S₀(1 + h).
struct BasePricer {
    model: RevalueModel,
}

impl BasePricer {
    fn new(book: &Book) -> Self {
        let mut at_base = book.clone();
        at_base.horizon = 0.0;
        Self {
            model: RevalueModel::new(&at_base),
        }
    }

    fn pnl(&self, i: usize, asset: usize, h: f64) -> f64 {
        let mut states = [AssetState::default(); 2];
        states[asset].log_return = h.ln_1p();
        self.model.pnl(i, &states, VolRule::Uniform)
    }
}

#[test]
fn unit_greeks_match_finite_differences_of_the_pricer() {
    let b = one_of_each();
    let pricer = BasePricer::new(&b);
    let unit = instrument_greeks(&b);
    for (i, row) in b.instruments.iter().enumerate() {
        let asset = &b.assets[row.asset];
        let (s, g) = (asset.spot, unit[i]);
        // σ√τ of an option (∞ for delta-one: no curvature), the scale of its derivatives in
        // ln S: |∂ⁿV/∂(ln S)ⁿ| ≲ n·S/(σ√τ)^{n−1}.
        let sd = if row.spec.kind == InstrumentKind::Option {
            asset
                .surface
                .vol(row.tau0, (row.strike() / row.forward0).ln())
                * row.tau0.sqrt()
        } else {
            f64::INFINITY
        };
        // Delta: central difference in ln S, h = 1e-5. Truncation h²/6·|V'''| ≤ h²/6·3S/sd²;
        // rounding of the pricer (a few ε·S) over 2h: 1e-14·S/h.
        let h = 1e-5;
        let fd = (pricer.pnl(i, row.asset, h) - pricer.pnl(i, row.asset, -h)) / (2.0 * h);
        let tol = h * h / 6.0 * 3.0 * s / (sd * sd) + 1e-14 * s / h;
        assert!(
            (g.delta - fd).abs() < tol,
            "{}: delta {} vs FD {fd} (diff {}, tol {tol})",
            row.label,
            g.delta,
            g.delta - fd
        );
        // Gamma: second central difference, h = 1e-4. Truncation h²/12·4S/sd³; rounding
        // 4·(a few ε·S)/h²: 1e-14·S/h².
        let h = 1e-4;
        let fd = (pricer.pnl(i, row.asset, h) - 2.0 * pricer.pnl(i, row.asset, 0.0)
            + pricer.pnl(i, row.asset, -h))
            / (h * h);
        let tol = h * h / 12.0 * 4.0 * s / (sd * sd * sd) + 1e-14 * s / (h * h);
        assert!(
            (g.gamma - fd).abs() < tol,
            "{}: gamma {} vs FD {fd} (diff {}, tol {tol})",
            row.label,
            g.gamma,
            g.gamma - fd
        );
        match row.spec.kind {
            InstrumentKind::Option => {
                let (k, t, r) = (row.strike(), row.tau0, asset.rate);
                let sigma = asset.surface.vol(t, (k / row.forward0).ln());
                let v = |bump: f64| black76(row.right(), row.forward0, k, sigma + bump, t, r);
                // Vega is the change of V for +1 vol point on the whole surface (SPEC §8): the
                // pricer's own one-point difference, to rounding (1e-12 of the spot).
                let fd = v(0.01) - v(0.0);
                assert!(
                    (g.vega - fd).abs() < 1e-12 * s,
                    "{}: vega {} vs repriced {fd}",
                    row.label,
                    g.vega
                );
                // Theta by hand: one day later, spot fixed, the surface read at τ − 1 day and the
                // forward's new moneyness; intrinsic on S₀ once expired.
                let later = if t - DAY > 0.0 {
                    let f1 = s * (r * (t - DAY)).exp();
                    let sigma1 = asset.surface.vol(t - DAY, (k / f1).ln());
                    black76(row.right(), f1, k, sigma1, t - DAY, r)
                } else {
                    intrinsic(row.right(), s, k)
                };
                let theta = later - row.base_value;
                assert!(
                    (g.theta - theta).abs() < 1e-12 * s,
                    "{}: theta {} vs {theta}",
                    row.label,
                    g.theta
                );
                assert!(g.theta < 0.0, "{}: long options decay", row.label);
            }
            _ => {
                assert_eq!((g.gamma, g.vega), (0.0, 0.0), "{}", row.label);
                // Carry of a future over one day: F₀·(e^{−r·1d} − 1) for the linear future, in
                // coin-notional terms for the inverse one; nothing for spot and perpetuals.
                let expected = match row.label.as_str() {
                    "BTC_USDC-26MAR27" => row.forward0 * ((-asset.rate * DAY).exp() - 1.0),
                    "BTC-25DEC26" => s / row.forward0 - (-asset.rate * (row.tau0 - DAY)).exp(),
                    _ => 0.0,
                };
                assert!(
                    (g.theta - expected).abs() < 1e-12 * s,
                    "{}: theta {} vs {expected}",
                    row.label,
                    g.theta
                );
            }
        }
    }
}

/// On the skewed ETH grid the sticky-moneyness delta differs from Black-76's sticky-strike
/// delta F·Δ_F by −𝒱·σ_k: the finite difference above follows the former, and the two differ
/// by more than its tolerance, so the test sees the smile move.
#[test]
fn sticky_moneyness_moves_the_smile_with_the_forward() {
    let b = one_of_each();
    let i = b
        .instruments
        .iter()
        .position(|r| r.label == "ETH-4DEC26-2800-P")
        .expect("put");
    let row = &b.instruments[i];
    let surface = &b.assets[1].surface;
    let (f, k, t) = (row.forward0, row.strike(), row.tau0);
    let sigma = surface.vol(t, (k / f).ln());
    let d = 1e-4;
    let sticky_strike = f
        * (black76(Right::Put, f * (1.0 + d), k, sigma, t, 0.0)
            - black76(Right::Put, f * (1.0 - d), k, sigma, t, 0.0))
        / (2.0 * d * f);
    let g = unit_greeks(&b, row);
    assert!(
        (g.delta - sticky_strike).abs() > 1.0,
        "{} vs {sticky_strike}",
        g.delta
    );
    assert!(
        surface.dvol_dk(t, (k / f).ln(), Side::Right) < 0.0,
        "put skew"
    );
}

/// σ_kk against a second difference of the surface in k, between expiries (non-zero) and on a
/// row (zero).
#[test]
fn smile_curvature_matches_a_second_difference() {
    let b = one_of_each();
    let surface = &b.assets[1].surface;
    for &(tau, k) in &[
        (14.0 * DAY, 0.05),
        (14.0 * DAY, -0.29),
        (70.0 * DAY, 0.13),
        (7.0 * DAY, 0.1),
    ] {
        let h = 1e-4;
        let fd = (surface.vol(tau, k + h) - 2.0 * surface.vol(tau, k) + surface.vol(tau, k - h))
            / (h * h);
        // Truncation h²/12·|σ''''| (σ is smooth between knots) and rounding 4ε/h² ≈ 1e-7.
        assert!(
            (surface.smile_derivatives(tau, k, Side::Right).1 - fd).abs() < 1e-6,
            "τ {tau} k {k}: {fd}"
        );
    }
    assert!(
        surface
            .smile_derivatives(14.0 * DAY, 0.05, Side::Right)
            .1
            .abs()
            > 1e-3
    );
    assert_eq!(
        surface.smile_derivatives(7.0 * DAY, 0.1, Side::Right).1,
        0.0
    );
}

/// A BTC-margined account (SPEC §7): its Greeks are those of W = V_USD/S_BTC, checked by finite
/// differences of W through the pricer: in BTC, with the conversion's own delta and gamma for
/// BTC and V/S_BTC scaling for ETH.
#[test]
fn coin_greeks_are_those_of_the_coin_value() {
    let positions = vec![
        ("BTC", 2.0),
        ("BTC-25DEC26-100000-C", -3.0),
        ("BTC-PERPETUAL", 100_000.0),
        ("ETH-29JAN27-3600-C", 10.0),
        ("BTC_USDC-26MAR27", 0.5),
    ];
    let b = book(
        &two_asset_market(),
        &portfolio(&[
            ("coin", "BTC", positions),
            ("collateral", "BTC", vec![("BTC", 5.0)]),
            ("perp", "BTC", vec![("BTC-PERPETUAL", 50_000.0)]),
        ]),
        &RunConfig::default(),
    );
    let pricer = BasePricer::new(&b);
    let unit = instrument_greeks(&b);
    let account = &b.accounts[0];
    let s = b.assets[0].spot;
    let value = |asset: usize, h: f64| -> f64 {
        let usd: f64 = account
            .exposures
            .iter()
            .filter(|e| b.instruments[e.instrument].asset == asset)
            .map(|e| e.quantity * pricer.pnl(e.instrument, asset, h))
            .sum();
        let coin_spot = if asset == 0 { s * (1.0 + h) } else { s };
        (account.base_value_usd + usd) / coin_spot
    };
    let g = account_greeks(&b, account, &unit);
    let notional = b.gross_exposure(0) / s;
    for (asset, greeks) in g.iter().enumerate().take(2) {
        let h = 1e-4;
        let delta = (value(asset, h) - value(asset, -h)) / (2.0 * h);
        let gamma = (value(asset, h) - 2.0 * value(asset, 0.0) + value(asset, -h)) / (h * h);
        // The options here have σ√τ ≥ 0.14: truncation below 1e-6 of the notional (in BTC);
        // rounding 1e-14·notional/h².
        assert!(
            (greeks.delta - delta).abs() < 1e-6 * notional,
            "asset {asset}: delta {} vs {delta}",
            greeks.delta
        );
        assert!(
            (greeks.gamma - gamma).abs() < 1e-5 * notional,
            "asset {asset}: gamma {} vs {gamma}",
            greeks.gamma
        );
    }
    let usd = tailrisk::greeks::account_greeks_usd(&b, account, &unit);
    assert!((g[1].vega - usd[1].vega / s).abs() < 1e-15 * notional);
    assert!((g[0].theta - usd[0].theta / s).abs() < 1e-15 * notional);

    // Coin collateral has no coin delta or gamma; an inverse perpetual of USD notional q has
    // coin delta q/S and gamma −2q/S (its coin value is q(1/S₀ − 1/S)).
    let c = account_greeks(&b, &b.accounts[1], &unit)[0];
    assert!(c.delta.abs() < 1e-12 && c.gamma.abs() < 1e-12, "{c:?}");
    let p = account_greeks(&b, &b.accounts[2], &unit)[0];
    assert!(
        (p.delta - 50_000.0 / s).abs() < 1e-12 && (p.gamma + 100_000.0 / s).abs() < 1e-12,
        "{p:?}"
    );
}

/// An option struck at the forward sits on the smile's knot k = 0, where the piecewise-linear
/// smile has a kink: delta is the average of the one-sided derivatives, which is what a
/// central difference of the pricer converges to (error O(h) from the kink's asymmetry, here
/// below 1e-4 of the spot at h = 1e-6; regression of the review finding that delta was
/// one-sided at knots).
#[test]
fn delta_at_a_smile_knot_is_the_central_difference() {
    // ETH on the grid: rate 0, so F = S and K = 3050 is exactly at k = 0, between expiries.
    let b = book(
        &two_asset_market(),
        &portfolio(&[("atm", "USD", vec![("ETH-4DEC26-3050-C", 1.0)])]),
        &RunConfig::default(),
    );
    let pricer = BasePricer::new(&b);
    let g = instrument_greeks(&b)[0];
    let s = b.assets[1].spot;
    let h = 1e-6;
    let fd = (pricer.pnl(0, 1, h) - pricer.pnl(0, 1, -h)) / (2.0 * h);
    assert!(
        (g.delta - fd).abs() < 1e-4 * s,
        "delta {} vs central FD {fd}",
        g.delta
    );
    let right = (pricer.pnl(0, 1, h) - pricer.pnl(0, 1, 0.0)) / h;
    let left = (pricer.pnl(0, 1, 0.0) - pricer.pnl(0, 1, -h)) / h;
    assert!(
        (right - left).abs() > 1e-3 * s,
        "the kink is real: {left} vs {right}"
    );
}
