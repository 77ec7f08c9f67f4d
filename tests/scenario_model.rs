//! The scenario model of SPEC §3 checked by its moments, on every backend, over the horizon
//! states of regenerated paths: the correlation of the spot shocks, the unit variance of the
//! Student-t shocks, the spot–vol correlation and vol-of-vol of the log vol level, the jump
//! compensator (S stays a martingale), and exact GBM with several steps.
//!
//! Each tolerance is a number of standard errors of the estimator over N paths, written
//! beside it. No precision slack is added: the CPU's f32 mode takes its states from the f64
//! reference bit for bit, and the GPU's differ by ≤ 5e-7·steps in log units
//! (tests/gpu_equivalence.rs), over a thousand times below the tolerances here (the
//! smallest, 5 s.e. of a mean of 40 000 log returns of sd ≥ 0.03, is ≥ 7e-4).

#[macro_use]
mod common;

use common::*;
use tailrisk::config::{DynamicsInput, RunConfig};
use tailrisk::engine::Backend;

const PATHS: u32 = 40_000;

/// The horizon states (log return, log vol) of paths 0..PATHS, per asset.
fn states(
    backend: &dyn Backend,
    cfg: &RunConfig,
    market: &str,
    book_json: &str,
) -> Vec<Vec<(f64, f64)>> {
    let b = book(market, book_json, cfg);
    let paths: Vec<u32> = (0..PATHS).collect();
    let r = backend.revalue_paths(&b, cfg.seed, &paths).unwrap();
    let a = b.assets.len();
    (0..a)
        .map(|asset| {
            (0..PATHS as usize)
                .map(|p| {
                    let s = r.states[p * a + asset];
                    (s.log_return, s.log_vol)
                })
                .collect()
        })
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn var(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
}

fn corr(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let cov: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>();
    cov / (x.len() - 1) as f64 / (var(x) * var(y)).sqrt()
}

/// Zero dynamics, 5 steps: ln(S_h/S₀) ~ N(−½σ²h, σ²h) exactly, and the two assets'
/// returns have correlation 0.8 (BTC flat 0.55; ETH's spot_vol from its surface).
fn gbm_with_steps_and_correlation(backend: &dyn Backend) {
    let cfg = RunConfig {
        steps: 5,
        horizon_days: 10.0,
        ..config(PATHS as u64, 3, &[0.99])
    };
    let s = states(
        backend,
        &cfg,
        &two_asset_market(),
        &portfolio(&[("a", "USD", vec![("BTC", 1.0)])]),
    );
    let btc: Vec<f64> = s[0].iter().map(|x| x.0).collect();
    let eth: Vec<f64> = s[1].iter().map(|x| x.0).collect();
    let (sigma, h): (f64, f64) = (0.55, 10.0 / 365.0);
    let n = PATHS as f64;
    let sd = sigma * h.sqrt();
    // Mean: s.e. sd/√N; variance: s.e. var·√(2/N); five standard errors each.
    assert!(
        (mean(&btc) + 0.5 * sd * sd).abs() < 5.0 * sd / n.sqrt(),
        "mean {}",
        mean(&btc)
    );
    assert!(
        (var(&btc) / (sd * sd) - 1.0).abs() < 5.0 * (2.0 / n).sqrt(),
        "var {}",
        var(&btc)
    );
    // Correlation: s.e. (1 − ρ²)/√N.
    let rho = corr(&btc, &eth);
    assert!(
        (rho - 0.8).abs() < 5.0 * (1.0 - 0.64) / n.sqrt(),
        "correlation {rho}"
    );
    // No vol dynamics: the vol level stays 1.
    assert!(s[0].iter().all(|x| x.1 == 0.0));
}

/// Student-t shocks with ν = 5 keep unit variance (so σ²h) and raise kurtosis to that of a
/// t₅ (excess 6, which the sample shows clearly above the normal's 0).
fn student_t_keeps_unit_variance(backend: &dyn Backend) {
    let cfg = RunConfig {
        student_t_dof: Some(5),
        ..config(PATHS as u64, 4, &[0.99])
    };
    let s = states(
        backend,
        &cfg,
        &one_asset_market("BTC", 91_250.0, 0.8),
        &portfolio(&[("a", "USD", vec![("BTC", 1.0)])]),
    );
    let r: Vec<f64> = s[0].iter().map(|x| x.0).collect();
    let sd = 0.8 * (1.0f64 / 365.0).sqrt();
    let n = PATHS as f64;
    // The variance of a t₅ sample converges slowly (its fourth moment is 9σ⁴ with excess 6):
    // s.e. σ²·√((κ − 1)/N) with κ = 9; five standard errors.
    assert!(
        (var(&r) / (sd * sd) - 1.0).abs() < 5.0 * (8.0 / n).sqrt(),
        "var ratio {}",
        var(&r) / (sd * sd)
    );
    let m = mean(&r);
    let kurtosis = r.iter().map(|x| (x - m).powi(4)).sum::<f64>() / n / var(&r).powi(2);
    assert!(kurtosis > 4.0, "kurtosis {kurtosis}");
}

/// One step: x_h = η√h·ζ with ζ = ρε + √(1−ρ²)w, so corr(ln S_h, ln Y_h) = ρ and
/// Var(ln Y_h) = η²h; jumps with their compensator keep E[S_h/S₀] = 1.
fn vol_level_and_jumps(backend: &dyn Backend) {
    let mut cfg = config(PATHS as u64, 6, &[0.99]);
    cfg.dynamics.insert(
        "BTC".into(),
        DynamicsInput {
            vol_of_vol: 1.5,
            spot_vol_corr: -0.6,
            jump_intensity: 300.0,
            jump_mean: -0.03,
            jump_std: 0.05,
            ..Default::default()
        },
    );
    let s = states(
        backend,
        &cfg,
        &one_asset_market("BTC", 91_250.0, 0.6),
        &portfolio(&[("a", "USD", vec![("BTC", 1.0)])]),
    );
    let (r, x): (Vec<f64>, Vec<f64>) = s[0].iter().copied().unzip();
    let n = PATHS as f64;
    let h = 1.0 / 365.0;
    // Var(x) = η²h, s.e. var·√(2/N).
    assert!(
        (var(&x) / (1.5 * 1.5 * h) - 1.0).abs() < 5.0 * (2.0 / n).sqrt(),
        "vol-of-vol"
    );
    // The jumps dilute the diffusion's correlation: corr = ρ·σ√h / sd(r). s.e. ≈ 1/√N.
    let expected = -0.6 * 0.6 * h.sqrt() / var(&r).sqrt();
    assert!(
        (corr(&r, &x) - expected).abs() < 5.0 / n.sqrt(),
        "spot-vol corr {} vs {expected}",
        corr(&r, &x)
    );
    // Martingale: E[e^r] = 1; s.e. sd(e^r)/√N.
    let growth: Vec<f64> = r.iter().map(|v| v.exp()).collect();
    assert!(
        (mean(&growth) - 1.0).abs() < 5.0 * var(&growth).sqrt() / n.sqrt(),
        "E[S_h/S0] {}",
        mean(&growth)
    );
    // About λh = 0.82 jumps per path: the jump mean shows in the sample mean of r against
    // the compensator, so the jumps really happened.
    assert!(mean(&r) < -0.5 * 0.36 * h, "jumps shift the median down");
}

on_every_backend!(
    gbm_with_steps_and_correlation,
    student_t_keeps_unit_variance,
    vol_level_and_jumps
);
