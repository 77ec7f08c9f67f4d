//! Student-t degrees of freedom by maximum likelihood (SPEC §9, settled detail 5).
//!
//! The unit-variance Student-t density with ν > 2 degrees of freedom:
//!
//! ```text
//! f_ν(z) = Γ((ν+1)/2) / (Γ(ν/2) √(π(ν−2))) · (1 + z²/(ν−2))^(−(ν+1)/2)
//! ```
//!
//! ν is the integer in 3..=60 maximising Σ ln f_ν(z) over the pooled standardised returns,
//! the smaller ν on equal log-likelihoods; none (normal shocks) when the standard normal's
//! log-likelihood is strictly higher than every ν's.

/// The candidate degrees of freedom.
pub const DOF_RANGE: std::ops::RangeInclusive<u32> = 3..=60;

/// Σ ln f_ν(z).
pub fn student_t_log_likelihood(z: &[f64], nu: u32) -> f64 {
    let nu = f64::from(nu);
    let constant = libm::lgamma((nu + 1.0) / 2.0)
        - libm::lgamma(nu / 2.0)
        - 0.5 * (std::f64::consts::PI * (nu - 2.0)).ln();
    let tails: f64 = z.iter().map(|x| (1.0 + x * x / (nu - 2.0)).ln()).sum();
    z.len() as f64 * constant - 0.5 * (nu + 1.0) * tails
}

/// Σ ln φ(z), φ the standard normal density.
pub fn normal_log_likelihood(z: &[f64]) -> f64 {
    let half_ln_two_pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    z.iter().map(|x| -half_ln_two_pi - 0.5 * x * x).sum()
}

/// The fitted ν (module docs); `None` when the normal fits strictly better. With no data
/// (m = n) every log-likelihood is the empty sum 0, so by the tie rule ν = 3.
pub fn fit_student_t(z: &[f64]) -> Option<u32> {
    let (mut best, mut best_ll) = (0, f64::NEG_INFINITY);
    for nu in DOF_RANGE {
        let ll = student_t_log_likelihood(z, nu);
        if ll > best_ll {
            (best, best_ll) = (nu, ll);
        }
    }
    (normal_log_likelihood(z) <= best_ll).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f_ν integrates to one and tends to the normal as ν grows.
    #[test]
    fn density_is_normalised_and_tends_to_the_normal() {
        let h = 1e-3;
        let grid: Vec<f64> = (-200_000..=200_000).map(|i| f64::from(i) * h).collect();
        let mass: f64 = grid
            .iter()
            .map(|&x| student_t_log_likelihood(&[x], 5).exp() * h)
            .sum();
        assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
        let z = [0.3, -1.2, 2.0];
        let gap = (student_t_log_likelihood(&z, 60) - normal_log_likelihood(&z)).abs();
        assert!(gap < 0.05, "gap {gap}");
    }

    #[test]
    fn gaussian_data_prefer_the_normal_or_a_large_nu() {
        // Normal quantiles at (i/2000), by bisection on Φ.
        let quantile = |p: f64| {
            let (mut lo, mut hi) = (-10.0, 10.0);
            for _ in 0..100 {
                let mid = 0.5 * (lo + hi);
                if crate::pricing::norm_cdf(mid) < p {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            0.5 * (lo + hi)
        };
        let z: Vec<f64> = (1..2000).map(|i| quantile(f64::from(i) / 2000.0)).collect();
        assert!(fit_student_t(&z).is_none_or(|nu| nu > 20));
    }
}
