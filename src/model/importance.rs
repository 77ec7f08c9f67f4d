//! Importance sampling of the tail (`--variance-reduction is`, methodology §16.2): the
//! independent spot normals z of a path (A per step, S·A in all) and, with Student-t shocks,
//! the ν normals x of each step's χ² (S·ν in all) are drawn from a defensive mixture instead
//! of N(0, I),
//!
//!     g(z, x) = π₀ φ(z) φ(x) + Σ_k π_k φ(z − θ_k) φ(x / c_k) / c_k^{Sν},
//!
//! each component k shifting every step's z by its own θ_k (the mean of the pilot's tail
//! draws of one cluster) and scaling every χ² normal by c_k ≤ 1 (a smaller χ², so larger
//! Student-t shocks), and each path carries the likelihood ratio
//!
//!     w = φ(z) φ(x) / g(z, x)
//!       = 1 / (π₀ + Σ_k π_k e^{θ_k·z − |θ_k|²/2} c_k^{−Sν} e^{−|x|²(1/c_k² − 1)/2}) ≤ 1/π₀,
//!
//! so that E_g[w·f(z)] = E_φ[f(z)] for any figure f: the estimators of `crate::risk`'s
//! weighted measures are unbiased, and the defensive share π₀ bounds every weight, so no
//! path can weigh more than 1/π₀ plain paths.
//!
//! A path's component is chosen by the uniform `(path, step 0, index MIX_INDEX)` of the
//! uniform stream (the jump uniforms use indices below the asset count), so the choice is a
//! function of (seed, path) like every other draw: reproducible on any thread or chunk.

use crate::rng::DrawSource;

/// The uniform of the uniform stream that picks a path's mixture component.
pub const MIX_INDEX: u32 = u32::MAX;

/// One shifted component of the mixture.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// π_k.
    pub share: f64,
    /// θ_k, step-major: `shift[step * assets + asset]`.
    pub shift: Vec<f64>,
    /// c_k: the scale of every χ² normal (1 without Student-t shocks).
    pub scale: f64,
}

/// A path's sampled draws, as far as its weight depends on them.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    /// The spot normals z, step-major.
    pub z: Vec<f64>,
    /// |x|²: the sum of the squared χ² normals over every step, as sampled.
    pub chi_square: f64,
    /// S·ν: how many χ² normals there are.
    pub chi_count: u32,
}

/// The sampling density of every path of a book.
#[derive(Clone, Debug, PartialEq)]
pub struct Importance {
    /// π₀: the share of paths drawn from N(0, I).
    pub defensive: f64,
    pub components: Vec<Component>,
}

impl Importance {
    /// The component of `path`, or `None` for a path of the defensive component.
    pub fn component_of(&self, draws: &DrawSource, path: u32) -> Option<&Component> {
        let u = draws.uniform(path, 0, MIX_INDEX);
        let mut edge = self.defensive;
        if u < edge {
            return None;
        }
        for c in &self.components {
            edge += c.share;
            if u < edge {
                return Some(c);
            }
        }
        // Rounding of the shares' sum: the last component.
        self.components.last()
    }

    /// w for a path's sampled draws.
    pub fn weight(&self, s: &Sampled) -> f64 {
        let mixture: f64 = self
            .components
            .iter()
            .map(|c| {
                let dot: f64 = c.shift.iter().zip(&s.z).map(|(t, x)| t * x).sum();
                let norm2: f64 = c.shift.iter().map(|t| t * t).sum();
                // ln of φ(x/c) / (c^{Sν} φ(x)).
                let scale = if c.scale == 1.0 {
                    0.0
                } else {
                    -f64::from(s.chi_count) * c.scale.ln()
                        - 0.5 * s.chi_square * (1.0 / (c.scale * c.scale) - 1.0)
                };
                c.share * (dot - 0.5 * norm2 + scale).exp()
            })
            .sum();
        1.0 / (self.defensive + mixture)
    }

    /// The sampled draws of `path` (the unshifted draws with its component's shift and
    /// scale), as the scenario stage uses them; `dof` is ν, 0 without Student-t shocks.
    pub fn sampled(
        &self,
        draws: &DrawSource,
        path: u32,
        steps: u32,
        assets: usize,
        dof: u32,
    ) -> Sampled {
        let component = self.component_of(draws, path);
        let mut z = vec![0.0; steps as usize * assets];
        let mut chi = vec![0.0; dof as usize];
        let mut chi_square = 0.0;
        for (step, row) in z.chunks_mut(assets.max(1)).enumerate() {
            draws.normals_into(path, step as u32, row);
            if dof > 0 {
                draws.normals_range(path, step as u32, 3 * assets as u32, &mut chi);
                let c = component.map_or(1.0, |c| c.scale);
                chi_square += chi.iter().map(|x| (c * x).powi(2)).sum::<f64>();
            }
        }
        if let Some(c) = component {
            z.iter_mut().zip(&c.shift).for_each(|(x, t)| *x += t);
        }
        Sampled {
            z,
            chi_square,
            chi_count: steps * dof,
        }
    }
}

/// Two-cluster k-means (Lloyd's iterations from the point farthest from the mean and the
/// point farthest from that) of the pilot's tail draws, each point a path's S·A spot
/// normals: each cluster's mean and its members (indices into `points`). One cluster when the
/// points are one blob (the two means closer than one unit of the standard normal) or fewer
/// than 4.
pub fn tail_clusters(points: &[Vec<f64>]) -> Vec<(Vec<f64>, Vec<usize>)> {
    let mean = |members: &[usize]| -> Vec<f64> {
        let d = points.first().map_or(0, Vec::len);
        let mut m = vec![0.0; d];
        for &i in members {
            m.iter_mut().zip(&points[i]).for_each(|(a, x)| *a += x);
        }
        m.iter_mut().for_each(|a| *a /= members.len().max(1) as f64);
        m
    };
    let everyone: Vec<usize> = (0..points.len()).collect();
    let one = || vec![(mean(&everyone), everyone.clone())];
    if points.len() < 4 {
        return one();
    }
    let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let far = |from: &[f64]| {
        points
            .iter()
            .max_by(|a, b| dist2(a, from).total_cmp(&dist2(b, from)))
            .cloned()
            .unwrap_or_default()
    };
    let first = far(&mean(&everyone));
    let mut centres = [far(&first), first];
    let mut groups: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..50 {
        groups = [Vec::new(), Vec::new()];
        for (i, p) in points.iter().enumerate() {
            let k = usize::from(dist2(p, &centres[1]) < dist2(p, &centres[0]));
            groups[k].push(i);
        }
        if groups.iter().any(Vec::is_empty) {
            return one();
        }
        let next = [mean(&groups[0]), mean(&groups[1])];
        let settled = next == centres;
        centres = next;
        if settled {
            break;
        }
    }
    if dist2(&centres[0], &centres[1]) < 1.0 {
        return one();
    }
    centres.into_iter().zip(groups).collect()
}
