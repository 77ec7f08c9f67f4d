//! Importance sampling of the tail (`--variance-reduction is`, methodology §16.2). Per path
//! and step the model draws W normals (the A spot normals z, then, when the book needs them,
//! the A vol-shock normals and the A jump-size normals: W = A, 2A or 3A), ν normals x for the
//! Student-t χ², and per asset a uniform that sets the jump count N ~ Poisson(λ·dt). Under
//! importance sampling they are drawn from a defensive mixture instead:
//!
//! ```text
//! g = π₀ · (the model) + Σ_k π_k · (normals ~ N(θ_k, I), χ² normals ~ N(0, c_k² I),
//!                                   jump counts ~ Poisson(λ_k·dt))
//! ```
//!
//! each component k shifting every step's normals by θ_k (the mean of the pilot's tail draws
//! of one cluster), scaling the χ² normals by c_k ≤ 1 (larger Student-t shocks) and raising
//! the jump rates to λ_k ≥ λ, and each path carries the likelihood ratio
//!
//! ```text
//! w = 1 / (π₀ + Σ_k π_k r_k),   r_k = e^{θ_k·z − |θ_k|²/2}
//!                                   · c_k^{−Sν} e^{−|x|²(1/c_k² − 1)/2}
//!                                   · Π_{s,a} (λ_k/λ)^{N_sa} e^{−(λ_k − λ)dt}
//! ```
//!
//! (z every shifted normal, x the χ² normals as drawn, N the jump counts), so
//! E_g[w·f] = E[f] for any figure: the estimators of `crate::risk::weighted_measure` are
//! unbiased, and the defensive share bounds every weight by 1/π₀.
//!
//! A path's component is chosen by the uniform `(path, step 0, index MIX_INDEX)` of the
//! uniform stream (the jump uniforms use indices below the asset count), so the choice is a
//! function of (seed, path) like every other draw: reproducible on any thread or chunk.

use crate::model::scenario::poisson_inverse;
use crate::rng::DrawSource;

/// The uniform of the uniform stream that picks a path's mixture component.
pub const MIX_INDEX: u32 = u32::MAX;

/// One component of the mixture.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// π_k.
    pub share: f64,
    /// θ_k, step-major: `shift[step * width + j]` for the step's normal j.
    pub shift: Vec<f64>,
    /// c_k: the scale of every χ² normal (1 without Student-t shocks).
    pub scale: f64,
    /// λ_k·dt per step and asset (`[step * assets + asset]`); empty when nothing jumps.
    pub jump_rates: Vec<f64>,
}

/// A path's sampled draws, as far as its weight depends on them.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    /// The shifted normals, step-major (W a step).
    pub z: Vec<f64>,
    /// |x|²: the sum of the squared χ² normals over every step, as sampled.
    pub chi_square: f64,
    /// The jump counts, step-major (A a step); empty when nothing jumps.
    pub jump_counts: Vec<u32>,
}

/// The sampling density of every path of a book.
#[derive(Clone, Debug, PartialEq)]
pub struct Importance {
    /// π₀: the share of paths drawn from the model itself.
    pub defensive: f64,
    pub components: Vec<Component>,
    pub steps: u32,
    pub assets: usize,
    /// W: the normals a step draws and a component shifts.
    pub width: usize,
    /// ν, 0 without Student-t shocks.
    pub dof: u32,
    /// The model's λ·dt per asset.
    pub base_rates: Vec<f64>,
}

impl Importance {
    /// The model itself (π₀ = 1, no component): the pilot's density.
    pub fn plain(model: &crate::model::scenario::ScenarioModel) -> Self {
        let assets = model.asset_count();
        Importance {
            defensive: 1.0,
            components: Vec::new(),
            steps: model.steps,
            assets,
            width: model.normals_used(),
            dof: model.dof,
            base_rates: model.assets.iter().map(|a| a.jump_mean_count).collect(),
        }
    }

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

    /// The jump rate λ·dt of asset `a` at `step` for a path of component `c`.
    pub fn jump_rate(&self, c: Option<&Component>, step: u32, a: usize) -> f64 {
        match c {
            Some(c) if !c.jump_rates.is_empty() => c.jump_rates[step as usize * self.assets + a],
            _ => self.base_rates[a],
        }
    }

    /// w for a path's sampled draws.
    pub fn weight(&self, s: &Sampled) -> f64 {
        let chi_count = f64::from(self.steps * self.dof);
        let mixture: f64 = self
            .components
            .iter()
            .map(|c| {
                let dot: f64 = c.shift.iter().zip(&s.z).map(|(t, x)| t * x).sum();
                let norm2: f64 = c.shift.iter().map(|t| t * t).sum();
                let mut log_ratio = dot - 0.5 * norm2;
                if c.scale != 1.0 {
                    log_ratio += -chi_count * c.scale.ln()
                        - 0.5 * s.chi_square * (1.0 / (c.scale * c.scale) - 1.0);
                }
                for (i, (&rate, &n)) in c.jump_rates.iter().zip(&s.jump_counts).enumerate() {
                    let base = self.base_rates[i % self.assets];
                    if base > 0.0 && rate != base {
                        log_ratio += f64::from(n) * (rate / base).ln() - (rate - base);
                    }
                }
                c.share * log_ratio.exp()
            })
            .sum();
        1.0 / (self.defensive + mixture)
    }

    /// The sampled draws of `path` (the model's draws with its component's shift, scale and
    /// jump rates), as the scenario stage uses them.
    pub fn sampled(&self, draws: &DrawSource, path: u32) -> Sampled {
        let component = self.component_of(draws, path);
        let (w, a) = (self.width, self.assets);
        let mut z = vec![0.0; self.steps as usize * w];
        let mut chi = vec![0.0; self.dof as usize];
        let mut chi_square = 0.0;
        let jumps = self.base_rates.iter().any(|&r| r > 0.0);
        let mut jump_counts = Vec::new();
        for (step, row) in z.chunks_mut(w.max(1)).enumerate() {
            let step = step as u32;
            draws.normals_into(path, step, row);
            if self.dof > 0 {
                draws.normals_range(path, step, 3 * a as u32, &mut chi);
                let c = component.map_or(1.0, |c| c.scale);
                chi_square += chi.iter().map(|x| (c * x).powi(2)).sum::<f64>();
            }
            if jumps {
                for asset in 0..a {
                    let u = draws.uniform(path, step, asset as u32);
                    let rate = self.jump_rate(component, step, asset);
                    jump_counts.push(if rate > 0.0 {
                        poisson_inverse(rate, u)
                    } else {
                        0
                    });
                }
            }
        }
        if let Some(c) = component {
            z.iter_mut().zip(&c.shift).for_each(|(x, t)| *x += t);
        }
        Sampled {
            z,
            chi_square,
            jump_counts,
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
