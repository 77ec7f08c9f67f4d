//! The distribution of an account's losses over every scenario, as a histogram counted in
//! the tail pass (CPU twin of the `distribution` entry point of `shaders/tail.wgsl`).
//!
//! The bins are fixed before any scenario is simulated and are the same for every account,
//! backend, chunk size, thread count and shard: a loss x is rounded to f32 and binned by its
//! bits, a log scale with a linear middle (docs/methodology.md, "Loss histogram"):
//! - |x| < 2^[`EXP_LO`] (and ±0): the zero bin;
//! - 2^e ≤ |x| < 2^(e+1), e in [`EXP_LO`] .. [`EXP_HI`]: [`SUB_BINS`] equal bins per octave
//!   (the top 4 bits of the f32 mantissa), i.e. bins of 3.1 % to 6.25 % of |x|;
//! - |x| ≥ 2^[`EXP_HI`] (and ±∞, NaN by its sign bit): the open-ended end bins.
//!
//! Bin b is ascending in loss: 0 is (−∞, −2^EXP_HI], [`BINS`] − 1 is [2^EXP_HI, ∞). Counts add
//! across any split of the scenarios (chunks, threads, shards), so the histogram of a union is
//! the sum of the histograms, bit for bit. Binning is integer arithmetic on the f32 bits, so
//! the GPU and the CPU's f32 kernels bin the same f32 loss identically; losses that differ
//! between backends by their rounding error change bins only within that error of an edge.

/// Smallest binned octave: 2^−24 ≈ 6·10⁻⁸ (a hundred-millionth of a coin).
pub const EXP_LO: i32 = -24;
/// First octave of the end bins: 2^40 ≈ 1.1·10¹².
pub const EXP_HI: i32 = 40;
/// Bins per octave: the top 4 mantissa bits.
pub const SUB_BITS: u32 = 4;
pub const SUB_BINS: u32 = 1 << SUB_BITS;
/// Bins of one sign between the zero bin and its end bin.
pub const SIDE_BINS: u32 = (EXP_HI - EXP_LO) as u32 * SUB_BINS;
/// Every bin: end, negative side, zero, positive side, end.
pub const BINS: u32 = 2 * SIDE_BINS + 3;
/// The zero bin's index.
pub const ZERO_BIN: u32 = SIDE_BINS + 1;

/// The bin of a loss (see the module docs): `x` is rounded to f32 first.
#[inline]
pub fn bin_of(x: f64) -> u32 {
    bin_of_f32(x as f32)
}

/// The bin of an f32 loss, by its bits (`dist_bin` in `tail.wgsl` does the same).
#[inline]
pub fn bin_of_f32(x: f32) -> u32 {
    let bits = x.to_bits();
    let magnitude = bits & 0x7FFF_FFFF;
    let biased = (magnitude >> 23) as i32;
    let side = if biased < EXP_LO + 127 {
        return ZERO_BIN;
    } else if biased >= EXP_HI + 127 {
        SIDE_BINS
    } else {
        let sub = (magnitude >> (23 - SUB_BITS)) & (SUB_BINS - 1);
        (biased - EXP_LO - 127) as u32 * SUB_BINS + sub
    };
    if bits & 0x8000_0000 != 0 {
        ZERO_BIN - 1 - side
    } else {
        ZERO_BIN + 1 + side
    }
}

/// The lower and upper edge of |x| for a side index `side` < [`SIDE_BINS`].
fn side_edges(side: u32) -> (f64, f64) {
    let octave = EXP_LO + (side / SUB_BINS) as i32;
    let sub = f64::from(side % SUB_BINS);
    let base = 2f64.powi(octave);
    let step = base / f64::from(SUB_BINS);
    (base + sub * step, base + (sub + 1.0) * step)
}

/// The loss interval of bin `b`, ascending: (lower, upper) edges, ±∞ for the end bins. Edges
/// are exact f32 values; which side of an edge holds the edge itself is immaterial to a chart.
pub fn bin_range(b: u32) -> (f64, f64) {
    let top = 2f64.powi(EXP_HI);
    let zero = 2f64.powi(EXP_LO);
    match b {
        0 => (f64::NEG_INFINITY, -top),
        b if b == BINS - 1 => (top, f64::INFINITY),
        ZERO_BIN => (-zero, zero),
        b if b > ZERO_BIN => side_edges(b - ZERO_BIN - 1),
        b => {
            let (lo, hi) = side_edges(ZERO_BIN - 1 - b);
            (-hi, -lo)
        }
    }
}

/// Counts of an account's losses per bin: every scenario counted once, so the counts sum to
/// the number of scenarios.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LossHistogram {
    /// [`BINS`] counts, ascending in loss.
    pub counts: Vec<u64>,
}

impl Default for LossHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LossHistogram {
    pub fn new() -> Self {
        Self {
            counts: vec![0; BINS as usize],
        }
    }

    #[inline]
    pub fn add(&mut self, loss: f64) {
        self.counts[bin_of(loss) as usize] += 1;
    }

    /// Adds another histogram's counts (another chunk, thread or shard of the same scenarios).
    pub fn merge(&mut self, other: &LossHistogram) {
        self.counts
            .iter_mut()
            .zip(&other.counts)
            .for_each(|(a, b)| *a += b);
    }

    /// The histogram of the given losses.
    pub fn of(losses: impl IntoIterator<Item = f64>) -> Self {
        let mut h = Self::new();
        losses.into_iter().for_each(|x| h.add(x));
        h
    }

    /// Scenarios counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The non-empty bins as (bin, count), ascending: a compact form for files.
    pub fn sparse(&self) -> Vec<(u32, u64)> {
        (0..BINS)
            .zip(&self.counts)
            .filter(|(_, c)| **c > 0)
            .map(|(b, &c)| (b, c))
            .collect()
    }

    /// The histogram of [`LossHistogram::sparse`] pairs (a shard file's); `None` when a bin is
    /// out of range or given twice.
    pub fn from_sparse(pairs: &[(u32, u64)]) -> Option<Self> {
        let mut h = Self::new();
        for &(b, c) in pairs {
            let slot = h.counts.get_mut(b as usize)?;
            if *slot != 0 || c == 0 {
                return None;
            }
            *slot = c;
        }
        Some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_ascend_with_the_loss_and_contain_it() {
        let xs = [
            -1e300, -2e12, -1e12, -5000.0, -1.0, -1e-9, -0.0, 0.0, 3e-8, 1e-7, 0.75, 1.0, 1.03,
            91250.0, 1e12, 2e12, 1e300,
        ];
        let mut last = 0;
        for &x in &xs {
            let b = bin_of(x);
            assert!(b >= last, "{x}: bin {b} after {last}");
            last = b;
            let (lo, hi) = bin_range(b);
            let y = f64::from(x as f32);
            assert!(lo <= y && y <= hi, "{x} in bin {b} = [{lo}, {hi}]");
        }
        assert_eq!(bin_of(f64::NEG_INFINITY), 0);
        assert_eq!(bin_of(f64::INFINITY), BINS - 1);
        assert_eq!(bin_of(0.0), ZERO_BIN);
    }

    #[test]
    fn edges_of_neighbouring_bins_meet() {
        for b in 1..BINS - 1 {
            assert_eq!(bin_range(b).1, bin_range(b + 1).0, "bin {b}");
        }
        // The bin of each lower edge of the positive side is that bin.
        for b in ZERO_BIN + 1..BINS {
            assert_eq!(bin_of(bin_range(b).0), b);
        }
    }

    #[test]
    fn counts_add_across_splits() {
        let losses: Vec<f64> = (0..5000)
            .map(|i| ((i * 7919) % 2003) as f64 - 1000.0)
            .collect();
        let whole = LossHistogram::of(losses.iter().copied());
        let mut parts = LossHistogram::new();
        for chunk in losses.chunks(77) {
            parts.merge(&LossHistogram::of(chunk.iter().copied()));
        }
        assert_eq!(whole, parts);
        assert_eq!(whole.total(), 5000);
        assert_eq!(LossHistogram::from_sparse(&whole.sparse()), Some(whole));
        assert_eq!(LossHistogram::from_sparse(&[(BINS, 1)]), None);
        assert_eq!(LossHistogram::from_sparse(&[(3, 1), (3, 2)]), None);
    }
}
