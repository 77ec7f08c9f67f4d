//! Scenario stage, CPU twin of `shaders/scenario.wgsl`: Philox draws → correlated, fat-tailed
//! price and vol-level paths → the state of every asset at the horizon (SPEC §3).
//!
//! Per path p and step m (dt = h / steps), with the draws of [`crate::rng`]:
//! 1. ε = L·z (L the correlation root; with importance sampling z is shifted by the path's
//!    mixture component first, [`crate::model::importance`]);
//! 2. Student-t: g = χ²_ν/ν from ν squared normals, ε ← ε·√((ν − 2)/(ν g));
//! 3. ζ_a = ρ_a ε_a + √(1 − ρ_a²) w_a;
//! 4. σ_a = spot_vol_a · e^{x_a} (at the step's start); x_a ← x_a − κ_a x_a dt + η_a √dt ζ_a;
//! 5. N_a ~ Poisson(λ_a dt) by inverse CDF of a uniform, J_a = N_a μ_a + √N_a s_a n_a;
//! 6. ln S_a ← ln S_a − ½σ_a² dt − λ_a k_a dt + σ_a √dt ε_a + J_a.

use crate::book::Book;
use crate::model::AssetState;
use crate::model::importance::{Component, Importance};
use crate::rng::DrawSource;

/// Cap on the jumps of one asset in one step. P(N > 64) is about 2·10⁻⁴⁸ for λ·dt = 5
/// (λ = 1 825 jumps a year at a one-day step); [`crate::book::Book::compile`] rejects an
/// intensity for which it reaches [`crate::book::MAX_JUMP_TRUNCATION_PROBABILITY`] (λ·dt
/// above about 23.26), so counts are never truncated with a probability a run could see.
pub const MAX_JUMPS_PER_STEP: u32 = 64;

/// Per-asset constants of one step, computed once per run.
#[derive(Clone, Copy, Debug)]
pub struct StepAsset {
    pub spot_vol: f64,
    /// κ·dt.
    pub reversion_dt: f64,
    /// η·√dt.
    pub vol_of_vol_sqrt_dt: f64,
    pub rho: f64,
    /// √(1 − ρ²).
    pub rho_complement: f64,
    /// λ·dt, the mean jump count of a step.
    pub jump_mean_count: f64,
    /// e^{−λ·dt}, the probability of no jump in a step (computed once, not per path).
    pub no_jump_probability: f64,
    /// λ·k·dt, the compensator of a step.
    pub compensator_dt: f64,
    pub jump_mean: f64,
    pub jump_std: f64,
}

/// The scenario model of a book, ready to simulate any path.
#[derive(Clone, Debug)]
pub struct ScenarioModel {
    pub assets: Vec<StepAsset>,
    /// Correlation root, row-major A×A.
    pub root: Vec<f64>,
    pub steps: u32,
    pub dt: f64,
    pub sqrt_dt: f64,
    /// ν, 0 without fat tails.
    pub dof: u32,
    /// Whether any asset needs the vol shocks w (η > 0).
    pub needs_vol_shocks: bool,
    /// Whether any asset jumps (λ > 0).
    pub needs_jumps: bool,
    pub draws: DrawSource,
    /// Importance sampling: the shift of each path's spot normals (`Book::importance`).
    pub importance: Option<std::sync::Arc<Importance>>,
}

impl ScenarioModel {
    pub fn new(book: &Book, seed: u64) -> Self {
        let dt = book.horizon / f64::from(book.steps);
        let assets: Vec<StepAsset> = book
            .assets
            .iter()
            .map(|a| {
                let d = &a.dynamics;
                StepAsset {
                    spot_vol: d.spot_vol,
                    reversion_dt: d.vol_mean_reversion * dt,
                    vol_of_vol_sqrt_dt: d.vol_of_vol * dt.sqrt(),
                    rho: d.spot_vol_corr,
                    rho_complement: (1.0 - d.spot_vol_corr * d.spot_vol_corr).max(0.0).sqrt(),
                    jump_mean_count: d.jump_intensity * dt,
                    no_jump_probability: (-(d.jump_intensity * dt)).exp(),
                    compensator_dt: d.jump_intensity * d.jump_compensator() * dt,
                    jump_mean: d.jump_mean,
                    jump_std: d.jump_std,
                }
            })
            .collect();
        Self {
            needs_vol_shocks: assets.iter().any(|a| a.vol_of_vol_sqrt_dt != 0.0),
            needs_jumps: assets.iter().any(|a| a.jump_mean_count > 0.0),
            assets,
            root: book.correlation_root.clone(),
            steps: book.steps,
            dt,
            sqrt_dt: dt.sqrt(),
            dof: book.student_t_dof,
            draws: DrawSource::new(seed),
            importance: book.importance.clone(),
        }
    }

    pub fn asset_count(&self) -> usize {
        self.assets.len()
    }

    /// The normals a step draws (rng layout): z, then w when any asset has vol of vol, then
    /// the jump sizes when any asset jumps (which needs the w slots too).
    pub fn normals_used(&self) -> usize {
        let a_count = self.assets.len();
        if self.needs_jumps {
            3 * a_count
        } else if self.needs_vol_shocks {
            2 * a_count
        } else {
            a_count
        }
    }

    /// Simulates one path to the horizon. `scratch` is reused between calls (any length);
    /// `out` has one state per asset.
    pub fn simulate(&self, path: u32, scratch: &mut Scratch, out: &mut [AssetState]) {
        out.fill(AssetState::default());
        let component = self.component_of(path);
        let draws = PathDraws {
            source: &self.draws,
            path,
        };
        for step in 0..self.steps {
            self.advance(step, component, &draws, scratch, out);
        }
    }

    /// The importance-sampling component of `path` (`None` for plain Monte Carlo, or for a
    /// path drawn from the model itself).
    #[inline]
    pub fn component_of(&self, path: u32) -> Option<&Component> {
        self.importance
            .as_deref()
            .and_then(|is| is.component_of(&self.draws, path))
    }

    /// Advances the states `out` (one per asset) of one path over `step`, with that step's
    /// draws from `draws` and the path's importance-sampling `component`: steps 3–6 of the
    /// module docs on the shocks of `Self::shocks`.
    #[inline]
    pub fn advance(
        &self,
        step: u32,
        component: Option<&Component>,
        draws: &impl StepDraws,
        scratch: &mut Scratch,
        out: &mut [AssetState],
    ) {
        self.shocks(step, component, draws, scratch);
        let a_count = self.assets.len();
        let Scratch { normals, eps, .. } = scratch;
        let importance = self.importance.as_deref();
        for (a, p) in self.assets.iter().enumerate() {
            // An asset the importance-sampled book does not price stays unmoved: nothing
            // reads it, and every other asset's step reads only its own draws.
            if importance.is_some_and(|is| !is.priced[a]) {
                continue;
            }
            let state = &mut out[a];
            // e^{0} = 1 exactly: skip the call where the vol level has not moved (the
            // first step, or no vol of vol), the same bits.
            let sigma = if state.log_vol == 0.0 {
                p.spot_vol
            } else {
                p.spot_vol * state.log_vol.exp()
            };
            if p.vol_of_vol_sqrt_dt != 0.0 {
                let zeta = p.rho * eps[a] + p.rho_complement * normals[a_count + a];
                state.log_vol += -p.reversion_dt * state.log_vol + p.vol_of_vol_sqrt_dt * zeta;
            }
            let mut jump = 0.0;
            if p.jump_mean_count > 0.0 {
                let u = draws.uniform(step, a as u32);
                let n = match importance {
                    Some(is) => is.jump_count(component, step, a, u),
                    None => poisson_inverse_from(p.jump_mean_count, p.no_jump_probability, u),
                };
                if n > 0 {
                    let n = f64::from(n);
                    jump = n * p.jump_mean + n.sqrt() * p.jump_std * normals[2 * a_count + a];
                }
            }
            state.log_return += -0.5 * sigma * sigma * self.dt - p.compensator_dt
                + sigma * self.sqrt_dt * eps[a]
                + jump;
        }
    }

    /// Steps 1–2 of the module docs: the step's normals into `scratch.normals` (shifted by
    /// the importance-sampling component) and the correlated, fat-tailed spot shocks ε into
    /// `scratch.eps`.
    #[inline]
    fn shocks(
        &self,
        step: u32,
        component: Option<&Component>,
        draws: &impl StepDraws,
        scratch: &mut Scratch,
    ) {
        let a_count = self.assets.len();
        let nu = self.dof as usize;
        scratch.resize(a_count, nu);
        let Scratch { normals, eps, chi } = scratch;
        // Normals 0..A: z; A..2A: w; 2A..3A: jump sizes; 3A..3A+ν: χ² (rng layout).
        let used = self.normals_used();
        draws.normals(step, 0, &mut normals[..used]);
        if let Some(c) = component {
            // Importance sampling: the step's normals ~ N(θ, I) for this component.
            let row = &c.shift[step as usize * used..(step as usize + 1) * used];
            normals[..used]
                .iter_mut()
                .zip(row)
                .for_each(|(z, t)| *z += t);
        }
        // ε = L·z, L lower triangular or a full eigen root: sum the whole row.
        for (i, e) in eps.iter_mut().enumerate() {
            let row = &self.root[i * a_count..(i + 1) * a_count];
            *e = row
                .iter()
                .zip(&normals[..a_count])
                .map(|(l, z)| l * z)
                .sum();
        }
        if nu > 0 {
            draws.normals(step, 3 * a_count as u32, chi);
            if let Some(c) = component {
                // Importance sampling: the χ² normals scaled by the component's c.
                chi.iter_mut().for_each(|x| *x *= c.scale);
            }
            let g = chi.iter().map(|x| x * x).sum::<f64>() / nu as f64;
            let scale = ((nu as f64 - 2.0) / (nu as f64 * g)).sqrt();
            eps.iter_mut().for_each(|e| *e *= scale);
        }
    }
}

/// The draws of one path's steps, in the layout of [`crate::rng`]: where
/// [`ScenarioModel::advance`] reads its normals and uniforms. [`PathDraws`] computes them
/// from the Philox source; the SIMD kernels read them from a block computed for many paths
/// at once (`engine::cpu::fast::draws`).
pub trait StepDraws {
    /// Normals `first..first + out.len()` of `step`.
    fn normals(&self, step: u32, first: u32, out: &mut [f64]);
    /// Uniform `index` of `step`, in (0, 1).
    fn uniform(&self, step: u32, index: u32) -> f64;
}

/// The draws of one path straight from the run's [`DrawSource`].
#[derive(Clone, Copy, Debug)]
pub struct PathDraws<'a> {
    pub source: &'a DrawSource,
    pub path: u32,
}

impl StepDraws for PathDraws<'_> {
    #[inline]
    fn normals(&self, step: u32, first: u32, out: &mut [f64]) {
        if first == 0 {
            self.source.normals_into(self.path, step, out);
        } else {
            self.source.normals_range(self.path, step, first, out);
        }
    }

    #[inline]
    fn uniform(&self, step: u32, index: u32) -> f64 {
        self.source.uniform(self.path, step, index)
    }
}

/// Working memory of [`ScenarioModel::simulate`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    normals: Vec<f64>,
    eps: Vec<f64>,
    chi: Vec<f64>,
}

impl Scratch {
    fn resize(&mut self, assets: usize, dof: usize) {
        self.normals.resize(3 * assets, 0.0);
        self.eps.resize(assets, 0.0);
        self.chi.resize(dof, 0.0);
    }
}

/// Smallest n with P(N ≤ n) ≥ u for N ~ Poisson(mean), by summing the probabilities
/// p₀ = e^{−mean}, pₙ = pₙ₋₁·mean/n; at most [`MAX_JUMPS_PER_STEP`].
#[inline]
pub fn poisson_inverse(mean: f64, u: f64) -> u32 {
    poisson_inverse_from(mean, (-mean).exp(), u)
}

/// [`poisson_inverse`] with P(N = 0) = e^{−mean} given (`p0`, the same value).
#[inline]
pub fn poisson_inverse_from(mean: f64, p0: f64, u: f64) -> u32 {
    let mut p = p0;
    let mut cdf = p;
    let mut n = 0;
    while u > cdf && n < MAX_JUMPS_PER_STEP {
        n += 1;
        p *= mean / f64::from(n);
        cdf += p;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_inverse_matches_the_distribution() {
        let mean: f64 = 0.7;
        let p0 = (-mean).exp();
        assert_eq!(poisson_inverse(mean, p0 * 0.999), 0);
        assert_eq!(poisson_inverse(mean, p0 * 1.001), 1);
        assert_eq!(poisson_inverse(mean, p0 * (1.0 + mean) * 1.001), 2);
        assert_eq!(poisson_inverse(0.0, 0.5), 0);
    }
}
