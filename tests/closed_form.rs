//! Closed-form checks of the engine, written once and run on every backend (issue #2 item 11,
//! issue #3 item 6): GBM VaR/ES of a spot position, and an option whose VaR is the option
//! repriced at the spot quantile, time decay included.

#[macro_use]
mod common;

use common::*;
use tailrisk::engine::Backend;
use tailrisk::instrument::Right;
use tailrisk::pricing::{black76, norm_cdf, norm_pdf};

/// Extra absolute slack for a backend's arithmetic, relative to a figure's scale: zero for the
/// f64 reference; for f32, 2e-5 of the scale (about 100 ulps of f32: Box–Muller and exp in
/// single precision, see the GPU precision notes).
fn precision_slack(backend: &dyn Backend, scale: f64) -> f64 {
    if backend.info().precision == tailrisk::engine::Precision::F64 {
        0.0
    } else {
        2e-5 * scale
    }
}

/// GBM: L = S₀(1 − e^r), r ~ N(μ, s²), μ = −½σ²h, s = σ√h. With p = 1 − α and z = Φ⁻¹(p):
/// VaR = S₀(1 − e^{μ + s z}), ES = S₀(1 − e^{μ + s²/2}·Φ(z − s)/p).
fn gbm_spot_var_es(backend: &dyn Backend) {
    let (spot, vol, paths, alpha) = (100.0, 0.8, 200_000u64, 0.99);
    let cfg = config(paths, 7, &[alpha]);
    let b = book(
        &one_asset_market("BTC", spot, vol),
        &portfolio(&[("spot", "USD", vec![("BTC", 1.0)])]),
        &cfg,
    );
    let h = b.horizon;
    let sim = run(b, &cfg, backend);
    let m = sim.accounts[0].measures[0];

    let (mu, s, p) = (-0.5 * vol * vol * h, vol * h.sqrt(), 1.0 - alpha);
    let z = norm_quantile(p);
    let r_q = mu + s * z;
    let var = spot * (1.0 - r_q.exp());
    let es = spot * (1.0 - (mu + 0.5 * s * s).exp() * norm_cdf(z - s) / p);

    // Standard error of the empirical p-quantile of r: √(p(1−p)/N) / density, density of r at
    // r_q = φ(z)/s; mapped to the loss by dL/dr = S₀e^{r_q}.
    let se_var = (p * (1.0 - p) / paths as f64).sqrt() * s / norm_pdf(z) * spot * r_q.exp();
    // σ²_ES = [Var(L | tail) + α(ES − VaR)²] / (N p), with the tail moments of the lognormal:
    // E[e^r | r ≤ r_q] = e^{μ+s²/2}Φ(z−s)/p, E[e^{2r} | r ≤ r_q] = e^{2μ+2s²}Φ(z−2s)/p.
    let m1 = (mu + 0.5 * s * s).exp() * norm_cdf(z - s) / p;
    let m2 = (2.0 * mu + 2.0 * s * s).exp() * norm_cdf(z - 2.0 * s) / p;
    let tail_var = spot * spot * (m2 - m1 * m1);
    let se_es = ((tail_var + alpha * (es - var).powi(2)) / (paths as f64 * p)).sqrt();

    let slack = precision_slack(backend, spot);
    // Four standard errors: a seeded test that fails with probability ≈ 6e-5 per figure.
    assert!(
        (m.var - var).abs() < 4.0 * se_var + slack,
        "VaR {} vs closed form {var} (4 s.e. = {})",
        m.var,
        4.0 * se_var
    );
    assert!(
        (m.es - es).abs() < 4.0 * se_es + slack,
        "ES {} vs closed form {es} (4 s.e. = {})",
        m.es,
        4.0 * se_es
    );
    // The 95% intervals contain the closed form (seeded; each holds with probability 0.95,
    // and this seed's draw is checked, not a coin flip at run time).
    assert!(
        m.var_ci[0] <= var && var <= m.var_ci[1],
        "VaR CI {:?} vs {var}",
        m.var_ci
    );
    assert!(
        m.es_ci[0] <= es && es <= m.es_ci[1],
        "ES CI {:?} vs {es}",
        m.es_ci
    );
}

/// A long call loses most where the spot falls most, so its VaR is the option repriced at the
/// spot's p-quantile at the horizon, with the time decay of h: VaR = V₀ − C(S_q, τ₀ − h).
/// Checked two ways: exactly against the same run's spot quantile, and against the closed
/// form quantile within the Monte Carlo error mapped through the option's delta. The put
/// mirrors it at the upper quantile (against a short spot position).
fn option_var_is_option_at_spot_quantile(backend: &dyn Backend) {
    let (spot, vol, paths, alpha) = (91_250.0, 0.6, 100_000u64, 0.99);
    let cfg = config(paths, 11, &[alpha]);
    let b = book(
        &one_asset_market("BTC", spot, vol),
        &portfolio(&[
            ("long-spot", "USD", vec![("BTC", 1.0)]),
            ("long-call", "USD", vec![("BTC-25DEC26-90000-C", 1.0)]),
            ("short-spot", "USD", vec![("BTC", -1.0)]),
            ("long-put", "USD", vec![("BTC-25DEC26-95000-P", 1.0)]),
        ]),
        &cfg,
    );
    let (h, tau0_call, v0_call) = (
        b.horizon,
        b.instruments[1].tau0,
        b.instruments[1].base_value,
    );
    // Instruments are de-duplicated: BTC (0), the call (1), the put (2).
    let (tau0_put, v0_put) = (b.instruments[2].tau0, b.instruments[2].base_value);
    let sim = run(b, &cfg, backend);
    let var = |i: usize| sim.accounts[i].measures[0].var;

    // Same run: the spot at the k-th worst path of the spot accounts.
    let spot_low = spot - var(0);
    let spot_high = spot + var(2);
    let call_at = |s: f64| black76(Right::Call, s, 90_000.0, vol, tau0_call - h, 0.0);
    let put_at = |s: f64| black76(Right::Put, s, 95_000.0, vol, tau0_put - h, 0.0);
    let slack = precision_slack(backend, spot);
    // f64 rounding of S₀ − VaR and of the two Black-76 evaluations: 1e-9 of the spot.
    let exact = 1e-9 * spot + slack;
    assert!(
        (var(1) - (v0_call - call_at(spot_low))).abs() < exact,
        "call VaR {} vs repriced {}",
        var(1),
        v0_call - call_at(spot_low)
    );
    assert!(
        (var(3) - (v0_put - put_at(spot_high))).abs() < exact,
        "put VaR {} vs repriced {}",
        var(3),
        v0_put - put_at(spot_high)
    );

    // Closed form: S_q = S₀e^{μ ± s z}; Monte Carlo error of the quantile (as in the GBM test)
    // times |delta| ≤ 1, four standard errors.
    let (mu, s, p) = (-0.5 * vol * vol * h, vol * h.sqrt(), 1.0 - alpha);
    let z = norm_quantile(p);
    let se_r = (p * (1.0 - p) / paths as f64).sqrt() * s / norm_pdf(z);
    let s_low = spot * (mu + s * z).exp();
    let s_high = spot * (mu - s * z).exp();
    let tol = 4.0 * se_r * s_high + slack;
    assert!(
        (var(1) - (v0_call - call_at(s_low))).abs() < tol,
        "call VaR vs closed form"
    );
    assert!(
        (var(3) - (v0_put - put_at(s_high))).abs() < tol,
        "put VaR vs closed form"
    );
    // Time decay is in: the call's VaR exceeds the spot-move-only loss at the same quantile.
    let call_no_decay = v0_call - black76(Right::Call, s_low, 90_000.0, vol, tau0_call, 0.0);
    assert!(var(1) > call_no_decay);
}

on_every_backend!(gbm_spot_var_es, option_var_is_option_at_spot_quantile);
