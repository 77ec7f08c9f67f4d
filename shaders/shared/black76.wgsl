// Black-76 and the standard normal CDF in f32.
//
// Mirror of `src/pricing.rs` (f64). Phi is 1/2 erfc(-x/sqrt 2) with the Chebyshev-fitted erfc
// of Numerical Recipes (`erfcc`, relative error below 1.2e-7 for every argument), evaluated
// in f32. Measured against `pricing::norm_cdf` (`tests/gpu_equivalence.rs`): absolute error
// below 2e-7, and relative error below 5e-7 in the lower tail down to x = -11.5.
//
// Branch-free: llvmpipe (lavapipe) runs both sides of every `if` under a lane mask, so the
// choices below are `select`s and each side is computed once.

#import math

// Standard normal CDF, Phi(x) = 1/2 erfc(|x| / sqrt 2) for x < 0 and 1 minus that for x >= 0.
// erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2); z^2 = x^2 / 2 is formed from x, not from
// the rounded z, with x^2 = xh^2 + (x - xh)(x + xh), xh = x rounded to 12 bits (xh^2 exact):
// otherwise the rounding of z^2 ~ 66 at x = -11.5 alone costs 1e-5 relative in the tail.
// (One exponential of the split argument, with -xh^2/2 and the rest added after the
// reduction, measured 4e-6 relative on lavapipe instead of the 2e-8 of its f32 emulation:
// the compiler reassociates it, so the two exponentials stay.)
fn norm_cdf(x: f32) -> f32 {
    let ax = abs(x);
    let t = 1.0 / (1.0 + 0.5 * (ax * 0.70710678118654752));
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let xh = bitcast<f32>(bitcast<u32>(ax) & 0xFFFFF000u);
    let e = 0.5 * t * exp_f32(-0.5 * xh * xh) * exp_f32(-0.5 * (ax - xh) * (ax + xh) + poly);
    return select(1.0 - e, e, x < 0.0);
}

// Phi for pricing: the same erfc with one exponential of -x^2/2 + P(t) formed in f32. Its
// relative error grows to ~|x|^2/2 ulp in the far tail, but its absolute error stays below
// the 2e-7 of `norm_cdf` (the rounding of the argument costs at most ~6e-8 |arg| e^-arg),
// and option prices need only that: an out-of-the-money price already carries an absolute
// error ~1e-7 (F + K). One exponential instead of two per call.
fn norm_cdf_price(x: f32) -> f32 {
    let ax = abs(x);
    let t = 1.0 / (1.0 + 0.5 * (ax * 0.70710678118654752));
    let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277))))))));
    let e = 0.5 * t * exp_f32(-0.5 * ax * ax + poly);
    return select(1.0 - e, e, x < 0.0);
}

// Payoff max(+-(s - k), 0).
fn intrinsic(is_call: bool, s: f32, k: f32) -> f32 {
    return select(max(k - s, 0.0), max(s - k, 0.0), is_call);
}

// Black-76 from the log-moneyness m = ln(F/K), sd = sigma sqrt(tau) and the discount
// e^(-r tau); sd <= 0 gives the discounted intrinsic value of the forward. The
// out-of-the-money side (the put when F >= K) is priced by the formula, with s = -1 for the
// put and +1 for the call, and the other by parity, C - P = D (F - K): the formula never
// subtracts two large numbers to leave a small one.
fn black76_lm(is_call: bool, f: f32, k: f32, m: f32, sd: f32, discount: f32) -> f32 {
    let otm_is_call = f < k;
    let s = select(-1.0, 1.0, otm_is_call);
    let d1 = m / sd + 0.5 * sd;
    let d2 = d1 - sd;
    let otm = discount * s * (f * norm_cdf_price(s * d1) - k * norm_cdf_price(s * d2));
    let parity = discount * (f - k);
    let value = otm + select(0.0, select(-parity, parity, is_call), is_call != otm_is_call);
    return select(discount * intrinsic(is_call, f, k), value, sd > 0.0);
}
