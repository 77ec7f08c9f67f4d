//! Polynomial f32 elementary functions for the fast kernels: no libm call, no table, no
//! branch, so LLVM vectorises the loops that call them. An option's two Φ values share one
//! exp ([`norm_cdf_pair`]).
//!
//! Every function is generic over `FMA`: with `true` each multiply-add is fused
//! (`f32::mul_add`, which becomes `vfmadd` inside a `#[target_feature(enable = "fma")]`
//! caller), with `false` it is a multiply then an add (the baseline x86-64 build, where
//! `mul_add` would be a libm call). Both are exactly rounded IEEE operations lane by lane, so
//! a lane's result depends only on its inputs and on `FMA`, never on its neighbours.
//!
//! Measured maximum errors against the f64 reference (`f64::exp`, [`crate::pricing::norm_cdf`]),
//! over the test grids of this module (both `FMA` settings):
//! - [`exp`]: relative error 8.2e-8 (under one ulp) on [−87, 88]; `exp(0) == 1` exactly,
//!   so a zero vol shock leaves a vol unchanged bit for bit.
//! - [`norm_cdf`]: absolute error 1.9e-7 (1.5e-7 with FMA) on [−14, 14]; in the lower tail
//!   relative error 1.5e-6 where Φ ≥ 1e-8 (z ≥ −5.6) and 7.2e-6 where Φ ≥ 1e-30
//!   (z ≥ −11.4). The fit itself (Numerical Recipes' `erfcc`) is within 1.2e-7 relative;
//!   the growth in the tail is the f32 rounding of z·z in the exponent, an absolute error of
//!   ~6e-8·z²/2 there. Tests assert 1e-7, 2e-7, 2e-6 and 1e-5.

/// a·b + c, fused when `FMA`.
#[inline(always)]
pub fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// a·b + c in f64, fused when `FMA`.
#[inline(always)]
pub fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// e^x for x ∈ [−87, 88] (clamped outside, so never inf or NaN for finite x): Cody–Waite
/// reduction x = n·ln 2 + f with |f| ≤ ½ln 2, Cephes' degree-6 minimax polynomial for e^f,
/// and 2ⁿ built in the exponent bits. Round-to-nearest of x·log₂e by the 1.5·2²³ trick (no
/// `round()`, which is a libm call on baseline x86-64).
#[inline(always)]
pub fn exp<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const MAGIC: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer.
    const LN2_HI: f32 = 0.693_359_4; // few mantissa bits: n·LN2_HI is exact.
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = madd::<FMA>(x, LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let n_int = shifted.to_bits() as i32 - MAGIC.to_bits() as i32;
    let f = madd::<FMA>(n, -LN2_LO, madd::<FMA>(n, -LN2_HI, x));
    let mut p = 1.987_569_1e-4_f32;
    p = madd::<FMA>(p, f, 1.398_199_9e-3);
    p = madd::<FMA>(p, f, 8.333_452e-3);
    p = madd::<FMA>(p, f, 4.166_579_6e-2);
    p = madd::<FMA>(p, f, 1.666_666_5e-1);
    p = madd::<FMA>(p, f, 0.5);
    let y = madd::<FMA>(p, f * f, f) + 1.0;
    y * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// Standard normal CDF Φ(z) = ½·erfc(−z/√2). With u = |z|/√2 and t = 1/(1 + u/2),
/// erfc(u) = t·exp(−u² + P(t)), P the degree-9 Chebyshev fit of Numerical Recipes' `erfcc`
/// (fractional error < 1.2e-7 for every u ≥ 0); Φ(−|z|) = ½erfc(u) keeps relative accuracy
/// in the lower tail, and Φ(|z|) = 1 − Φ(−|z|).
#[inline(always)]
pub fn norm_cdf<const FMA: bool>(z: f32) -> f32 {
    const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let u = z.abs() * FRAC_1_SQRT_2;
    let t = 1.0 / madd::<FMA>(0.5, u, 1.0);
    let mut p = 0.170_872_77_f32;
    p = madd::<FMA>(p, t, -0.822_152_23);
    p = madd::<FMA>(p, t, 1.488_515_9);
    p = madd::<FMA>(p, t, -1.135_204);
    p = madd::<FMA>(p, t, 0.278_868_07);
    p = madd::<FMA>(p, t, -0.186_288_06);
    p = madd::<FMA>(p, t, 0.096_784_18);
    p = madd::<FMA>(p, t, 0.374_091_96);
    p = madd::<FMA>(p, t, 1.000_023_7);
    p = madd::<FMA>(p, t, -1.265_512_2);
    // −u² = −z²/2 from z itself: z·z is the only rounding (u carries one more).
    let lower = 0.5 * t * exp::<FMA>(madd::<FMA>(-0.5 * z, z, p));
    if z <= 0.0 { lower } else { 1.0 - lower }
}

/// Q(t) = erfc(u)·e^{u²}/t with t = 1/(1 + u/2): a degree-10 polynomial in t (Horner,
/// highest first), interpolated at 11 Chebyshev nodes of [0, 1] in 50-digit arithmetic
/// (mpmath) and rounded to f32: relative error 5.2e-8 exactly evaluated, 1.4e-7 in f32
/// arithmetic. Q runs from 1/(2√π) at t → 0 to 1 at t = 1.
const ERFCX_OVER_T: [f32; 11] = [
    0.045_351_338,
    -0.245_580_03,
    0.516_899_5,
    -0.482_474_77,
    0.151_885_18,
    -0.067_958_27,
    0.095_827_2,
    0.174_948_6,
    0.246_913_57,
    0.282_092_87,
    0.282_094_8,
];

/// Φ(z₁) and Φ(z₂) of one option (z₁ = εd₁, z₂ = εd₂) with one exp: z₁² − z₂² = 2x,
/// e^{x} = `moneyness` = F/K, so e^{−z₂²/2} = e^{−z₁²/2}·F/K, and for either,
/// Φ(−|z|) = ½·t·e^{−z²/2}·Q(t) with t = 1/(1 + |z|/(2√2)) (`ERFCX_OVER_T`),
/// Φ(|z|) = 1 − Φ(−|z|). Errors: the fit's 1.4e-7 relative, the exp's 8e-8, and the f32
/// rounding of z₁·z₁ in its argument (as in [`norm_cdf`]); e^{−z₁²/2} is clamped at e^{−87}
/// (a Φ below ~1e-38·F/K is not resolved). Measured against the f64 reference over
/// ln(F/K) ∈ [−3, 3] and σ√τ ∈ [0.01, 3] (both `FMA` settings): absolute 2.2e-7, relative
/// 2.4e-6 in the lower tail where Φ ≥ 1e-8; tests assert 2.5e-7 and 5e-6. The kernels use
/// this pair; [`norm_cdf`] stays for single values.
#[inline(always)]
pub fn norm_cdf_pair<const FMA: bool>(z1: f32, z2: f32, moneyness: f32) -> (f32, f32) {
    const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let gauss1 = exp::<FMA>(-0.5 * z1 * z1);
    let gauss2 = gauss1 * moneyness;
    // t_i = 1/(1 + u_i/2) from one division: r = 1/(D₁D₂), t₁ = r·D₂, t₂ = r·D₁ (two
    // roundings more than dividing each, a relative 1.2e-7 in t).
    let d1 = madd::<FMA>(0.5 * FRAC_1_SQRT_2, z1.abs(), 1.0);
    let d2 = madd::<FMA>(0.5 * FRAC_1_SQRT_2, z2.abs(), 1.0);
    let r = 1.0 / (d1 * d2);
    (
        cdf_from_gauss::<FMA>(z1, r * d2, gauss1),
        cdf_from_gauss::<FMA>(z2, r * d1, gauss2),
    )
}

/// Φ(z) from t = 1/(1 + |z|/(2√2)) and e^{−z²/2} (see [`norm_cdf_pair`]).
#[inline(always)]
fn cdf_from_gauss<const FMA: bool>(z: f32, t: f32, gauss: f32) -> f32 {
    let mut q = ERFCX_OVER_T[0];
    for &c in &ERFCX_OVER_T[1..] {
        q = madd::<FMA>(q, t, c);
    }
    let lower = 0.5 * t * (gauss * q);
    if z <= 0.0 { lower } else { 1.0 - lower }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing;

    fn exp_error<const FMA: bool>() -> f64 {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let got = f64::from(exp::<FMA>(x));
            let want = f64::from(x).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.000_37;
        }
        eprintln!("exp relative error (FMA {FMA}): {worst:e}");
        worst
    }

    /// Max absolute error, and max relative error for z ≤ 0 where Φ ≥ 1e-8 and where
    /// Φ ≥ 1e-30.
    fn cdf_error<const FMA: bool>() -> (f64, f64, f64) {
        let (mut abs, mut rel_near, mut rel) = (0.0f64, 0.0f64, 0.0f64);
        let mut z = -14.0f32;
        while z <= 14.0 {
            let got = f64::from(norm_cdf::<FMA>(z));
            let want = pricing::norm_cdf(f64::from(z));
            abs = abs.max((got - want).abs());
            if z <= 0.0 && want >= 1e-30 {
                rel = rel.max(((got - want) / want).abs());
                if want >= 1e-8 {
                    rel_near = rel_near.max(((got - want) / want).abs());
                }
            }
            z += 0.000_29;
        }
        eprintln!("Φ errors (FMA {FMA}): absolute {abs:e}, relative {rel_near:e} / {rel:e}");
        (abs, rel_near, rel)
    }

    /// The one-exp pair against the f64 reference's Φ of the same f32 arguments, over
    /// moneyness x ∈ [−3, 3], sd from 0.01 to 3 and both sides ε: max absolute error, and
    /// max relative error of the lower tails (Φ ≤ ½) where Φ ≥ 1e-8.
    fn pair_error<const FMA: bool>() -> (f64, f64) {
        let (mut abs, mut rel) = (0.0f64, 0.0f64);
        for xi in -300..=300 {
            let x = f64::from(xi) * 0.01;
            for &sd in &[0.01, 0.03, 0.1, 0.3, 0.7, 1.5, 3.0] {
                for eps in [1.0, -1.0] {
                    let d1 = x / sd + 0.5 * sd;
                    let (z1, z2) = ((eps * d1) as f32, (eps * (d1 - sd)) as f32);
                    let (p1, p2) = norm_cdf_pair::<FMA>(z1, z2, x.exp() as f32);
                    for (z, p) in [(z1, p1), (z2, p2)] {
                        let want = pricing::norm_cdf(f64::from(z));
                        abs = abs.max((f64::from(p) - want).abs());
                        if (1e-8..=0.5).contains(&want) {
                            rel = rel.max(((f64::from(p) - want) / want).abs());
                        }
                    }
                }
            }
        }
        eprintln!("Φ pair errors (FMA {FMA}): absolute {abs:e}, relative {rel:e}");
        (abs, rel)
    }

    #[test]
    fn norm_cdf_pair_is_within_the_documented_error() {
        for (abs, rel) in [pair_error::<false>(), pair_error::<true>()] {
            assert!(abs <= 2.5e-7, "Φ pair absolute error {abs:e}");
            assert!(rel <= 5e-6, "Φ pair relative error {rel:e} (Φ ≥ 1e-8)");
        }
    }

    #[test]
    fn exp_is_within_the_documented_error() {
        for worst in [exp_error::<false>(), exp_error::<true>()] {
            assert!(worst <= 1e-7, "exp relative error {worst:e}");
        }
        assert_eq!(exp::<false>(0.0), 1.0);
        assert_eq!(exp::<true>(0.0), 1.0);
        assert!(exp::<false>(-1e30) >= 0.0 && exp::<false>(1e30).is_finite());
    }

    #[test]
    fn norm_cdf_is_within_the_documented_error() {
        for (abs, rel_near, rel) in [cdf_error::<false>(), cdf_error::<true>()] {
            assert!(abs <= 2e-7, "Φ absolute error {abs:e}");
            assert!(rel_near <= 2e-6, "Φ relative error {rel_near:e} (Φ ≥ 1e-8)");
            assert!(rel <= 1e-5, "Φ relative error {rel:e} (Φ ≥ 1e-30)");
        }
        assert_eq!(norm_cdf::<false>(-60.0), norm_cdf::<false>(-60.0).max(0.0));
    }
}
