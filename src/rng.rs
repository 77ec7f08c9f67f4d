//! Philox4x32-10 counter-based random numbers and the draw layout of the scenario model.
//!
//! Mirror of `shaders/shared/philox.wgsl` and `shaders/shared/normal.wgsl`: the integer output
//! must be bit-identical on both sides (tested against the Random123 known-answer vectors here
//! and against the GPU in `tests/gpu_equivalence.rs`).
//!
//! # Draw layout
//!
//! Every random number of the model is addressed by `(path, step, stream, index)`:
//!
//! * key = `(seed mod 2³², seed div 2³²)`;
//! * counter = `(path, step, index div 4, stream)`; the four output words are lanes 0..3;
//! * stream [`STREAM_NORMAL`]: normal number `index` is lane `index mod 4` of the Box–Muller
//!   transform of that block (lanes 0,1 from words 0,1; lanes 2,3 from words 2,3);
//! * stream [`STREAM_UNIFORM`]: uniform number `index` is word `index mod 4` mapped to (0, 1).
//!
//! With `A` simulated assets and Student-t degrees of freedom `ν` (0 without fat tails), the
//! normals of one `(path, step)` are: `0..A` spot shocks `z`, `A..2A` vol shocks `w`,
//! `2A..3A` jump sizes, `3A..3A+ν` the normals whose squares make the χ²_ν draw; the uniforms
//! are `0..A`, one per asset for the Poisson jump count. Because the counter names the draw,
//! any single path is regenerated on its own, and no result depends on thread count, chunk
//! size or device.

/// Stream (counter word 3) of the normal draws.
pub const STREAM_NORMAL: u32 = 0;
/// Stream (counter word 3) of the uniform draws.
pub const STREAM_UNIFORM: u32 = 1;

/// Philox4x32 round multipliers and key increments (the GPU's too, through
/// `engine::gpu::constants`).
pub const PHILOX_M0: u32 = 0xD251_1F53;
pub const PHILOX_M1: u32 = 0xCD9E_8D57;
pub const PHILOX_W0: u32 = 0x9E37_79B9;
pub const PHILOX_W1: u32 = 0xBB67_AE85;

/// 32×32 → 64-bit product split into (hi, lo) words.
#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// Philox4x32 with 10 rounds (Salmon et al., SC'11), as in Random123's `philox4x32_R(10, …)`.
#[inline]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k[0] = k[0].wrapping_add(PHILOX_W0);
            k[1] = k[1].wrapping_add(PHILOX_W1);
        }
        let (hi0, lo0) = mulhilo(PHILOX_M0, c[0]);
        let (hi1, lo1) = mulhilo(PHILOX_M1, c[2]);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The Philox key of a run seed.
#[inline]
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Maps a 32-bit word to the open interval (0, 1): u = (w + ½)·2⁻³².
#[inline(always)]
pub fn uniform_open(word: u32) -> f64 {
    (f64::from(word) + 0.5) * (1.0 / 4_294_967_296.0)
}

/// Box–Muller: two words to two independent standard normals.
/// r = √(−2 ln u₁), θ = 2π u₂, (r cos θ, r sin θ), u₁ ∈ (0,1) from the first word.
#[inline(always)]
pub fn box_muller(w1: u32, w2: u32) -> (f64, f64) {
    let u1 = uniform_open(w1);
    let u2 = f64::from(w2) * (1.0 / 4_294_967_296.0);
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// The random numbers of one run, addressed by path, step and index (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct DrawSource {
    key: [u32; 2],
}

impl DrawSource {
    pub fn new(seed: u64) -> Self {
        Self {
            key: seed_key(seed),
        }
    }

    /// The Philox key of the run's seed.
    pub fn key(&self) -> [u32; 2] {
        self.key
    }

    /// The raw Philox block `(path, step, block, stream)`.
    #[inline]
    pub fn block(&self, path: u32, step: u32, block: u32, stream: u32) -> [u32; 4] {
        philox4x32_10([path, step, block, stream], self.key)
    }

    /// Four normals `4·block .. 4·block+4` of `(path, step)`.
    #[inline]
    pub fn normal_block(&self, path: u32, step: u32, block: u32) -> [f64; 4] {
        let w = self.block(path, step, block, STREAM_NORMAL);
        let (n0, n1) = box_muller(w[0], w[1]);
        let (n2, n3) = box_muller(w[2], w[3]);
        [n0, n1, n2, n3]
    }

    /// Normal number `index` of `(path, step)`.
    #[inline]
    pub fn normal(&self, path: u32, step: u32, index: u32) -> f64 {
        self.normal_block(path, step, index / 4)[(index % 4) as usize]
    }

    /// Fills `out` with normals `0..out.len()` of `(path, step)`, one Philox call per four.
    #[inline]
    pub fn normals_into(&self, path: u32, step: u32, out: &mut [f64]) {
        for (block, chunk) in out.chunks_mut(4).enumerate() {
            let n = self.normal_block(path, step, block as u32);
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }

    /// Fills `out` with normals `first..first + out.len()` of `(path, step)`.
    #[inline]
    pub fn normals_range(&self, path: u32, step: u32, first: u32, out: &mut [f64]) {
        let mut block = u32::MAX;
        let mut cached = [0.0; 4];
        for (i, x) in out.iter_mut().enumerate() {
            let index = first + i as u32;
            if index / 4 != block {
                block = index / 4;
                cached = self.normal_block(path, step, block);
            }
            *x = cached[(index % 4) as usize];
        }
    }

    /// Uniform number `index` of `(path, step)`, in (0, 1).
    #[inline]
    pub fn uniform(&self, path: u32, step: u32, index: u32) -> f64 {
        let w = self.block(path, step, index / 4, STREAM_UNIFORM);
        uniform_open(w[(index % 4) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of Random123 (`kat_vectors`, philox4x32 with 10 rounds).
    #[test]
    fn philox_matches_random123_known_answers() {
        assert_eq!(
            philox4x32_10([0, 0, 0, 0], [0, 0]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn uniform_stays_inside_the_open_interval() {
        assert!(uniform_open(0) > 0.0);
        assert!(uniform_open(u32::MAX) < 1.0);
    }

    #[test]
    fn any_draw_is_regenerated_alone() {
        let d = DrawSource::new(42);
        let mut all = [0.0; 11];
        d.normals_into(123_456, 3, &mut all);
        for (i, &x) in all.iter().enumerate() {
            assert_eq!(x.to_bits(), d.normal(123_456, 3, i as u32).to_bits());
        }
    }

    /// Mean and variance of 400 000 normals: standard errors 1/√n = 0.0016 for the mean and
    /// √(2/n) = 0.0022 for the variance; the bounds are five standard errors.
    #[test]
    fn normals_have_unit_variance() {
        let d = DrawSource::new(7);
        let n = 100_000u32;
        let (mut s1, mut s2) = (0.0, 0.0);
        for p in 0..n {
            for x in d.normal_block(p, 0, 0) {
                s1 += x;
                s2 += x * x;
            }
        }
        let m = 4.0 * f64::from(n);
        let mean = s1 / m;
        let var = s2 / m - mean * mean;
        assert!(mean.abs() < 5.0 * (1.0 / m).sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / m).sqrt(), "variance {var}");
    }
}
