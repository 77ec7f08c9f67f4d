//! The likelihood ratios of importance sampling (methodology §16.2) for a block of
//! [`LANES`] paths at once: each component's ln(π_k r_k) lane by lane
//! ([`Importance::log_ratios_lanes`], the model's formula in the layout LLVM vectorises),
//! their exponentials by the polynomial [`math64::exp`] (within an ulp of libm's), and
//! w = 1 / (π₀ + Σ_k π_k r_k), on the machine's best ISA.

use super::kernel::{avx2_fma_available, avx512_available};
use super::{Isa, LANES, math64};
use crate::model::importance::{Importance, RatioTerms, Sampled};

/// The lanes' draws as [`Importance::log_ratios_lanes`] reads them, and its output.
pub struct WeightLanes {
    z: Vec<[f64; LANES]>,
    chi: [f64; LANES],
    jumps: Vec<[f64; LANES]>,
    logs: Vec<[f64; LANES]>,
}

impl WeightLanes {
    pub fn new(importance: &Importance) -> Self {
        let steps = importance.steps as usize;
        let cells = if importance.base_rates.iter().any(|&r| r > 0.0) {
            steps * importance.assets
        } else {
            0
        };
        Self {
            z: vec![[0.0; LANES]; steps * importance.width],
            chi: [0.0; LANES],
            jumps: vec![[0.0; LANES]; cells],
            logs: vec![[0.0; LANES]; importance.components.len()],
        }
    }

    /// w of each of `sampled` (at most [`LANES`] paths' draws) into `out`, in their order.
    pub fn weights(
        &mut self,
        isa: Isa,
        importance: &Importance,
        terms: &RatioTerms,
        sampled: &[Sampled],
        out: &mut Vec<f64>,
    ) {
        assert!(
            sampled.len() <= LANES,
            "a block holds at most {LANES} paths"
        );
        // Padding lanes: zero draws, their weights dropped.
        self.z.iter_mut().for_each(|row| row.fill(0.0));
        self.jumps.iter_mut().for_each(|row| row.fill(0.0));
        self.chi.fill(0.0);
        for (lane, s) in sampled.iter().enumerate() {
            for (row, &x) in self.z.iter_mut().zip(&s.z) {
                row[lane] = x;
            }
            for (row, &n) in self.jumps.iter_mut().zip(&s.jump_counts) {
                row[lane] = f64::from(n);
            }
            self.chi[lane] = s.chi_square;
        }
        let mut w = [0.0; LANES];
        lane_weights(isa, importance, terms, self, &mut w);
        out.extend_from_slice(&w[..sampled.len()]);
    }
}

fn lane_weights(
    isa: Isa,
    importance: &Importance,
    terms: &RatioTerms,
    lanes: &mut WeightLanes,
    w: &mut [f64; LANES],
) {
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && avx512_available() {
        // SAFETY: the CPU has AVX-512 F/VL/DQ/BW, AVX2 and FMA (checked just above).
        unsafe { lane_weights_avx512(importance, terms, lanes, w) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Baseline && avx2_fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { lane_weights_avx2_fma(importance, terms, lanes, w) };
        return;
    }
    let _ = isa;
    lane_weights_generic::<false>(importance, terms, lanes, w);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn lane_weights_avx512(
    importance: &Importance,
    terms: &RatioTerms,
    lanes: &mut WeightLanes,
    w: &mut [f64; LANES],
) {
    lane_weights_generic::<true>(importance, terms, lanes, w);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lane_weights_avx2_fma(
    importance: &Importance,
    terms: &RatioTerms,
    lanes: &mut WeightLanes,
    w: &mut [f64; LANES],
) {
    lane_weights_generic::<true>(importance, terms, lanes, w);
}

#[inline(always)]
fn lane_weights_generic<const FMA: bool>(
    importance: &Importance,
    terms: &RatioTerms,
    lanes: &mut WeightLanes,
    w: &mut [f64; LANES],
) {
    let WeightLanes {
        z,
        chi,
        jumps,
        logs,
    } = lanes;
    importance.log_ratios_lanes(terms, z, chi, jumps, logs);
    let mut mixture = [0.0; LANES];
    for row in logs.iter() {
        for (m, &x) in mixture.iter_mut().zip(row) {
            *m += math64::exp::<FMA>(x);
        }
    }
    for (w, &m) in w.iter_mut().zip(&mixture) {
        *w = importance.weight_of_mixture(m);
    }
}
