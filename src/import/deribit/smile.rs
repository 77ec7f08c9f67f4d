//! The arithmetic of the market import: the rate fit of D3, the knot grid of D4 and the
//! resampling of a smile row onto it by SPEC §2's rule.

/// Knots per currency (D4).
pub const KNOTS: usize = 21;
/// The knot grid never reaches beyond |k| = 1.5 (D4).
pub const K_LIMIT: f64 = 1.5;

/// Least squares through the origin of y = rate·T over the points (T, y) (D3):
/// rate = Σ T·y / Σ T². Points with T = 0 (perpetuals) add nothing to either sum; `None`
/// when no point has T ≠ 0.
pub fn fit_rate(points: &[(f64, f64)]) -> Option<f64> {
    let tt: f64 = points.iter().map(|(t, _)| t * t).sum();
    let ty: f64 = points.iter().map(|(t, y)| t * y).sum();
    (tt > 0.0).then(|| ty / tt)
}

/// 21 equally spaced knots from the smallest to the largest k observed, clipped to
/// [−1.5, 1.5] (D4): kᵢ = lo + (hi − lo)·i/20, the last exactly hi. `None` when the
/// clipped range is empty or a point.
pub fn knots(observed: impl Iterator<Item = f64>) -> Option<Vec<f64>> {
    let (min, max) = observed.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), k| {
        (lo.min(k), hi.max(k))
    });
    let (lo, hi) = (min.max(-K_LIMIT), max.min(K_LIMIT));
    if hi <= lo {
        return None;
    }
    let last = (KNOTS - 1) as f64;
    let mut grid: Vec<f64> = (0..KNOTS)
        .map(|i| lo + (hi - lo) * i as f64 / last)
        .collect();
    grid[KNOTS - 1] = hi;
    Some(grid)
}

/// A smile row (points (k, vol) with k strictly increasing) read at `k` by SPEC §2's rule:
/// linear in k between observed points, flat beyond the end ones.
pub fn read_row(row: &[(f64, f64)], k: f64) -> f64 {
    let (first, last) = (row[0], row[row.len() - 1]);
    if k <= first.0 {
        return first.1;
    }
    if k >= last.0 {
        return last.1;
    }
    let j = row.partition_point(|&(x, _)| x <= k);
    let ((k0, v0), (k1, v1)) = (row[j - 1], row[j]);
    v0 + (v1 - v0) * (k - k0) / (k1 - k0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_the_slope_through_the_origin() {
        let r = fit_rate(&[(0.0, 5.0), (0.5, 0.02), (1.0, 0.05)]).unwrap();
        assert!((r - (0.5 * 0.02 + 0.05) / 1.25).abs() < 1e-15);
        assert_eq!(fit_rate(&[(0.0, 1.0)]), None);
    }

    #[test]
    fn knots_span_the_clipped_range() {
        let k = knots([-2.0, 0.1, 0.7].into_iter()).unwrap();
        assert_eq!(k.len(), KNOTS);
        assert_eq!((k[0], k[20]), (-1.5, 0.7));
        assert!((k[10] - (-0.4)).abs() < 1e-15);
        assert_eq!(knots([0.2, 0.2].into_iter()), None);
    }

    #[test]
    fn rows_are_linear_inside_and_flat_outside() {
        let row = [(-0.2, 0.7), (0.0, 0.5), (0.3, 0.8)];
        assert_eq!(read_row(&row, -1.0), 0.7);
        assert_eq!(read_row(&row, 1.0), 0.8);
        assert!((read_row(&row, 0.15) - 0.65).abs() < 1e-15);
        assert_eq!(read_row(&row, 0.0), 0.5);
    }
}
