//! Importance sampling of the tail (`--variance-reduction is`, methodology §16.2): the
//! independent spot normals z of a path (A per step, S·A in all) are drawn from a defensive
//! mixture instead of N(0, I),
//!
//!     g(z) = π₀ φ(z) + Σ_k π_k φ(z − θ_k),
//!
//! each component k shifting every step's z by its own θ_k (the mean of the pilot's tail
//! draws of one cluster), and each path carries the likelihood ratio
//!
//!     w(z) = φ(z) / g(z) = 1 / (π₀ + Σ_k π_k e^{θ_k·z − |θ_k|²/2}) ≤ 1/π₀,
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
}

/// The sampling density of every path of a book.
#[derive(Clone, Debug, PartialEq)]
pub struct Importance {
    /// π₀: the share of paths drawn from N(0, I).
    pub defensive: f64,
    pub components: Vec<Component>,
}

impl Importance {
    /// The shift of `path`, or `None` for a path of the defensive component.
    pub fn shift_of(&self, draws: &DrawSource, path: u32) -> Option<&[f64]> {
        let u = draws.uniform(path, 0, MIX_INDEX);
        let mut edge = self.defensive;
        if u < edge {
            return None;
        }
        for c in &self.components {
            edge += c.share;
            if u < edge {
                return Some(&c.shift);
            }
        }
        // Rounding of the shares' sum: the last component.
        self.components.last().map(|c| c.shift.as_slice())
    }

    /// w(z) for the sampled normals `z` (step-major, every step's A spot normals).
    pub fn weight(&self, z: &[f64]) -> f64 {
        let mixture: f64 = self
            .components
            .iter()
            .map(|c| {
                let dot: f64 = c.shift.iter().zip(z).map(|(t, x)| t * x).sum();
                let norm2: f64 = c.shift.iter().map(|t| t * t).sum();
                c.share * (dot - 0.5 * norm2).exp()
            })
            .sum();
        1.0 / (self.defensive + mixture)
    }

    /// The sampled spot normals of `path` (unshifted draws plus its component's shift),
    /// step-major, as the scenario stage uses them.
    pub fn sampled_normals(
        &self,
        draws: &DrawSource,
        path: u32,
        steps: u32,
        assets: usize,
    ) -> Vec<f64> {
        let mut z = vec![0.0; steps as usize * assets];
        for (step, row) in z.chunks_mut(assets.max(1)).enumerate() {
            draws.normals_into(path, step as u32, row);
        }
        if let Some(shift) = self.shift_of(draws, path) {
            z.iter_mut().zip(shift).for_each(|(x, t)| *x += t);
        }
        z
    }
}

/// Two-cluster k-means (Lloyd's, from the two points farthest apart along the first
/// point's direction) of the pilot's tail draws, each point a path's S·A spot normals: the
/// clusters' means and sizes. One cluster when the points are one blob (the two means closer
/// than one unit of the standard normal) or fewer than 4.
pub fn tail_clusters(points: &[Vec<f64>]) -> Vec<(Vec<f64>, usize)> {
    let mean = |members: &[&Vec<f64>]| -> Vec<f64> {
        let d = members.first().map_or(0, |p| p.len());
        let mut m = vec![0.0; d];
        for p in members {
            m.iter_mut().zip(p.iter()).for_each(|(a, x)| *a += x);
        }
        m.iter_mut().for_each(|a| *a /= members.len().max(1) as f64);
        m
    };
    let all: Vec<&Vec<f64>> = points.iter().collect();
    let overall = mean(&all);
    if points.len() < 4 {
        return vec![(overall, points.len())];
    }
    let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    // Seeds: the point farthest from the overall mean, then the one farthest from it.
    let far = |from: &[f64]| {
        points
            .iter()
            .max_by(|a, b| dist2(a, from).total_cmp(&dist2(b, from)))
            .cloned()
            .unwrap_or_default()
    };
    let mut centres = [far(&overall), Vec::new()];
    centres[1] = far(&centres[0]);
    let mut sizes = [0usize; 2];
    for _ in 0..50 {
        let mut groups: [Vec<&Vec<f64>>; 2] = [Vec::new(), Vec::new()];
        for p in points {
            let k = usize::from(dist2(p, &centres[1]) < dist2(p, &centres[0]));
            groups[k].push(p);
        }
        if groups.iter().any(|g| g.is_empty()) {
            return vec![(overall, points.len())];
        }
        let next = [mean(&groups[0]), mean(&groups[1])];
        sizes = [groups[0].len(), groups[1].len()];
        let settled = next == centres;
        centres = next;
        if settled {
            break;
        }
    }
    if dist2(&centres[0], &centres[1]) < 1.0 {
        return vec![(overall, points.len())];
    }
    centres.into_iter().zip(sizes).collect()
}
