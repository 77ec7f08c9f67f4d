// Black-76 and the standard normal CDF in f32.
//
// Mirror of `src/pricing.rs` (f64). Phi is 1/2 erfc(-x/sqrt 2) with the Chebyshev-fitted erfc
// of Numerical Recipes (`erfcc`, relative error below 1.2e-7 for every argument), evaluated
// in f32. Measured against `pricing::norm_cdf` (`tests/gpu_equivalence.rs`): absolute error
// below 2e-7, and relative error below 5e-7 in the lower tail down to x = -11.5. Pricing
// (`black76_lm`) uses A&S 26.2.17 instead, whose two Phi share one exponential.
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

// Payoff max(+-(s - k), 0).
fn intrinsic(is_call: bool, s: f32, k: f32) -> f32 {
    return select(max(k - s, 0.0), max(s - k, 0.0), is_call);
}

// Phi(x) = phi(x) R(t) for x < 0, t = 1 / (1 + p |x|) (Abramowitz & Stegun 26.2.17,
// absolute error below 7.5e-8): R(t), the factor of the density.
fn norm_tail_ratio(t: f32) -> f32 {
    return t * (0.319381530 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978
        + t * 1.330274429))));
}

const INV_SQRT_2PI: f32 = 0.39894228040143268;

// Black-76 from the log-moneyness m = ln(F/K), sd = sigma sqrt(tau) and the discount
// e^(-r tau); sd <= 0 gives the discounted intrinsic value of the forward. The
// out-of-the-money side (the put when F >= K) is priced by the formula, with s = -1 for the
// put and +1 for the call, and the other by parity, C - P = D (F - K): the formula never
// subtracts two large numbers to leave a small one. The two Phi share one exponential:
// K phi(d2) = F phi(d1), so F Phi(x1) and K Phi(x2) (x = s d) are F phi(d1) R(t) or F minus
// it, K minus it (A&S 26.2.17: absolute error below 7.5e-8 (F + K); an out-of-the-money
// price already carries ~1e-7 (F + K) from f32 rounding).
fn black76_lm(is_call: bool, f: f32, k: f32, m: f32, sd: f32, discount: f32) -> f32 {
    let otm_is_call = f < k;
    let s = select(-1.0, 1.0, otm_is_call);
    let d1 = m / sd + 0.5 * sd;
    let x1 = s * d1;
    let x2 = s * (d1 - sd);
    let density = f * INV_SQRT_2PI * exp_normal_f32(-0.5 * d1 * d1);
    // t1 = 1 / a1 and t2 = 1 / a2 from one division.
    let a1 = 1.0 + 0.2316419 * abs(x1);
    let a2 = 1.0 + 0.2316419 * abs(x2);
    let inv = 1.0 / (a1 * a2);
    let g1 = density * norm_tail_ratio(a2 * inv);
    let g2 = density * norm_tail_ratio(a1 * inv);
    let fn1 = select(f - g1, g1, x1 < 0.0);
    let kn2 = select(k - g2, g2, x2 < 0.0);
    let otm = discount * s * (fn1 - kn2);
    let parity = discount * (f - k);
    let value = otm + select(0.0, select(-parity, parity, is_call), is_call != otm_is_call);
    return select(discount * intrinsic(is_call, f, k), value, sd > 0.0);
}
