//! Risk figures of SPEC §4 from an account's tail: VaR, ES, their 95% confidence intervals
//! and component ES.
//!
//! Of N losses sorted descending (ties by the lower path index), k = ⌈N(1 − α)⌉ (a product
//! within 1e-9 of an integer is that integer; at least 1):
//! - VaR_α = L(k), ES_α = (1/k) Σ_{j ≤ k} L(j), summed in that fixed order;
//! - VaR interval: the exceedance count is Binomial(N, 1 − α), so the ranks
//!   k ∓ ⌈1.96·√(N α (1 − α))⌉ (clamped to [1, N]) bound it: [L(k_hi), L(k_lo)];
//! - ES interval: ES ± 1.96·σ_ES with the asymptotic variance of the ES estimator
//!   σ²_ES = [Var(L | L ≥ VaR) + α (ES − VaR)²] / (N (1 − α)),
//!   the conditional variance estimated from the k tail losses.
//!
//! 1.96 stands for [`Z_95`] = Φ⁻¹(0.975) throughout.

use crate::engine::AccountTail;

/// z of a two-sided 95% normal interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// k = ⌈N(1 − α)⌉, robust to the rounding of N(1 − α): within 1e-9 of an integer counts as
/// that integer (N = 10⁶, α = 0.99 gives 10 000, not 10 001); at least 1, at most N.
pub fn tail_rank(paths: u64, confidence: f64) -> usize {
    let x = paths as f64 * (1.0 - confidence);
    let nearest = x.round();
    let k = if (x - nearest).abs() <= 1e-9 {
        nearest
    } else {
        x.ceil()
    };
    (k.max(1.0) as u64).min(paths.max(1)) as usize
}

/// Half-width in ranks of the 95% order-statistic interval of VaR.
fn rank_half_width(paths: u64, confidence: f64) -> usize {
    (Z_95 * (paths as f64 * confidence * (1.0 - confidence)).sqrt()).ceil() as usize
}

/// The ranks (k_lo, k, k_hi) of a confidence level, 1-based.
pub fn var_ranks(paths: u64, confidence: f64) -> (usize, usize, usize) {
    let k = tail_rank(paths, confidence);
    let half = rank_half_width(paths, confidence);
    let n = paths.max(1) as usize;
    (k.saturating_sub(half).max(1), k, (k + half).min(n))
}

/// How many of the largest losses the tail must keep to answer every confidence level.
pub fn tail_len(paths: u64, confidences: &[f64]) -> usize {
    confidences
        .iter()
        .map(|&c| var_ranks(paths, c).2)
        .max()
        .unwrap_or(1)
}

/// VaR and ES at one confidence, with their 95% intervals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measure {
    pub confidence: f64,
    pub var: f64,
    pub es: f64,
    pub var_ci: [f64; 2],
    pub es_ci: [f64; 2],
    /// The k of SPEC §4.
    pub k: usize,
}

/// A mean of tail losses, computed as `mean`, held to the range [`var`, `worst`] that the
/// exact mean lies in: the rounding of the sum may otherwise step past it (k equal losses,
/// an option settling at intrinsic on every tail path, average to one ulp above the loss).
fn tail_mean(mean: f64, var: f64, worst: f64) -> f64 {
    mean.min(worst).max(var)
}

/// The figures of one confidence level from a tail of at least `var_ranks(..).2` losses.
pub fn measure(tail: &AccountTail, paths: u64, confidence: f64) -> Measure {
    let (k_lo, k, k_hi) = var_ranks(paths, confidence);
    let loss = |rank: usize| tail.worst[rank - 1].loss;
    let var = loss(k);
    let top = &tail.worst[..k];
    let es = tail_mean(
        top.iter().map(|e| e.loss).sum::<f64>() / k as f64,
        var,
        top[0].loss,
    );
    let cond_var = if k > 1 {
        top.iter().map(|e| (e.loss - es).powi(2)).sum::<f64>() / (k - 1) as f64
    } else {
        0.0
    };
    let sigma_es =
        ((cond_var + confidence * (es - var).powi(2)) / (paths as f64 * (1.0 - confidence))).sqrt();
    Measure {
        confidence,
        var,
        es,
        var_ci: [loss(k_hi), loss(k_lo)],
        es_ci: [es - Z_95 * sigma_es, es + Z_95 * sigma_es],
        k,
    }
    .signed_zeros_cleared()
}

impl Measure {
    /// −0 read as +0 in every figure (x + 0 is x otherwise): the GPU's losses of a flat
    /// account are −0 (the shader's −Σ of a zero sum), the CPU's +0; the tails keep −0 below
    /// +0 as their order does, the figures do not.
    fn signed_zeros_cleared(self) -> Self {
        let z = |x: f64| x + 0.0;
        Measure {
            var: z(self.var),
            es: z(self.es),
            var_ci: self.var_ci.map(z),
            es_ci: self.es_ci.map(z),
            ..self
        }
    }
}

/// t = N(1 − α), the weight of the tail of a weighted estimator: within 1e-9 of an integer
/// it is that integer, as in [`tail_rank`].
pub fn tail_weight(paths: u64, confidence: f64) -> f64 {
    let exact = paths as f64 * (1.0 - confidence);
    if (exact - exact.round()).abs() <= 1e-9 {
        exact.round()
    } else {
        exact
    }
}

/// The index of the first of `weights` (worst path first) at which their running sum reaches
/// `t`: the rank of the weighted quantile at total weight t; `None` when they never do.
pub fn weight_rank(weights: impl IntoIterator<Item = f64>, t: f64) -> Option<usize> {
    let mut cumulative = 0.0;
    weights.into_iter().position(|w| {
        cumulative += w;
        cumulative >= t
    })
}

/// VaR and ES at `confidence` from importance-sampled paths (methodology §16.2): `tail` is
/// (loss, likelihood ratio w) worst loss first, covering at least the paths whose weights
/// add up to N(1 − α) and the interval's ranks; N = `paths`. With t = N(1 − α) and W_j the
/// sum of the first j weights, VaR is the loss L_j* of the first j* with W_j* ≥ t,
///
/// ```text
/// ES = (Σ_{j<j*} w_j L_j + (t − W_{j*−1}) L_j*) / t,
/// ```
///
/// σ²_ES = Var[w (L − VaR)⁺] / (N (1 − α)²) estimated over all N paths (those below VaR
/// contribute 0), and the VaR interval is the losses at the weights t ∓ 1.96·N·σ_p with
/// σ²_p = (E[w² 1{L ≥ VaR}] − (1 − α)²) / N. With every w = 1 and t an integer, VaR and ES are
/// [`measure`]'s. `k` is j* (1-based). An error when the tail does not reach the weight.
pub fn weighted_measure(
    tail: &[(f64, f64)],
    paths: u64,
    confidence: f64,
) -> std::result::Result<Measure, String> {
    let n = paths as f64;
    let p = 1.0 - confidence;
    let target = tail_weight(paths, confidence);
    let rank_at = |t: f64| weight_rank(tail.iter().map(|&(_, w)| w), t);
    let short = || {
        // N(1 − α) to 6 decimals: 5 paths at 0.99 read 0.05, not 0.05000000000000004.
        let shown = (target * 1e6).round() / 1e6;
        format!(
            "importance sampling: the {} kept paths weigh less than N(1 − α) = {shown} at \
             α = {confidence}",
            tail.len()
        )
    };
    let j = rank_at(target).ok_or_else(short)?;
    let var = tail[j].0;
    let before: f64 = tail[..j].iter().map(|&(_, w)| w).sum();
    let es_sum: f64 = tail[..j].iter().map(|&(l, w)| w * l).sum::<f64>() + (target - before) * var;
    let es = tail_mean(es_sum / target, var, tail[0].0);
    let (mut sum_y, mut sum_y2, mut sum_w2) = (0.0, 0.0, 0.0);
    for &(l, w) in &tail[..=j] {
        let y = w * (l - var).max(0.0);
        sum_y += y;
        sum_y2 += y * y;
        sum_w2 += w * w;
    }
    let var_y = (sum_y2 / n - (sum_y / n).powi(2)).max(0.0);
    let sigma_es = (var_y / n).sqrt() / p;
    let sigma_p = ((sum_w2 / n - p * p).max(0.0) / n).sqrt();
    let upper = match rank_at(n * (p - Z_95 * sigma_p)) {
        Some(r) if n * (p - Z_95 * sigma_p) > 0.0 => tail[r].0,
        _ => tail[0].0,
    };
    let lower = tail[rank_at(n * (p + Z_95 * sigma_p)).ok_or_else(short)?].0;
    Ok(Measure {
        confidence,
        var,
        es,
        var_ci: [lower, upper],
        es_ci: [es - Z_95 * sigma_es, es + Z_95 * sigma_es],
        k: j + 1,
    }
    .signed_zeros_cleared())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TailEntry;

    #[test]
    fn a_flat_accounts_negative_zeros_read_as_zero() {
        let tail = AccountTail {
            worst: (0..10)
                .map(|path| crate::model::TailEntry { loss: -0.0, path })
                .collect(),
        };
        let m = measure(&tail, 10, 0.5);
        for x in [
            m.var,
            m.es,
            m.var_ci[0],
            m.var_ci[1],
            m.es_ci[0],
            m.es_ci[1],
        ] {
            assert_eq!(x.to_bits(), 0.0f64.to_bits());
        }
    }

    #[test]
    fn tail_rank_is_robust_to_rounding() {
        assert_eq!(tail_rank(1_000_000, 0.99), 10_000);
        assert_eq!(tail_rank(1_000_000, 0.995), 5_000);
        assert_eq!(tail_rank(1_000, 0.999), 1);
        assert_eq!(tail_rank(10, 0.999), 1);
        assert_eq!(tail_rank(1_001, 0.99), 11);
        assert_eq!(tail_rank(3, 0.01), 3);
    }

    #[test]
    fn measure_reads_order_statistics() {
        let worst: Vec<TailEntry> = (0..40)
            .map(|i| TailEntry {
                loss: 100.0 - i as f64,
                path: i,
            })
            .collect();
        let tail = AccountTail { worst };
        // N = 1000, α = 0.99: k = 10, VaR = L(10) = 91, ES = mean(100..91) = 95.5.
        let m = measure(&tail, 1000, 0.99);
        assert_eq!(m.k, 10);
        assert_eq!(m.var, 91.0);
        assert_eq!(m.es, 95.5);
        assert!(m.var_ci[0] <= m.var && m.var <= m.var_ci[1]);
        assert!(m.es_ci[0] < m.es && m.es < m.es_ci[1]);
    }

    #[test]
    fn a_tail_of_equal_losses_has_that_loss_as_es() {
        // A 7-day call over a 10-day horizon settles on every tail path and loses exactly its
        // premium: summed one by one, 10 000 of them average to 5e-11 above it.
        let premium = 3037.8783160075036;
        let worst: Vec<TailEntry> = (0..10_300)
            .map(|i| TailEntry {
                loss: premium,
                path: i,
            })
            .collect();
        let summed = worst[..10_000].iter().map(|e| e.loss).sum::<f64>() / 10_000.0;
        assert_ne!(summed, premium, "the case no longer shows the rounding");
        let m = measure(&AccountTail { worst }, 1_000_000, 0.99);
        assert_eq!((m.var, m.es), (premium, premium));
        assert_eq!(m.es_ci, [premium, premium]);
    }

    #[test]
    fn a_weighted_prefix_that_holds_the_interval_gives_every_paths_figures() {
        // 10 000 paths, losses falling, weights cycling in (0.1, 1.3): the figures of every
        // prefix either fail (too short to hold the VaR interval) or are the full list's.
        let weighted: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (1e4 - f64::from(i), 0.1 + 0.3 * f64::from(i % 5)))
            .collect();
        let full = weighted_measure(&weighted, 10_000, 0.99).expect("every path weighed");
        let mut succeeded = 0;
        for len in (50..10_000).step_by(50) {
            if let Ok(m) = weighted_measure(&weighted[..len], 10_000, 0.99) {
                assert_eq!(m, full, "prefix of {len}");
                succeeded += 1;
            }
        }
        assert!(succeeded > 100, "{succeeded}");
    }
}
