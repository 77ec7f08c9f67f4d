//! The scenario stage's draws for a block of [`LANES`] paths at once: the Philox blocks of
//! every lane in SIMD (integer arithmetic, the reference's words exactly), then Box–Muller
//! with branch-free f64 `ln` and `sin`/`cos` that LLVM vectorises ([`ln_unit`],
//! [`sin_cos_turns`]: fdlibm's polynomials, under an ulp of the exact values as libm's
//! are). The normals differ from the reference's (libm's `ln` and `sin_cos`) by at most
//! 1.2e-15 of the Box–Muller radius (measured 7.4e-16, tests), so the kernels' f64 states
//! are within a few ulps of the reference's; [`ScenarioModel::advance`], the reference's own
//! step, turns the draws into states lane by lane: one model layer.
//!
//! The scalar reference spends most of its scenario stage in libm's `sin_cos` and `ln` and in
//! Philox one path at a time; here the three run 8 or 16 lanes per instruction.

use super::kernel::{avx2_fma_available, avx512_available};
use super::math64::madd;
use super::{Isa, LANES};
use crate::model::importance::MIX_INDEX;
use crate::model::scenario::{ScenarioModel, StepDraws};
use crate::rng::{
    PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1, STREAM_NORMAL, STREAM_UNIFORM, uniform_open,
};

/// Lanes per Philox sub-block: 16 u32 words fill one 512-bit register.
const SUB: usize = 16;

/// One step's draws of a block of paths: `normals[index][lane]`, `uniforms[index][lane]`.
#[derive(Clone, Debug)]
pub struct BlockDraws {
    /// Four per Philox block of normals, four per block of uniforms.
    normals: Vec<[f64; LANES]>,
    uniforms: Vec<[f64; LANES]>,
    /// With importance sampling, the uniform that picks each lane's mixture component
    /// (`(path, step 0, MIX_INDEX)`, computed with step 0's draws).
    mix: Option<Box<[f64; LANES]>>,
}

impl BlockDraws {
    /// Room for the draws `model` reads in a step: normals 0..A·k (k = 1, 2 or 3, see
    /// [`ScenarioModel::normals_used`]) and, with Student-t shocks, 3A..3A + ν; one uniform
    /// per asset when any asset jumps.
    pub fn new(model: &ScenarioModel) -> Self {
        let (normal_blocks, uniform_blocks) = Self::blocks(model);
        Self {
            normals: vec![[0.0; LANES]; 4 * normal_blocks],
            uniforms: vec![[0.0; LANES]; 4 * uniform_blocks],
            mix: model.importance.as_ref().map(|_| Box::new([0.0; LANES])),
        }
    }

    /// The Philox blocks of normals and of uniforms a step of `model` reads.
    fn blocks(model: &ScenarioModel) -> (usize, usize) {
        let assets = model.asset_count();
        let normals = if model.dof > 0 {
            3 * assets + model.dof as usize
        } else {
            model.normals_used()
        };
        let uniforms = if model.needs_jumps { assets } else { 0 };
        (normals.div_ceil(4), uniforms.div_ceil(4))
    }

    /// Whether these arrays are the ones `model` needs (a scratch reused for another book
    /// is rebuilt).
    pub fn fits(&self, model: &ScenarioModel) -> bool {
        Self::blocks(model) == (self.normals.len() / 4, self.uniforms.len() / 4)
            && self.mix.is_some() == model.importance.is_some()
    }

    /// The uniform that picks `lane`'s mixture component (importance sampling only; filled
    /// with step 0's draws).
    pub fn mix_uniform(&self, lane: usize) -> f64 {
        self.mix.as_ref().expect("an importance-sampled model")[lane]
    }

    /// Computes `step`'s draws of the lanes' `paths` (padding lanes included) under the
    /// run's Philox `key`.
    pub fn fill(&mut self, isa: Isa, key: [u32; 2], paths: &[u32; LANES], step: u32) {
        #[cfg(target_arch = "x86_64")]
        if isa == Isa::Avx512 && avx512_available() {
            // SAFETY: the CPU has AVX-512 F/VL/DQ/BW, AVX2 and FMA (checked just above).
            unsafe { fill_avx512(self, key, paths, step) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if isa != Isa::Baseline && avx2_fma_available() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { fill_avx2_fma(self, key, paths, step) };
            return;
        }
        let _ = isa;
        fill_generic::<false>(self, key, paths, step);
    }

    /// The draws of one lane, as [`ScenarioModel::advance`] reads them.
    pub fn lane(&self, lane: usize) -> LaneDraws<'_> {
        LaneDraws { block: self, lane }
    }
}

/// One lane's view of a [`BlockDraws`] (the step is the one last filled).
#[derive(Clone, Copy, Debug)]
pub struct LaneDraws<'a> {
    block: &'a BlockDraws,
    lane: usize,
}

impl StepDraws for LaneDraws<'_> {
    #[inline]
    fn normals(&self, _step: u32, first: u32, out: &mut [f64]) {
        let rows = &self.block.normals[first as usize..first as usize + out.len()];
        for (x, row) in out.iter_mut().zip(rows) {
            *x = row[self.lane];
        }
    }

    #[inline]
    fn uniform(&self, _step: u32, index: u32) -> f64 {
        self.block.uniforms[index as usize][self.lane]
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn fill_avx512(d: &mut BlockDraws, key: [u32; 2], paths: &[u32; LANES], step: u32) {
    fill_generic::<true>(d, key, paths, step);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fill_avx2_fma(d: &mut BlockDraws, key: [u32; 2], paths: &[u32; LANES], step: u32) {
    fill_generic::<true>(d, key, paths, step);
}

#[inline(always)]
fn fill_generic<const FMA: bool>(
    d: &mut BlockDraws,
    key: [u32; 2],
    paths: &[u32; LANES],
    step: u32,
) {
    let mut words = [[0u32; LANES]; 4];
    for block in 0..d.normals.len() / 4 {
        philox_lanes(&mut words, key, paths, [step, block as u32, STREAM_NORMAL]);
        let out = &mut d.normals[4 * block..4 * block + 4];
        for pair in 0..2 {
            let (w1, w2) = (&words[2 * pair], &words[2 * pair + 1]);
            let (lo, hi) = out[2 * pair..2 * pair + 2].split_at_mut(1);
            for lane in 0..LANES {
                (lo[0][lane], hi[0][lane]) = box_muller_poly::<FMA>(w1[lane], w2[lane]);
            }
        }
    }
    for block in 0..d.uniforms.len() / 4 {
        philox_lanes(&mut words, key, paths, [step, block as u32, STREAM_UNIFORM]);
        for (out, w) in d.uniforms[4 * block..4 * block + 4].iter_mut().zip(&words) {
            for lane in 0..LANES {
                out[lane] = uniform_open(w[lane]);
            }
        }
    }
    if let Some(mix) = d.mix.as_deref_mut().filter(|_| step == 0) {
        philox_lanes(&mut words, key, paths, [0, MIX_INDEX / 4, STREAM_UNIFORM]);
        for (out, &w) in mix.iter_mut().zip(&words[(MIX_INDEX % 4) as usize]) {
            *out = uniform_open(w);
        }
    }
}

/// Philox4x32-10 of the counters (paths[lane], step, block, stream) for every lane, into
/// `words[word][lane]`: [`crate::rng::philox4x32_10`] lane by lane, in sub-blocks of
/// [`SUB`] lanes so that each round is a few vector instructions on registers.
#[inline(always)]
fn philox_lanes(
    words: &mut [[u32; LANES]; 4],
    key: [u32; 2],
    paths: &[u32; LANES],
    [step, block, stream]: [u32; 3],
) {
    for start in (0..LANES).step_by(SUB) {
        let mut c0: [u32; SUB] = paths[start..start + SUB].try_into().expect("SUB lanes");
        let mut c1 = [step; SUB];
        let mut c2 = [block; SUB];
        let mut c3 = [stream; SUB];
        let mut k = key;
        for round in 0..10 {
            if round > 0 {
                k[0] = k[0].wrapping_add(PHILOX_W0);
                k[1] = k[1].wrapping_add(PHILOX_W1);
            }
            for l in 0..SUB {
                let p0 = u64::from(PHILOX_M0) * u64::from(c0[l]);
                let p1 = u64::from(PHILOX_M1) * u64::from(c2[l]);
                let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
                let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
                c0[l] = hi1 ^ c1[l] ^ k[0];
                c1[l] = lo1;
                c2[l] = hi0 ^ c3[l] ^ k[1];
                c3[l] = lo0;
            }
        }
        for (w, c) in words.iter_mut().zip([c0, c1, c2, c3]) {
            w[start..start + SUB].copy_from_slice(&c);
        }
    }
}

/// [`crate::rng::box_muller`] with [`ln_unit`] and [`sin_cos_turns`]: r = √(−2 ln u₁),
/// (r cos 2πu₂, r sin 2πu₂).
#[inline(always)]
pub fn box_muller_poly<const FMA: bool>(w1: u32, w2: u32) -> (f64, f64) {
    let r = (-2.0 * ln_unit::<FMA>(uniform_open(w1))).sqrt();
    let (s, c) = sin_cos_turns::<FMA>(w2);
    (r * c, r * s)
}

/// ln x for a positive normal x (the uniforms of Box–Muller are in [2⁻³³, 1)), fdlibm's
/// `e_log.c` without its special cases: x = 2ᵏ·m with m ∈ [√½, √2), f = m − 1,
/// s = f/(2 + f), ln(1 + f) = f − (f²/2 − s(f²/2 + R(s²))) with fdlibm's degree-14 R
/// (error < 2⁻⁵⁸·⁴⁵), plus k·ln 2 in two parts. Under one ulp of the exact value.
#[inline(always)]
pub fn ln_unit<const FMA: bool>(x: f64) -> f64 {
    const LG: [f64; 7] = [
        6.666_666_666_666_735e-1,
        3.999_999_999_940_942e-1,
        2.857_142_874_366_239e-1,
        2.222_219_843_214_978_4e-1,
        1.818_357_216_161_805e-1,
        1.531_383_769_920_937_3e-1,
        1.479_819_860_511_658_6e-1,
    ];
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7FF) as i64 - 1023;
    // m ∈ [1, 2), halved above √2 so that f = m − 1 ∈ [√½ − 1, √2 − 1).
    let m1 = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    let big = m1 > std::f64::consts::SQRT_2;
    let m = if big { 0.5 * m1 } else { m1 };
    let k = (exponent + i64::from(big)) as f64;
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * madd::<FMA>(w, madd::<FMA>(w, LG[5], LG[3]), LG[1]);
    let t2 = z * madd::<FMA>(
        w,
        madd::<FMA>(w, madd::<FMA>(w, LG[6], LG[4]), LG[2]),
        LG[0],
    );
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    k * LN2_HI - ((hfsq - madd::<FMA>(s, hfsq + r, k * LN2_LO)) - f)
}

/// sin and cos of 2π·u for u = w·2⁻³² (the Box–Muller angle of the reference): the
/// quadrant q = round(4u) and the rest t = u − q/4 ∈ [−⅛, ⅛] exactly, in integers on the
/// word; x = 2π·t ∈ [−π/4, π/4]; fdlibm's `__kernel_sin` and `__kernel_cos` polynomials
/// (errors under 2⁻⁵⁸ on that interval); then the quadrant's rotation.
#[inline(always)]
pub fn sin_cos_turns<const FMA: bool>(w: u32) -> (f64, f64) {
    const S: [f64; 6] = [
        -1.666_666_666_666_663_2e-1,
        8.333_333_333_322_49e-3,
        -1.984_126_982_985_795e-4,
        2.755_731_370_707_007e-6,
        -2.505_076_025_340_686_3e-8,
        1.589_690_995_211_55e-10,
    ];
    const C: [f64; 6] = [
        4.166_666_666_666_66e-2,
        -1.388_888_888_887_411e-3,
        2.480_158_728_947_673e-5,
        -2.755_731_435_139_066_3e-7,
        2.087_572_321_298_175e-9,
        -1.135_964_755_778_819_5e-11,
    ];
    let q = (u64::from(w) + (1 << 29)) >> 30; // round(w / 2³⁰), 0..=4
    let rest = i64::from(w) - ((q as i64) << 30); // in [−2²⁹, 2²⁹]
    let x = rest as f64 * (std::f64::consts::TAU / 4_294_967_296.0);
    let z = x * x;
    let sin_tail = madd::<FMA>(
        z,
        madd::<FMA>(z, madd::<FMA>(z, madd::<FMA>(z, S[5], S[4]), S[3]), S[2]),
        S[1],
    );
    let sin = madd::<FMA>(z * x, madd::<FMA>(z, sin_tail, S[0]), x);
    let cos_tail = z * madd::<FMA>(
        z,
        madd::<FMA>(
            z,
            madd::<FMA>(z, madd::<FMA>(z, madd::<FMA>(z, C[5], C[4]), C[3]), C[2]),
            C[1],
        ),
        C[0],
    );
    let hz = 0.5 * z;
    let one_minus = 1.0 - hz;
    let cos = one_minus + (((1.0 - one_minus) - hz) + z * cos_tail);
    // (sin, cos) of x + q·π/2.
    let (s, c) = if q & 1 == 1 { (cos, -sin) } else { (sin, cos) };
    if q & 2 == 2 { (-s, -c) } else { (s, c) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{DrawSource, box_muller};

    /// Words spread over the whole u32 range, the edges and the quadrant boundaries.
    fn words() -> impl Iterator<Item = u32> {
        let edges = [
            0,
            1,
            2,
            u32::MAX,
            u32::MAX - 1,
            1 << 29,
            (1 << 29) + 1,
            3 << 29,
        ];
        edges
            .into_iter()
            .chain((0..200_000u32).map(|i| i.wrapping_mul(2_654_435_761) ^ (i >> 3)))
    }

    #[test]
    fn ln_is_within_two_ulps_of_libm() {
        let mut worst = 0.0f64;
        for w in words() {
            let x = uniform_open(w);
            let (ours, libm) = (ln_unit::<true>(x), x.ln());
            let ulp = f64::EPSILON * libm.abs().max(f64::MIN_POSITIVE);
            let unfused = ln_unit::<false>(x);
            worst = worst.max((ours - libm).abs().max((unfused - libm).abs()) / ulp);
        }
        // fdlibm's log is within one ulp of the exact value, as libm's is: two between them.
        eprintln!("ln: worst {worst} ulps of libm");
        assert!(worst <= 2.0, "ln: {worst} ulps");
    }

    /// The radius-relative error of the polynomial normals: sin and cos within ~1e-16
    /// absolute of libm's (the reference's angle TAU·u₂ is itself rounded, ≤ 4.4e-16), r
    /// within two ulps: 1.2e-15 of r bounds both.
    #[test]
    fn polynomial_normals_match_the_reference() {
        let mut worst = 0.0f64;
        for w1 in words().step_by(7) {
            let w2 = w1.rotate_left(13) ^ 0x9E37_79B9;
            let (a, b) = box_muller(w1, w2);
            let (c, d) = box_muller_poly::<true>(w1, w2);
            let r = (a * a + b * b).sqrt();
            worst = worst.max((a - c).abs().max((b - d).abs()) / r);
        }
        eprintln!("Box–Muller: worst {worst:e} of r");
        assert!(worst <= 1.2e-15, "Box–Muller: {worst:e} of r");
    }

    #[test]
    fn the_quadrant_edges_are_exact() {
        assert_eq!(sin_cos_turns::<true>(0), (0.0, 1.0));
        assert_eq!(sin_cos_turns::<true>(1 << 30), (1.0, -0.0));
        assert_eq!(sin_cos_turns::<true>(2 << 30), (-0.0, -1.0));
        assert_eq!(sin_cos_turns::<true>(3 << 30), (-1.0, 0.0));
    }

    /// The SIMD Philox words are the reference's, lane by lane.
    #[test]
    fn philox_lanes_are_the_reference_words() {
        let key = [0x1234_5678, 0x9ABC_DEF0];
        let source = DrawSource::new(0x9ABC_DEF0_1234_5678);
        let mut paths = [0u32; LANES];
        for (i, p) in paths.iter_mut().enumerate() {
            *p = (i as u32).wrapping_mul(40_503) ^ 0xFFFF_0000;
        }
        let mut words = [[0u32; LANES]; 4];
        philox_lanes(&mut words, key, &paths, [3, 2, STREAM_UNIFORM]);
        for (lane, &path) in paths.iter().enumerate() {
            let reference = source.block(path, 3, 2, STREAM_UNIFORM);
            for (w, word) in reference.iter().enumerate() {
                assert_eq!(words[w][lane], *word, "lane {lane} word {w}");
            }
        }
    }
}
