//! The loss distribution of an account for the HTML report (SPEC §12, R3–R4): the histogram
//! of every scenario's loss and the worst losses the tail inset shows, from the same tail
//! pass as the figures (no full readback of losses).

use crate::engine::CountedTails;
use crate::model::distribution::LossHistogram;
use crate::risk::tail_rank;

/// One account's loss distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountDistribution {
    /// Every scenario's loss, binned ([`crate::model::distribution`]): counts sum to N.
    pub histogram: LossHistogram,
    /// The largest losses, descending (ties by the lower path index): the worst
    /// [`inset_len`] of the run.
    pub worst_losses: Vec<f64>,
}

impl AccountDistribution {
    /// The distributions of the accounts of one tail pass.
    pub fn of(counted: &CountedTails) -> Vec<AccountDistribution> {
        counted
            .tails
            .iter()
            .zip(&counted.histograms)
            .map(|(tail, histogram)| AccountDistribution {
                histogram: histogram.clone(),
                worst_losses: tail.worst.iter().map(|e| e.loss).collect(),
            })
            .collect()
    }
}

/// The losses the tail inset shows (R4): the worst max(2k, ⌈N/100⌉), k = ⌈N(1 − α)⌉ at the
/// highest confidence α, at most N.
pub fn inset_len(paths: u64, confidences: impl IntoIterator<Item = f64>) -> usize {
    let alpha = confidences.into_iter().fold(0.0, f64::max);
    let k = tail_rank(paths, alpha);
    (2 * k)
        .max(paths.div_ceil(100) as usize)
        .min(paths as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inset_is_twice_the_tail_or_a_percent() {
        // α = 0.99: k = 10 000 of 10⁶, 2k = 20 000 > 1 %.
        assert_eq!(inset_len(1_000_000, [0.99, 0.975]), 20_000);
        // α = 0.999: k = 1 000, 2k = 2 000 < 1 % = 10 000.
        assert_eq!(inset_len(1_000_000, [0.999]), 10_000);
        assert_eq!(inset_len(50, [0.99]), 2);
        assert_eq!(inset_len(1, [0.99]), 1);
    }
}
