//! The hot loops of the SIMD kernels (f64 and f32 lanes, [`Real`]): revalue
//! (instrument-major over a block of [`LANES`] paths) and aggregate (exposures × P&L rows
//! into one account's loss row).
//!
//! Each kernel is one generic function (`FMA` a const parameter) marked
//! `#[inline(always)]`, instantiated three times: inside a
//! `#[target_feature(enable = "avx512f,…")]` function and inside a
//! `#[target_feature(enable = "avx2,fma")]` one, chosen at run time by what the CPU has, and
//! in a plain function for baseline x86-64 (SSE2) and other architectures. The loops run
//! over fixed-length arrays with no call, no early exit and no lane-dependent branch, so
//! LLVM vectorises them (16 f32 or 8 f64 lanes with AVX-512, 8 or 4 with AVX2, 4 or 2 with
//! SSE2); every
//! operation is exactly rounded lane by lane, so a path's result depends on its own inputs
//! and on `FMA` only — not on its lane, its block, the vector width or the thread that ran
//! it (the AVX-512 and AVX2 kernels give the same bits; tests/cpu_fast.rs).

use super::math::madd64;
use super::real::Real;
use super::{FastModel, FastRow, LANES, OptionRow, ScenarioLanes, Segment};
use crate::book::{AccountBook, Book, Currency};
use crate::model::revalue::{Payoff, RevalueRow};
use crate::pricing::intrinsic;

/// The instruction set a fast kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The crate's target as built (x86-64 baseline: SSE2, no FMA).
    Baseline,
    /// AVX2 + FMA, chosen at run time.
    Avx2Fma,
    /// AVX-512 (F, VL, DQ, BW) with FMA, chosen at run time: 512-bit vectors.
    Avx512,
}

impl Isa {
    /// The best instruction set this CPU runs.
    pub fn detect() -> Self {
        if avx512_available() {
            Isa::Avx512
        } else if avx2_fma_available() {
            Isa::Avx2Fma
        } else {
            Isa::Baseline
        }
    }

    /// `isa` if this CPU runs it, else the best one below it that it runs.
    pub fn supported(isa: Isa) -> Self {
        match isa {
            Isa::Avx512 if avx512_available() => Isa::Avx512,
            Isa::Avx512 | Isa::Avx2Fma if avx2_fma_available() => Isa::Avx2Fma,
            _ => Isa::Baseline,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2Fma => "AVX2+FMA",
            Isa::Avx512 => "AVX-512",
        }
    }
}

impl Default for Isa {
    fn default() -> Self {
        Isa::detect()
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) fn avx2_fma_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn avx2_fma_available() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
pub(super) fn avx512_available() -> bool {
    avx2_fma_available()
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("avx512bw")
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) fn avx512_available() -> bool {
    false
}

/// Per-lane working arrays of the revalue kernel, reused from block to block.
#[derive(Clone, Debug)]
pub struct KernelScratch<T: Real> {
    /// e^{ln Y·w} per (asset, tenor weight) of [`FastModel::vol_factors`].
    factors: Vec<[T; LANES]>,
    /// Surface coefficients per lane, when a block's log-moneyness range crosses knots.
    a: [T; LANES],
    b: [T; LANES],
    c: [T; LANES],
    knot: [T; LANES],
    /// Arguments of Φ: εd₁ on lanes `0..LANES`, εd₂ on `LANES..`; then Φ of them.
    z: [T; 2 * LANES],
    cdf: [T; 2 * LANES],
}

impl<T: Real> KernelScratch<T> {
    pub fn new(model: &FastModel<T>) -> Box<Self> {
        Box::new(Self {
            factors: vec![[T::ONE; LANES]; model.vol_factors.len()],
            a: [T::ZERO; LANES],
            b: [T::ZERO; LANES],
            c: [T::ZERO; LANES],
            knot: [T::ZERO; LANES],
            z: [T::ZERO; 2 * LANES],
            cdf: [T::ZERO; 2 * LANES],
        })
    }
}

/// Revalue stage: P&L per unit of every instrument on the block's paths, `pnl[i][lane]`.
pub fn revalue<T: Real>(
    isa: Isa,
    model: &FastModel<T>,
    lanes: &ScenarioLanes<T>,
    scratch: &mut KernelScratch<T>,
    pnl: &mut [[T; LANES]],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && avx512_available() {
        // SAFETY: the CPU has AVX-512 F/VL/DQ/BW, AVX2 and FMA (checked just above).
        unsafe { revalue_avx512(model, lanes, scratch, pnl) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Baseline && avx2_fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { revalue_avx2_fma(model, lanes, scratch, pnl) };
        return;
    }
    let _ = isa;
    revalue_generic::<T, false>(model, lanes, scratch, pnl);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn revalue_avx512<T: Real>(
    model: &FastModel<T>,
    lanes: &ScenarioLanes<T>,
    scratch: &mut KernelScratch<T>,
    pnl: &mut [[T; LANES]],
) {
    revalue_generic::<T, true>(model, lanes, scratch, pnl);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn revalue_avx2_fma<T: Real>(
    model: &FastModel<T>,
    lanes: &ScenarioLanes<T>,
    scratch: &mut KernelScratch<T>,
    pnl: &mut [[T; LANES]],
) {
    revalue_generic::<T, true>(model, lanes, scratch, pnl);
}

#[inline(always)]
fn revalue_generic<T: Real, const FMA: bool>(
    model: &FastModel<T>,
    lanes: &ScenarioLanes<T>,
    scratch: &mut KernelScratch<T>,
    pnl: &mut [[T; LANES]],
) {
    // Y^{w} once per asset and distinct tenor weight, not once per option.
    scratch
        .factors
        .resize(model.vol_factors.len(), [T::ONE; LANES]);
    if model.vol_shocks {
        for (f, &(asset, w)) in scratch.factors.iter_mut().zip(&model.vol_factors) {
            let log_vol = &lanes.log_vol[asset as usize];
            for l in 0..LANES {
                f[l] = T::exp::<FMA>(log_vol[l] * w);
            }
        }
    }
    for (row, out) in model.rows.iter().zip(pnl.iter_mut()) {
        match row {
            FastRow::Exact(row) => revalue_exact(row, lanes, out),
            FastRow::Option(option) => {
                let knots = &model.knots[option.asset as usize];
                let table = &model.segments[option.segments as usize..][..knots.len() + 1];
                revalue_option::<T, FMA>(option, knots, table, lanes, scratch, out);
            }
        }
    }
}

/// Delta-one instruments and options that settle inside the horizon: the f64 formulas of
/// [`RevalueRow::pnl`] operation for operation on the lane's f64 state, rounded once to `T`
/// (so the f64 kernels give the reference's revalue bits on their own states here).
#[inline(always)]
fn revalue_exact<T: Real>(row: &RevalueRow, lanes: &ScenarioLanes<T>, out: &mut [T; LANES]) {
    let em1 = &lanes.expm1[row.asset];
    let growth = &lanes.growth64[row.asset];
    let m = row.multiplier;
    match row.payoff {
        Payoff::Linear => {
            for l in 0..LANES {
                out[l] = T::from_f64(m * row.spot0 * em1[l]);
            }
        }
        Payoff::InversePerpetual => {
            for l in 0..LANES {
                out[l] = T::from_f64(m * em1[l]);
            }
        }
        Payoff::LinearFuture => {
            let s0c1 = row.spot0 * row.carry1;
            for l in 0..LANES {
                out[l] = T::from_f64(m * (s0c1 * em1[l] + (s0c1 - row.forward0)));
            }
        }
        Payoff::InverseFuture => {
            let ratio = row.spot0 / row.forward0;
            for l in 0..LANES {
                out[l] = T::from_f64(m * (ratio * em1[l] + (ratio - 1.0 / row.carry1)));
            }
        }
        Payoff::Option(right) => {
            for l in 0..LANES {
                let spot_h = row.spot0 * growth[l];
                out[l] = T::from_f64(m * intrinsic(right, spot_h, row.strike) - row.base_value);
            }
        }
    }
}

/// A live option on every lane: Black-76 on the sticky-moneyness surface, minus today's
/// value. With x = ln(F₁/K) = r + ln(S₀c₁/K) (no logarithm per path), k₁ = −x, total
/// variance σ²τ₁ = a + t(b + t c) with t = k₁ − knot on the segment of k₁,
/// sd = √(σ²τ₁)·Y^{w(τ₁)}, and the out-of-the-money side by formula, the other by parity:
/// TV = ε(F Φ(εd₁) − K Φ(εd₂)) with ε = +1 when F < K, else −1; V = e^{−rτ₁}(TV + (ω(F − K))⁺).
///
/// The segment of each lane is found among the knots the block's range of k₁ crosses only:
/// the coefficients a lane gets are the same numbers whichever knots are scanned, so the
/// result does not depend on the other lanes. The work is split in three passes over the
/// block (Φ's arguments, Φ, the price) so that each loop is short enough for the CPU to
/// overlap iterations: one fused loop is bound by the latency of its long chain.
#[inline(always)]
fn revalue_option<T: Real, const FMA: bool>(
    row: &OptionRow<T>,
    knots: &[T],
    table: &[Segment<T>],
    lanes: &ScenarioLanes<T>,
    scratch: &mut KernelScratch<T>,
    out: &mut [T; LANES],
) {
    let asset = row.asset as usize;
    let r = &lanes.log_return[asset];
    let growth = &lanes.growth[asset];
    let factor = &scratch.factors[row.vol_factor as usize];
    let (r_min, r_max) = lanes.range[asset];
    // k₁ = −(r + x₀) is decreasing in r and rounding is monotone: the block's k₁ lie in
    // [−(r_max + x₀), −(r_min + x₀)] exactly as the lanes compute them.
    let k_min = -(r_max + row.x0);
    let k_max = -(r_min + row.x0);
    let first = knots.partition_point(|&q| q <= k_min);
    let last = knots.partition_point(|&q| q <= k_max);
    let (z, cdf) = (&mut scratch.z, &mut scratch.cdf);
    if first == last {
        let s = table[first];
        for l in 0..LANES {
            let (z1, z2) =
                cdf_args::<T, FMA>(row, r[l], growth[l], factor[l], s.a, s.b, s.c, s.knot);
            z[l] = z1;
            z[LANES + l] = z2;
        }
    } else {
        let s = table[first];
        let (sa, sb, sc, sk) = (
            &mut scratch.a,
            &mut scratch.b,
            &mut scratch.c,
            &mut scratch.knot,
        );
        *sa = [s.a; LANES];
        *sb = [s.b; LANES];
        *sc = [s.c; LANES];
        *sk = [s.knot; LANES];
        for j in first..last {
            let (q, s) = (knots[j], table[j + 1]);
            for l in 0..LANES {
                let above = -(r[l] + row.x0) >= q;
                sa[l] = if above { s.a } else { sa[l] };
                sb[l] = if above { s.b } else { sb[l] };
                sc[l] = if above { s.c } else { sc[l] };
                sk[l] = if above { s.knot } else { sk[l] };
            }
        }
        for l in 0..LANES {
            let (z1, z2) =
                cdf_args::<T, FMA>(row, r[l], growth[l], factor[l], sa[l], sb[l], sc[l], sk[l]);
            z[l] = z1;
            z[LANES + l] = z2;
        }
    }
    // Φ(εd₁) and Φ(εd₂) of a lane in one iteration: two independent chains interleaved
    // (each Φ is one long dependent chain: a division, polynomials and an exp), which the
    // CPU overlaps.
    // In f32 both come from one exp: e^{−d₂²/2} = e^{−d₁²/2}·F/K ([`Real::norm_cdf_pair`]).
    let (z1, z2) = z.split_at(LANES);
    let (c1, c2) = cdf.split_at_mut(LANES);
    for l in 0..LANES {
        let moneyness = row.moneyness0 * growth[l];
        let (a, b) = T::norm_cdf_pair::<FMA>(z1[l], z2[l], moneyness);
        c1[l] = a;
        c2[l] = b;
    }
    for l in 0..LANES {
        let forward = row.forward0 * growth[l];
        let eps = if forward < row.strike {
            T::ONE
        } else {
            -T::ONE
        };
        let time_value = eps * T::madd::<FMA>(forward, cdf[l], -(row.strike * cdf[LANES + l]));
        let intrinsic = (row.omega * (forward - row.strike)).max(T::ZERO);
        out[l] = T::madd::<FMA>(row.scale, time_value + intrinsic, -row.base_value);
    }
}

/// εd₁ and εd₂ of one lane (see [`revalue_option`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cdf_args<T: Real, const FMA: bool>(
    row: &OptionRow<T>,
    r: T,
    growth: T,
    factor: T,
    a: T,
    b: T,
    c: T,
    knot: T,
) -> (T, T) {
    let x = r + row.x0;
    let t = -x - knot;
    let variance = T::madd::<FMA>(T::madd::<FMA>(c, t, b), t, a);
    let sd = variance.max(T::MIN_POSITIVE).sqrt() * factor;
    let d1 = T::madd::<FMA>(x, T::ONE / sd, T::HALF * sd);
    let d2 = d1 - sd;
    let eps = if row.forward0 * growth < row.strike {
        T::ONE
    } else {
        -T::ONE
    };
    (eps * d1, eps * d2)
}

/// Aggregate stage for one account: `loss[lane]` = −Σ q·pnl over its exposures, summed in
/// f64 in exposure order (fused in the f32 mode, as the reference sums in the f64 one); a coin-margined account divides by the coin's price on the path
/// exactly as [`crate::model::aggregate::coin_loss`] does.
pub fn aggregate<T: Real>(
    isa: Isa,
    book: &Book,
    account: &AccountBook,
    lanes: &ScenarioLanes<T>,
    pnl: &[[T; LANES]],
    loss: &mut [f64; LANES],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && avx512_available() {
        // SAFETY: the CPU has AVX-512 F/VL/DQ/BW, AVX2 and FMA (checked just above).
        unsafe { aggregate_avx512(book, account, lanes, pnl, loss) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Baseline && avx2_fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { aggregate_avx2_fma(book, account, lanes, pnl, loss) };
        return;
    }
    let _ = isa;
    aggregate_generic::<T, false>(book, account, lanes, pnl, loss);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn aggregate_avx512<T: Real>(
    book: &Book,
    account: &AccountBook,
    lanes: &ScenarioLanes<T>,
    pnl: &[[T; LANES]],
    loss: &mut [f64; LANES],
) {
    aggregate_generic::<T, true>(book, account, lanes, pnl, loss);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn aggregate_avx2_fma<T: Real>(
    book: &Book,
    account: &AccountBook,
    lanes: &ScenarioLanes<T>,
    pnl: &[[T; LANES]],
    loss: &mut [f64; LANES],
) {
    aggregate_generic::<T, true>(book, account, lanes, pnl, loss);
}

#[inline(always)]
fn aggregate_generic<T: Real, const FMA: bool>(
    book: &Book,
    account: &AccountBook,
    lanes: &ScenarioLanes<T>,
    pnl: &[[T; LANES]],
    loss: &mut [f64; LANES],
) {
    // The start of `Iterator::sum`, as `aggregate::account_loss` sums. A tile of lanes is
    // summed over every exposure in registers before it is stored (the same operations in
    // the same order per lane as exposure by exposure over the whole block, so the same
    // bits, without a load and a store of the loss row per exposure).
    const TILE: usize = 32;
    let start: f64 = std::iter::empty::<f64>().sum();
    for (tile, out) in loss.chunks_exact_mut(TILE).enumerate() {
        let mut acc = [start; TILE];
        for e in &account.exposures {
            let q = e.quantity;
            let row = &pnl[e.instrument][tile * TILE..(tile + 1) * TILE];
            for l in 0..TILE {
                acc[l] = if T::FUSED_AGGREGATE {
                    madd64::<FMA>(q, row[l].to_f64(), acc[l])
                } else {
                    q * row[l].to_f64() + acc[l]
                };
            }
        }
        out.copy_from_slice(&acc);
    }
    match account.currency {
        Currency::Usd => loss.iter_mut().for_each(|x| *x = -*x),
        Currency::Coin(coin) => {
            let spot0 = book.assets[coin].spot;
            let held = account.base_value_usd / spot0;
            let (growth, em1_neg) = (&lanes.growth64[coin], &lanes.expm1_neg[coin]);
            for l in 0..LANES {
                loss[l] = -loss[l] / (spot0 * growth[l]) - held * em1_neg[l];
            }
        }
    }
}
