//! The lane type of the fast kernels: f32 (the f32 mode) or f64 (the f64 kernels of the
//! default CPU run). One generic kernel serves both; this trait gives it the arithmetic and
//! the polynomial elementary functions of each ([`super::math`], [`super::math64`]).

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A floating-point lane type of the fast kernels.
pub trait Real:
    Copy
    + Default
    + PartialOrd
    + Debug
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const HALF: Self;
    const MIN_POSITIVE: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    /// Whether the aggregate stage fuses q·pnl + loss when the kernel has FMA. The f64
    /// kernels do not: their aggregate is then the reference's operation for operation
    /// (`aggregate::account_loss`), so an account's loss differs from the reference's only
    /// through the options' P&L.
    const FUSED_AGGREGATE: bool;

    /// `x` rounded to this type (exact for f64).
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// a·b + c, fused when `FMA`.
    fn madd<const FMA: bool>(a: Self, b: Self, c: Self) -> Self;
    /// e^x by the polynomial of this type's math module.
    fn exp<const FMA: bool>(x: Self) -> Self;
    /// Φ(x) by the polynomial of this type's math module.
    fn norm_cdf<const FMA: bool>(x: Self) -> Self;
    /// Φ(z₁) and Φ(z₂) of one option, z₁ = εd₁ and z₂ = εd₂, whose squares differ by 2x
    /// where e^{x} = `moneyness` = F/K (d₁² − d₂² = 2 ln(F/K)).
    fn norm_cdf_pair<const FMA: bool>(z1: Self, z2: Self, moneyness: Self) -> (Self, Self);
    fn sqrt(self) -> Self;
    fn max(self, other: Self) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const HALF: Self = 0.5;
    const MIN_POSITIVE: Self = f32::MIN_POSITIVE;
    const INFINITY: Self = f32::INFINITY;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const FUSED_AGGREGATE: bool = true;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn madd<const FMA: bool>(a: Self, b: Self, c: Self) -> Self {
        super::math::madd::<FMA>(a, b, c)
    }
    #[inline(always)]
    fn exp<const FMA: bool>(x: Self) -> Self {
        super::math::exp::<FMA>(x)
    }
    #[inline(always)]
    fn norm_cdf<const FMA: bool>(x: Self) -> Self {
        super::math::norm_cdf::<FMA>(x)
    }
    /// One exp for both ([`super::math::norm_cdf_pair`]).
    #[inline(always)]
    fn norm_cdf_pair<const FMA: bool>(z1: Self, z2: Self, moneyness: Self) -> (Self, Self) {
        super::math::norm_cdf_pair::<FMA>(z1, z2, moneyness)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        f32::max(self, other)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const HALF: Self = 0.5;
    const MIN_POSITIVE: Self = f64::MIN_POSITIVE;
    const INFINITY: Self = f64::INFINITY;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const FUSED_AGGREGATE: bool = false;

    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn madd<const FMA: bool>(a: Self, b: Self, c: Self) -> Self {
        super::math64::madd::<FMA>(a, b, c)
    }
    #[inline(always)]
    fn exp<const FMA: bool>(x: Self) -> Self {
        super::math64::exp::<FMA>(x)
    }
    #[inline(always)]
    fn norm_cdf<const FMA: bool>(x: Self) -> Self {
        super::math64::norm_cdf::<FMA>(x)
    }
    /// Two [`super::math64::norm_cdf`]: each carries its own z² exactly, which a shared
    /// exp (e^{−d₂²/2} = e^{−d₁²/2}·F/K) would not.
    #[inline(always)]
    fn norm_cdf_pair<const FMA: bool>(z1: Self, z2: Self, _moneyness: Self) -> (Self, Self) {
        (
            super::math64::norm_cdf::<FMA>(z1),
            super::math64::norm_cdf::<FMA>(z2),
        )
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        f64::max(self, other)
    }
}
