//! Black-76 and the standard normal distribution, in f64 (the reference).
//!
//! Mirror of `shaders/shared/black76.wgsl` (which computes the same formulas in f32).

use crate::instrument::Right;

/// Standard normal CDF Φ(x) = ½·erfc(−x/√2), accurate to double precision in both tails.
#[inline]
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// Standard normal density φ(x).
#[inline]
pub fn norm_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Black-76 price of a European option on a forward F, strike K, vol σ, time τ > 0 and
/// discount rate r: call = e^{−rτ}(F Φ(d₁) − K Φ(d₂)), put = e^{−rτ}(K Φ(−d₂) − F Φ(−d₁)),
/// d₁ = (ln(F/K) + ½σ²τ)/(σ√τ), d₂ = d₁ − σ√τ. With τ ≤ 0 or σ = 0 it is the discounted
/// intrinsic value of the forward.
#[inline]
pub fn black76(right: Right, forward: f64, strike: f64, vol: f64, tau: f64, rate: f64) -> f64 {
    let discount = (-rate * tau.max(0.0)).exp();
    let sd = vol * tau.max(0.0).sqrt();
    if sd <= 0.0 {
        return discount * intrinsic(right, forward, strike);
    }
    let d1 = (forward / strike).ln() / sd + 0.5 * sd;
    let d2 = d1 - sd;
    match right {
        Right::Call => discount * (forward * norm_cdf(d1) - strike * norm_cdf(d2)),
        Right::Put => discount * (strike * norm_cdf(-d2) - forward * norm_cdf(-d1)),
    }
}

/// Payoff max(±(S − K), 0).
#[inline]
pub fn intrinsic(right: Right, spot: f64, strike: f64) -> f64 {
    match right {
        Right::Call => (spot - strike).max(0.0),
        Right::Put => (strike - spot).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_reference_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((norm_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
        // Φ(−8) = 6.22096057427178e-16: relative accuracy in the far tail.
        assert!((norm_cdf(-8.0) / 6.220_960_574_271_78e-16 - 1.0).abs() < 1e-12);
    }

    /// Put-call parity C − P = e^{−rτ}(F − K) and a textbook value (Hull: F = 20, K = 20,
    /// σ = 0.25, τ = 4/12, r = 0.09 → put 1.1166).
    #[test]
    fn black76_parity_and_reference() {
        let (f, k, s, t, r) = (20.0, 20.0, 0.25, 4.0 / 12.0, 0.09);
        let c = black76(Right::Call, f, k, s, t, r);
        let p = black76(Right::Put, f, k, s, t, r);
        assert!((c - p - (-r * t).exp() * (f - k)).abs() < 1e-12);
        assert!((p - 1.1166).abs() < 5e-5, "put {p}");
    }

    #[test]
    fn expired_option_is_intrinsic() {
        assert_eq!(black76(Right::Call, 110.0, 100.0, 0.5, 0.0, 0.0), 10.0);
        assert_eq!(black76(Right::Put, 110.0, 100.0, 0.5, -1.0, 0.0), 0.0);
    }
}
