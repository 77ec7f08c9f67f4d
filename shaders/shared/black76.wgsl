// Black-76 and the standard normal CDF in f32.
//
// Mirror of `src/pricing.rs` (f64). Phi is 1/2 erfc(-x/sqrt 2) with the Chebyshev-fitted erfc
// of Numerical Recipes (`erfcc`, relative error below 1.2e-7 for every argument), evaluated
// in f32. Measured against `pricing::norm_cdf` (`tests/gpu_equivalence.rs`): absolute error
// below 2e-7, and relative error below 5e-7 in the lower tail down to x = -11.5.

#import math

// Standard normal CDF, Phi(x) = 1/2 erfc(|x| / sqrt 2) for x < 0 and 1 minus that for x >= 0.
// erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2); z^2 = x^2 / 2 is formed from x, not from
// the rounded z, with x^2 = xh^2 + (x - xh)(x + xh), xh = x rounded to 12 bits (xh^2 exact):
// otherwise the rounding of z^2 ~ 66 at x = -11.5 alone costs 1e-5 relative in the tail.
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

// Payoff max(+-(s - k), 0).
fn intrinsic(is_call: bool, s: f32, k: f32) -> f32 {
    return select(max(k - s, 0.0), max(s - k, 0.0), is_call);
}

// Black-76 from sd = sigma sqrt(tau) and discount e^(-r tau); sd <= 0 gives the discounted
// intrinsic value of the forward. The out-of-the-money side is priced by the formula and the
// other by parity, C - P = D (F - K): the formula never subtracts two large numbers to leave
// a small one.
fn black76_sd(is_call: bool, f: f32, k: f32, sd: f32, discount: f32) -> f32 {
    if !(sd > 0.0) {
        return discount * intrinsic(is_call, f, k);
    }
    let d1 = ln_f32(f / k) / sd + 0.5 * sd;
    let d2 = d1 - sd;
    if f >= k {
        let put = discount * (k * norm_cdf(-d2) - f * norm_cdf(-d1));
        return select(put, put + discount * (f - k), is_call);
    }
    let call = discount * (f * norm_cdf(d1) - k * norm_cdf(d2));
    return select(call + discount * (k - f), call, is_call);
}

// Black-76 price (`pricing::black76`): with tau <= 0 or sigma = 0 the discounted intrinsic
// value of the forward.
fn black76(is_call: bool, f: f32, k: f32, vol: f32, tau: f32, rate: f32) -> f32 {
    let discount = exp_f32(-rate * max(tau, 0.0));
    return black76_sd(is_call, f, k, vol * sqrt(max(tau, 0.0)), discount);
}
