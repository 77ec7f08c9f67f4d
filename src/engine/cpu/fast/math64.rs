//! Polynomial f64 elementary functions for the f64 kernels: no libm call, no table, no
//! branch, so LLVM vectorises the loops that call them (8 lanes with AVX-512, 4 with AVX2).
//!
//! Generic over `FMA` as the f32 functions of [`super::math`] are: each multiply-add fused
//! or not, both exactly rounded lane by lane.
//!
//! Measured maximum errors against libm (`f64::exp`, `libm::erfc` through
//! [`crate::pricing::norm_cdf`]) over the test grids of this module, both `FMA` settings:
//! - [`exp`]: relative error 2.2e-16 (≈ 1 ulp) on [−708, 709]; `exp(0) == 1` exactly.
//! - [`norm_cdf`]: absolute error 3.3e-16 against libm on [−40, 40] (the rounding of
//!   1 − Φ(−|z|) above 0); relative error against 50-digit values (mpmath) at 97 points of
//!   [−37.5, 8] at most 5.2e-16 (two to three ulps). The Chebyshev series is truncated where its
//!   remaining terms are below 3e-18, and z² is carried exactly (see [`norm_cdf`]), so the
//!   error is that of f64 rounding of a few operations. The reference's ½·erfc(−z/√2) is
//!   less accurate in the lower tail: rounding −z/√2 costs a relative z²·1.1e-16
//!   (7e-15 at z = −8, 1.5e-13 at z = −37), so relative comparisons with it hold to that.
//!   Tests assert 4.5e-16 for `exp`; 4.5e-16 absolute, 6.7e-16 (three ulps) relative to the
//!   50-digit values, and 9e-16 + z²·2.2e-16 relative to the reference for Φ (measured
//!   6.1e-16 + z²·2.2e-16: both functions' ulps).

/// a·b + c, fused when `FMA`.
#[inline(always)]
pub fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// e^x for x ∈ [−708, 709] (clamped outside, so never inf, NaN or subnormal for finite x):
/// Cody–Waite reduction x = n·ln 2 + f with |f| ≤ ½ln 2 (ln 2 in two parts, fdlibm's, so
/// n·LN2_HI is exact), the Taylor polynomial of e^f to degree 13 (remainder < 5e-18, under
/// a fortieth of an ulp), and 2ⁿ built in the exponent bits. Round-to-nearest of x·log₂e
/// by the 1.5·2⁵² trick (no `round()`, a libm call on baseline x86-64).
#[inline(always)]
pub fn exp<const FMA: bool>(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²: adding it rounds to an integer.
    // fdlibm's ln2_hi = 6.93147180369123816490e-01 and ln2_lo = 1.90821492927058770002e-10.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    // 1/k! for k = 13 down to 2.
    const INV_FACTORIAL: [f64; 12] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let x = x.clamp(-708.0, 709.0);
    let shifted = madd::<FMA>(x, LOG2E, MAGIC);
    let n = shifted - MAGIC;
    let n_int = shifted.to_bits() as i64 - MAGIC.to_bits() as i64;
    let f = madd::<FMA>(n, -LN2_LO, madd::<FMA>(n, -LN2_HI, x));
    let mut p = INV_FACTORIAL[0];
    for &c in &INV_FACTORIAL[1..] {
        p = madd::<FMA>(p, f, c);
    }
    let y = madd::<FMA>(p, f * f, f) + 1.0;
    y * f64::from_bits(((n_int + 1023) as u64) << 52)
}

/// Chebyshev coefficients c₀…c₂₇ of h(x) = ln(erfc(u)/t) + u² on x ∈ [−1, 1], where
/// t = (x + 1)/2 = 2/(2 + u): erfc(u) = t·exp(−u² + Σ c_k T_k(x)) for every u ≥ 0 (the form
/// of Numerical Recipes' `erfccheb`). Computed here at 60 digits with mpmath (80 Chebyshev
/// nodes); the first omitted coefficient is 5e-20 and all of them sum below 3e-18.
const ERFC_CHEBYSHEV: [f64; 28] = [
    -0.651_326_859_890_854_7,
    0.641_969_792_356_490_2,
    0.019_476_473_204_185_836,
    -0.009_561_514_786_808_632,
    -0.000_946_595_344_482_036_9,
    0.000_366_839_497_852_761_45,
    4.252_332_480_690_777e-5,
    -2.027_857_811_253_424_2e-5,
    -1.624_290_004_647_025_6e-6,
    1.303_655_835_580_523_2e-6,
    1.562_644_172_206_614_2e-8,
    -8.523_809_591_492_654e-8,
    6.529_054_439_098_851_5e-9,
    5.059_343_495_551_469e-9,
    -9.913_641_564_930_33e-10,
    -2.273_651_222_931_836e-10,
    9.646_791_102_015_527e-11,
    2.394_038_083_039_114_6e-12,
    -6.886_027_526_497_553e-12,
    8.944_879_273_090_725e-13,
    3.130_921_399_342_958e-13,
    -1.127_082_236_136_725_2e-13,
    3.810_905_255_189_232e-16,
    7.106_097_613_609_237e-15,
    -1.523_028_201_457_104_3e-15,
    -9.457_494_571_291_233e-17,
    1.210_237_189_224_279e-16,
    -2.816_663_087_747_177e-17,
];

/// Standard normal CDF Φ(z) = ½·erfc(−z/√2) to f64 accuracy. With u = |z|/√2 and
/// t = 2/(2 + u), erfc(u) = t·exp(−u² + h(2t − 1)), h the Chebyshev series of
/// `ERFC_CHEBYSHEV` summed by Clenshaw's recurrence. u² = z²/2 is carried exactly: with
/// z_hi the top 26 bits of z (z_hi² is exact) and z_lo = z − z_hi,
/// z² = z_hi² + z_lo(z + z_hi), and e^{−u²+h} = e^{−z_hi²/2}·e^{h − z_lo(z + z_hi)/2}, so a
/// large z² adds no rounding to the exponent. Φ(−|z|) = ½erfc(u) keeps relative accuracy in
/// the lower tail and Φ(|z|) = 1 − Φ(−|z|). |z| is clamped to 40 (Φ(−40) < 1e-348 is zero in
/// f64; below z ≈ −37.6 the result is under 1e-308, not the reference's subnormal).
#[inline(always)]
pub fn norm_cdf<const FMA: bool>(z: f64) -> f64 {
    const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
    // Not `min`, which would turn a NaN into 40: a NaN argument gives a NaN.
    let a = z.abs();
    let a = if a > 40.0 { 40.0 } else { a };
    let u = a * FRAC_1_SQRT_2;
    let t = 2.0 / (2.0 + u);
    let x = madd::<FMA>(2.0, t, -1.0);
    let two_x = 2.0 * x;
    // Clenshaw: b_k = 2x·b_{k+1} − b_{k+2} + c_k; h = x·b₁ − b₂ + c₀.
    let (mut b1, mut b2) = (0.0, 0.0);
    for &c in ERFC_CHEBYSHEV[1..].iter().rev() {
        let b0 = madd::<FMA>(two_x, b1, c - b2);
        b2 = b1;
        b1 = b0;
    }
    let h = madd::<FMA>(x, b1, ERFC_CHEBYSHEV[0] - b2);
    let hi = f64::from_bits(a.to_bits() & 0xFFFF_FFFF_F800_0000);
    let lo = a - hi;
    let big = exp::<FMA>(-0.5 * (hi * hi));
    let small = exp::<FMA>(madd::<FMA>(-0.5 * lo, a + hi, h));
    let lower = 0.5 * t * (big * small);
    if z <= 0.0 { lower } else { 1.0 - lower }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing;

    fn exp_error<const FMA: bool>() -> f64 {
        let mut worst = 0.0f64;
        let mut x = -708.0f64;
        while x <= 709.0 {
            let (got, want) = (exp::<FMA>(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.000_713;
        }
        eprintln!("f64 exp relative error (FMA {FMA}): {worst:e}");
        worst
    }

    include!("norm_cdf_table.rs");

    /// Max absolute error against the reference, and max relative error against it
    /// beyond what its own argument rounding (z²·1.1e-16, twice for margin) explains, for
    /// z ≤ 0 where Φ ≥ 1e-300.
    fn cdf_error<const FMA: bool>() -> (f64, f64) {
        let (mut abs, mut rel) = (0.0f64, 0.0f64);
        let mut z = -40.0f64;
        while z <= 40.0 {
            let (got, want) = (norm_cdf::<FMA>(z), pricing::norm_cdf(z));
            abs = abs.max((got - want).abs());
            if z <= 0.0 && want >= 1e-300 {
                let own = z * z * 2.2e-16;
                rel = rel.max(((got - want) / want).abs() - own);
            }
            z += 0.000_117;
        }
        eprintln!("f64 Φ errors (FMA {FMA}): absolute {abs:e}, relative beyond z²·2.2e-16 {rel:e}");
        (abs, rel)
    }

    fn table_error<const FMA: bool>() -> f64 {
        let worst = NORM_CDF_TABLE
            .iter()
            .map(|&(z, want)| ((norm_cdf::<FMA>(z) - want) / want).abs())
            .fold(0.0, f64::max);
        eprintln!("f64 Φ relative error against 50 digits (FMA {FMA}): {worst:e}");
        worst
    }

    #[test]
    fn exp_is_within_the_documented_error() {
        for worst in [exp_error::<false>(), exp_error::<true>()] {
            assert!(worst <= 4.5e-16, "exp relative error {worst:e}");
        }
        assert_eq!(exp::<false>(0.0), 1.0);
        assert_eq!(exp::<true>(0.0), 1.0);
        assert!(exp::<true>(-1e300) > 0.0 && exp::<true>(1e300).is_finite());
    }

    #[test]
    fn norm_cdf_is_within_the_documented_error() {
        for (abs, rel) in [cdf_error::<false>(), cdf_error::<true>()] {
            assert!(abs <= 4.5e-16, "Φ absolute error {abs:e}");
            assert!(
                rel <= 9e-16,
                "Φ relative error {rel:e} beyond the reference's own"
            );
        }
        for worst in [table_error::<false>(), table_error::<true>()] {
            assert!(
                worst <= 6.7e-16,
                "Φ relative error {worst:e} against 50 digits"
            );
        }
        for z in [f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300] {
            let p = norm_cdf::<true>(z);
            assert!((0.0..=1.0).contains(&p), "Φ({z}) = {p}");
        }
        assert!((norm_cdf::<true>(0.0) - 0.5).abs() <= 1.2e-16);
        assert!(norm_cdf::<true>(f64::NAN).is_nan() && norm_cdf::<false>(f64::NAN).is_nan());
        assert!(exp::<true>(f64::NAN).is_nan());
    }
}
