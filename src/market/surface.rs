//! Implied-vol surfaces (SPEC §2): flat, or a grid over expiry × log-moneyness.
//!
//! Interpolation of a grid, at time to expiry τ and log-moneyness k = ln(K / F(T)):
//! - within a row (one expiry): linear in k, flat beyond the end knots;
//! - across expiries: linear in total variance σ²τ at the same k,
//!   σ²(τ) = [σᵢ²τᵢ·(τᵢ₊₁ − τ) + σᵢ₊₁²τᵢ₊₁·(τ − τᵢ)] / ((τᵢ₊₁ − τᵢ)·τ);
//! - flat vol (the first or last row's σ(k)) before the first and after the last expiry.
//!
//! The surface is a function of time to expiry: expiry i sits at τᵢ = expiryᵢ − as_of, and a
//! scenario at the horizon reads it at the option's remaining τ₁ (SPEC §3).

/// A validated surface: vols positive and finite, knots strictly increasing.
#[derive(Clone, Debug, PartialEq)]
pub enum VolSurface {
    Flat(f64),
    Grid(GridSurface),
}

/// Grid surface, row-major: `vols[i * log_moneyness.len() + j]` at `taus[i]`, `log_moneyness[j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct GridSurface {
    /// Time to each expiry from `as_of`, in years, strictly increasing and positive.
    pub taus: Vec<f64>,
    /// Strictly increasing log-moneyness knots.
    pub log_moneyness: Vec<f64>,
    pub vols: Vec<f64>,
}

impl GridSurface {
    /// σ of row `i` at log-moneyness `k`: linear between knots, flat beyond the ends.
    pub fn row_vol(&self, i: usize, k: f64) -> f64 {
        let ks = &self.log_moneyness;
        let row = &self.vols[i * ks.len()..(i + 1) * ks.len()];
        if k <= ks[0] {
            return row[0];
        }
        let last = ks.len() - 1;
        if k >= ks[last] {
            return row[last];
        }
        // First knot strictly above k; k lies in [ks[j-1], ks[j]). A NaN k (from a
        // non-finite state upstream) finds j = 0: `max(1)` keeps the index in range and the
        // NaN propagates to the figure, which the run then reports as not finite.
        let j = ks.partition_point(|&x| x <= k).max(1);
        let t = (k - ks[j - 1]) / (ks[j] - ks[j - 1]);
        row[j - 1] + t * (row[j] - row[j - 1])
    }

    /// σ(τ, k) by the rules of the module docs.
    pub fn vol(&self, tau: f64, k: f64) -> f64 {
        let (i0, i1, a) = self.bracket(tau);
        if i0 == i1 {
            return self.row_vol(i0, k);
        }
        let (t0, t1) = (self.taus[i0], self.taus[i1]);
        let (s0, s1) = (self.row_vol(i0, k), self.row_vol(i1, k));
        let (w0, w1) = (s0 * s0 * t0, s1 * s1 * t1);
        ((w0 + (w1 - w0) * a) / tau).sqrt()
    }

    /// The expiry rows around time to expiry τ and the fraction between them: `(i, i + 1, a)`
    /// with a = (τ − τᵢ)/(τᵢ₊₁ − τᵢ) strictly inside the expiries, `(i, i, 0)` at or beyond
    /// the first or the last expiry (flat vol there). The reference, the CPU fast kernels and
    /// the GPU tables all interpolate across expiries with it.
    pub fn bracket(&self, tau: f64) -> (usize, usize, f64) {
        let taus = &self.taus;
        let last = taus.len() - 1;
        if tau <= taus[0] {
            return (0, 0, 0.0);
        }
        if tau >= taus[last] {
            return (last, last, 0.0);
        }
        let i = taus.partition_point(|&x| x <= tau) - 1;
        (i, i + 1, (tau - taus[i]) / (taus[i + 1] - taus[i]))
    }
}

impl VolSurface {
    /// Implied vol at time to expiry `tau` (years, > 0) and log-moneyness `k`.
    pub fn vol(&self, tau: f64, k: f64) -> f64 {
        match self {
            VolSurface::Flat(s) => *s,
            VolSurface::Grid(g) => g.vol(tau, k),
        }
    }

    /// ∂σ/∂k at (τ, k) from one side: the smile slope that sticky-moneyness Greeks need.
    /// Rows are linear between knots, so the slope is piecewise constant in k; `side` picks
    /// the segment at a knot (zero beyond the end knots). Away from knots both sides agree.
    pub fn dvol_dk(&self, tau: f64, k: f64, side: Side) -> f64 {
        self.smile_derivatives(tau, k, side).0
    }

    /// (∂σ/∂k, ∂²σ/∂k²) at (τ, k) from one side. Zero on a flat surface. On one row (and with
    /// flat vol outside the expiries) σ_kk = 0; between two expiries, where
    /// σ²τ = (1 − a)σᵢ²τᵢ + aσᵢ₊₁²τᵢ₊₁ with rows linear in k (a = (τ − τᵢ)/(τᵢ₊₁ − τᵢ)),
    /// σ_k = [(1 − a)τᵢσᵢσᵢ,ₖ + aτᵢ₊₁σᵢ₊₁σᵢ₊₁,ₖ]/(στ) and
    /// σ_kk = ([(1 − a)τᵢσᵢ,ₖ² + aτᵢ₊₁σᵢ₊₁,ₖ²]/τ − σ_k²)/σ.
    pub fn smile_derivatives(&self, tau: f64, k: f64, side: Side) -> (f64, f64) {
        let VolSurface::Grid(g) = self else {
            return (0.0, 0.0);
        };
        let ks = &g.log_moneyness;
        let last = ks.len() - 1;
        // The segment [ks[j-1], ks[j]] on the chosen side of k, if inside the knots.
        let j = match side {
            Side::Right => ks.partition_point(|&x| x <= k),
            Side::Left => ks.partition_point(|&x| x < k),
        };
        if j == 0 || j > last {
            return (0.0, 0.0);
        }
        let row_slope = |i: usize| {
            let row = &g.vols[i * ks.len()..(i + 1) * ks.len()];
            (row[j] - row[j - 1]) / (ks[j] - ks[j - 1])
        };
        let (i, i1, a) = g.bracket(tau);
        if i == i1 {
            return (row_slope(i), 0.0);
        }
        let (t0, t1) = (g.taus[i], g.taus[i1]);
        let (s0, s1) = (g.row_vol(i, k), g.row_vol(i1, k));
        let (s0k, s1k) = (row_slope(i), row_slope(i1));
        let sigma = self.vol(tau, k);
        let slope = ((1.0 - a) * s0 * s0k * t0 + a * s1 * s1k * t1) / (sigma * tau);
        let curvature =
            (((1.0 - a) * t0 * s0k * s0k + a * t1 * s1k * s1k) / tau - slope * slope) / sigma;
        (slope, curvature)
    }
}

/// Which side of a smile knot a one-sided derivative is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> VolSurface {
        VolSurface::Grid(GridSurface {
            taus: vec![0.1, 0.5],
            log_moneyness: vec![-0.2, 0.0, 0.2],
            vols: vec![0.8, 0.6, 0.7, 0.7, 0.5, 0.6],
        })
    }

    #[test]
    fn flat_surface_is_flat() {
        let s = VolSurface::Flat(0.55);
        assert_eq!(s.vol(0.01, -3.0), 0.55);
        assert_eq!(s.vol(5.0, 2.0), 0.55);
    }

    #[test]
    fn row_is_linear_in_k_and_flat_beyond_the_ends() {
        let s = grid();
        assert!((s.vol(0.1, -0.1) - 0.7).abs() < 1e-15);
        assert!((s.vol(0.1, 0.1) - 0.65).abs() < 1e-15);
        assert_eq!(s.vol(0.1, -1.0), 0.8);
        assert_eq!(s.vol(0.1, 1.0), 0.7);
        assert_eq!(s.vol(0.1, 0.0), 0.6);
    }

    #[test]
    fn expiries_interpolate_in_total_variance() {
        let s = grid();
        let tau = 0.3;
        let w0 = 0.6f64.powi(2) * 0.1;
        let w1 = 0.5f64.powi(2) * 0.5;
        let w = w0 + (w1 - w0) * (tau - 0.1) / 0.4;
        assert!((s.vol(tau, 0.0) - (w / tau).sqrt()).abs() < 1e-15);
        // At a knot, the row itself.
        assert!((s.vol(0.5, 0.0) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn flat_in_vol_outside_the_expiries() {
        let s = grid();
        assert_eq!(s.vol(0.01, 0.0), 0.6);
        assert_eq!(s.vol(3.0, 0.0), 0.5);
        assert_eq!(s.vol(3.0, 0.3), 0.6);
    }

    #[test]
    fn smile_derivatives_match_finite_differences() {
        let s = grid();
        for &(tau, k) in &[(0.05, -0.13), (0.3, 0.07), (0.3, -0.11), (1.0, 0.15)] {
            let h = 1e-5;
            let fd = (s.vol(tau, k + h) - s.vol(tau, k - h)) / (2.0 * h);
            let fd2 = (s.vol(tau, k + h) - 2.0 * s.vol(tau, k) + s.vol(tau, k - h)) / (h * h);
            for side in [Side::Left, Side::Right] {
                let (slope, curvature) = s.smile_derivatives(tau, k, side);
                // Truncation O(h²·σ''') and rounding O(1e-16/h²) of the differences.
                assert!((slope - fd).abs() < 1e-7, "tau {tau} k {k}");
                assert!(
                    (curvature - fd2).abs() < 1e-4,
                    "tau {tau} k {k}: {curvature} vs {fd2}"
                );
            }
        }
    }

    #[test]
    fn one_sided_slopes_at_a_knot() {
        let s = grid();
        // At the knot k = 0 of the first row: slopes of the segments to either side.
        assert!((s.dvol_dk(0.1, 0.0, Side::Left) - (0.6 - 0.8) / 0.2).abs() < 1e-12);
        assert!((s.dvol_dk(0.1, 0.0, Side::Right) - (0.7 - 0.6) / 0.2).abs() < 1e-12);
        // Beyond the end knots the smile is flat.
        assert_eq!(s.dvol_dk(0.1, -0.2, Side::Left), 0.0);
        assert_eq!(s.dvol_dk(0.1, 0.2, Side::Right), 0.0);
    }
}
