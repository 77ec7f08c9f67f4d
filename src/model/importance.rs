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
//! each component k shifting every step's normals by θ_k (the weighted mean of the pilots'
//! tail draws of one group, `crate::run::importance`), scaling the χ² normals by c_k ≤ 1
//! (larger Student-t shocks) and raising the jump rates to λ_k ≥ λ, and each path carries
//! the likelihood ratio
//!
//! ```text
//! w = 1 / (π₀ + Σ_k π_k r_k),   r_k = e^{θ_k·z − |θ_k|²/2}
//!                                   · c_k^{−Sν} e^{−|x|²(1/c_k² − 1)/2}
//!                                   · Π_{s,a} (λ_k/λ)^{N_sa} e^{−(λ_k − λ)dt}
//! ```
//!
//! (z every shifted normal, x the χ² normals as drawn, N the jump counts), so
//! E_g\[w·f\] = E\[f\] for any figure: the estimators of `crate::risk::weighted_measure` are
//! unbiased, and the defensive share bounds every weight by 1/π₀.
//!
//! A path's component is chosen by the uniform `(path, step 0, index MIX_INDEX)` of the
//! uniform stream (the jump uniforms use indices below the asset count), so the choice is a
//! function of (seed, path) like every other draw: reproducible on any thread or chunk.

use rayon::prelude::*;

use crate::model::scenario::{PathDraws, StepDraws, poisson_inverse_from};
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
    /// e^{−λ_k·dt} per cell of `jump_rates`: P(N = 0), computed once, not per path.
    no_jump: Vec<f64>,
}

impl Component {
    pub fn new(share: f64, shift: Vec<f64>, scale: f64, jump_rates: Vec<f64>) -> Self {
        let no_jump = jump_rates.iter().map(|&rate| (-rate).exp()).collect();
        Self {
            share,
            shift,
            scale,
            jump_rates,
            no_jump,
        }
    }
}

/// A path's sampled draws, as far as its weight depends on them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sampled {
    /// The shifted normals, step-major (W a step).
    pub z: Vec<f64>,
    /// |x|²: the sum of the squared χ² normals over every step, as sampled.
    pub chi_square: f64,
    /// The jump counts, step-major (A a step); empty when nothing jumps.
    pub jump_counts: Vec<u32>,
}

/// The path-independent parts of each component's log-likelihood ratio
/// ([`Importance::ratio_terms`]).
#[derive(Clone, Debug)]
pub struct RatioTerms(Vec<RatioTerm>);

#[derive(Clone, Debug)]
struct RatioTerm {
    constant: f64,
    chi: f64,
    jump_log: Vec<f64>,
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
    /// The model's e^{−λ·dt} per asset.
    pub base_no_jump: Vec<f64>,
    /// Per asset, whether the book prices it (an instrument on it, or an account margined
    /// in it). The CPU's scenario stage leaves an asset the book does not price unmoved and
    /// draws no jump count for it: nothing reads its state, and no component tilts its
    /// jumps (`Self::pricing_only`).
    pub priced: Vec<bool>,
    /// Per normal of a step (W), whether it can move a priced asset: a spot normal z_j that
    /// some priced asset's row of the correlation root reads, the vol-shock and jump-size
    /// normals of priced assets. The fit shifts no other normal.
    pub moving: Vec<bool>,
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
            base_no_jump: model.assets.iter().map(|a| a.no_jump_probability).collect(),
            priced: vec![true; assets],
            moving: vec![true; model.normals_used()],
        }
    }

    /// The density of a book that prices only the assets `priced` (an account alone): those
    /// are the only assets it moves, and `moving` marks the normals that move them, through
    /// the row-major A×A correlation `root` (ε_i = Σ_j L_ij z_j).
    pub fn pricing_only(self, priced: Vec<bool>, root: &[f64]) -> Self {
        let a = self.assets;
        let moving = (0..self.width)
            .map(|j| match j {
                j if j < a => (0..a).any(|i| priced[i] && root[i * a + j] != 0.0),
                j => priced[j % a],
            })
            .collect();
        Self {
            priced,
            moving,
            ..self
        }
    }

    /// The component of `path`, or `None` for a path of the defensive component.
    pub fn component_of(&self, draws: &DrawSource, path: u32) -> Option<&Component> {
        self.component_at(draws.uniform(path, 0, MIX_INDEX))
    }

    /// The component a path whose mixture uniform is `u` is drawn from.
    pub fn component_at(&self, u: f64) -> Option<&Component> {
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

    /// The jump count of asset `a` at `step` for a path of component `c`, from the step's
    /// jump uniform `u`: Poisson(λ_k·dt) by inverse CDF (λ·dt without a tilt).
    #[inline]
    pub fn jump_count(&self, c: Option<&Component>, step: u32, a: usize, u: f64) -> u32 {
        match c {
            Some(c) if !c.jump_rates.is_empty() => {
                let cell = step as usize * self.assets + a;
                poisson_inverse_from(c.jump_rates[cell], c.no_jump[cell], u)
            }
            _ => poisson_inverse_from(self.base_rates[a], self.base_no_jump[a], u),
        }
    }

    /// w for a path's sampled draws.
    /// The formula on one path, with libm's exponential: the reference the SIMD weights of
    /// `engine::cpu::fast::weights` are tested against.
    pub fn weight(&self, s: &Sampled) -> f64 {
        let terms = self.ratio_terms();
        let mixture: f64 = (0..self.components.len())
            .map(|k| self.log_ratio(&terms, k, s).exp())
            .sum();
        self.weight_of_mixture(mixture)
    }

    /// ln(π_k r_k) of component `k` for a path's sampled draws.
    #[inline]
    pub fn log_ratio(&self, terms: &RatioTerms, k: usize, s: &Sampled) -> f64 {
        let (c, t) = (&self.components[k], &terms.0[k]);
        let dot: f64 = c.shift.iter().zip(&s.z).map(|(t, x)| t * x).sum();
        let jumps: f64 = t
            .jump_log
            .iter()
            .zip(&s.jump_counts)
            .map(|(l, &n)| l * f64::from(n))
            .sum();
        t.constant + dot + t.chi * s.chi_square + jumps
    }

    /// [`Self::log_ratio`] of every component for a block of paths at once, lane by lane:
    /// `logs[k][lane]` from the lanes' shifted normals `z[j][lane]`, |x|² `chi[lane]` and
    /// jump counts `jumps[cell][lane]` (the layout the SIMD kernels vectorise; the sums run
    /// in another order than [`Self::log_ratio`]'s, so they agree to rounding).
    #[inline(always)]
    pub fn log_ratios_lanes<const L: usize>(
        &self,
        terms: &RatioTerms,
        z: &[[f64; L]],
        chi: &[f64; L],
        jumps: &[[f64; L]],
        logs: &mut [[f64; L]],
    ) {
        for ((c, t), row) in self.components.iter().zip(&terms.0).zip(logs.iter_mut()) {
            for (lane, x) in row.iter_mut().enumerate() {
                *x = t.constant + t.chi * chi[lane];
            }
            for (&theta, normals) in c.shift.iter().zip(z) {
                for (x, &n) in row.iter_mut().zip(normals) {
                    *x += theta * n;
                }
            }
            for (&l, counts) in t.jump_log.iter().zip(jumps) {
                for (x, &n) in row.iter_mut().zip(counts) {
                    *x += l * n;
                }
            }
        }
    }

    /// w = 1 / (π₀ + Σ_k π_k r_k) from the mixture's sum Σ_k π_k r_k.
    #[inline]
    pub fn weight_of_mixture(&self, mixture: f64) -> f64 {
        1.0 / (self.defensive + mixture)
    }

    /// Per component, the parts of ln(π_k r_k) that do not depend on the path:
    /// ln π_k − |θ_k|²/2 − Sν ln c_k − Σ (λ_k − λ)dt, the factor (1 − 1/c_k²)/2 of |x|², and
    /// ln(λ_k/λ) per step and asset.
    pub fn ratio_terms(&self) -> RatioTerms {
        let chi_count = f64::from(self.steps * self.dof);
        let terms = self.components.iter().map(|c| {
            let norm2: f64 = c.shift.iter().map(|t| t * t).sum();
            let mut term = RatioTerm {
                constant: c.share.ln() - 0.5 * norm2,
                chi: 0.0,
                jump_log: vec![0.0; c.jump_rates.len()],
            };
            if c.scale != 1.0 {
                term.constant -= chi_count * c.scale.ln();
                term.chi = -0.5 * (1.0 / (c.scale * c.scale) - 1.0);
            }
            for (i, &rate) in c.jump_rates.iter().enumerate() {
                let base = self.base_rates[i % self.assets];
                if base > 0.0 && rate != base {
                    term.jump_log[i] = (rate / base).ln();
                    term.constant -= rate - base;
                }
            }
            term
        });
        RatioTerms(terms.collect())
    }

    /// The sampled draws of `path` (the model's draws with its component's shift, scale and
    /// jump rates), as the scenario stage uses them.
    pub fn sampled(&self, draws: &DrawSource, path: u32) -> Sampled {
        let component = self.component_of(draws, path);
        let mut sampled = Sampled::default();
        for step in 0..self.steps {
            let source = PathDraws {
                source: draws,
                path,
            };
            self.sample_step(component, step, &source, &mut sampled);
        }
        sampled
    }

    /// Appends `step`'s sampled draws of a path of `component` (its normals shifted, the
    /// squares of its χ² normals scaled, its jump counts) read from `draws` to `into`.
    pub fn sample_step(
        &self,
        component: Option<&Component>,
        step: u32,
        draws: &impl StepDraws,
        into: &mut Sampled,
    ) {
        let (w, a) = (self.width, self.assets);
        let start = into.z.len();
        into.z.resize(start + w, 0.0);
        let row = &mut into.z[start..];
        draws.normals(step, 0, row);
        if let Some(c) = component {
            let shift = &c.shift[step as usize * w..(step as usize + 1) * w];
            row.iter_mut().zip(shift).for_each(|(x, t)| *x += t);
        }
        if self.dof > 0 {
            let scale = component.map_or(1.0, |c| c.scale);
            let mut chi = [0.0; 8];
            for first in (0..self.dof).step_by(chi.len()) {
                let n = (self.dof - first).min(chi.len() as u32) as usize;
                draws.normals(step, 3 * a as u32 + first, &mut chi[..n]);
                into.chi_square += chi[..n].iter().map(|x| (scale * x).powi(2)).sum::<f64>();
            }
        }
        if self.base_rates.iter().any(|&r| r > 0.0) {
            for asset in 0..a {
                let jumps = self.priced[asset] && self.base_rates[asset] > 0.0;
                into.jump_counts.push(if jumps {
                    self.jump_count(component, step, asset, draws.uniform(step, asset as u32))
                } else {
                    0
                });
            }
        }
    }
}

impl Sampled {
    /// Empties the draws for the next path, keeping their memory.
    pub fn clear(&mut self) {
        self.z.clear();
        self.chi_square = 0.0;
        self.jump_counts.clear();
    }
}

/// The fewest pilot tail paths a group of jumping paths needs to be a component of its own
/// (its mean is then within about 0.35 of the tail's per normal); smaller groups are pooled.
pub const MIN_JUMP_GROUP: usize = 8;

/// The pilot's tail paths (indices into `sampled`) grouped into the mixture's components. A
/// loss made by a jump and one made by a large diffusive move (or a small χ²) are different
/// tails, so the paths are first grouped by the set of assets that jumped on any step; groups
/// of jumping paths with fewer than [`MIN_JUMP_GROUP`] members are pooled (with the largest
/// group when the pool is smaller than that too). A tail region no component draws is left
/// to the defensive share, where its variance is 1/π₀ times plain's, so no path is dropped.
/// Each group is then split by [`tail_clusters`] on the normals that moved its paths: a
/// short straddle loses on both sides, a short perpetual on a jump either way.
pub fn tail_groups(sampled: &[Sampled], density: &Importance) -> Vec<Vec<usize>> {
    let assets = density.assets;
    let mut by_jumps: std::collections::BTreeMap<Vec<bool>, Vec<usize>> = Default::default();
    for (i, s) in sampled.iter().enumerate() {
        let mut jumped = vec![false; assets];
        for (cell, &n) in s.jump_counts.iter().enumerate() {
            jumped[cell % assets] |= n > 0;
        }
        by_jumps.entry(jumped).or_default().push(i);
    }
    let (mut groups, mut pool) = (Vec::new(), Vec::new());
    for (jumped, members) in by_jumps {
        if !jumped.iter().any(|&j| j) || members.len() >= MIN_JUMP_GROUP {
            groups.push(members);
        } else {
            pool.extend(members);
        }
    }
    let largest_jumping = (0..groups.len())
        .filter(|&g| sampled[groups[g][0]].jump_counts.iter().any(|&n| n > 0))
        .max_by_key(|&g| groups[g].len());
    match largest_jumping {
        Some(g) if pool.len() < MIN_JUMP_GROUP => groups[g].extend(pool),
        _ if !pool.is_empty() => groups.push(pool),
        _ => {}
    }
    groups
        .into_par_iter()
        .flat_map_iter(|members| {
            let points: Vec<Vec<f64>> = members
                .iter()
                .map(|&i| moved_normals(&sampled[i], density))
                .collect();
            tail_clusters(&points)
                .into_iter()
                .map(|cluster| cluster.into_iter().map(|k| members[k]).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether normal `j` (step-major, W a step) of a path moved it: every spot and vol-shock
/// normal that can move a priced asset ([`Importance::moving`]) does, a jump-size normal
/// (the last A of a step of W = 3A) only when its asset jumped on that step.
fn moved(s: &Sampled, j: usize, density: &Importance) -> bool {
    let (width, assets) = (density.width, density.assets);
    let within = j % width;
    if !density.moving[within] {
        return false;
    }
    if width != 3 * assets || within < 2 * assets {
        return true;
    }
    let cell = (j / width) * assets + (within - 2 * assets);
    s.jump_counts.get(cell).is_some_and(|&n| n > 0)
}

/// A path's normals, those that did not move it as 0.
fn moved_normals(s: &Sampled, density: &Importance) -> Vec<f64> {
    (0..s.z.len())
        .map(|j| if moved(s, j, density) { s.z[j] } else { 0.0 })
        .collect()
}

/// A group's shift θ: the `fit`-weighted mean of its members' normals, a normal that did
/// not move a path counting as 0 for it (a jump-size normal of an asset that did not jump
/// on that step, or any normal that moves no priced asset: [`Importance::moving`]). That
/// is the tail's mean of each normal (a normal that moves nothing has mean 0 there), and it
/// keeps a jump-size normal's shift in proportion to how often the group jumps on that
/// asset: a shifted normal that moves nothing only adds to the weights' variance.
pub fn group_shift(
    sampled: &[Sampled],
    fit: &[f64],
    members: &[usize],
    density: &Importance,
) -> Vec<f64> {
    let len = sampled.first().map_or(0, |s| s.z.len());
    let mut sum = vec![0.0; len];
    let mass: f64 = members.iter().map(|&i| fit[i]).sum();
    for &i in members {
        let normals = moved_normals(&sampled[i], density);
        sum.iter_mut()
            .zip(normals)
            .for_each(|(s, x)| *s += fit[i] * x);
    }
    sum.iter()
        .map(|&s| if mass > 0.0 { s / mass } else { 0.0 })
        .collect()
}

/// The fewest points each side of a split by [`tail_clusters`] needs.
pub const MIN_CLUSTER: usize = 4;

/// Two-cluster k-means (Lloyd's iterations from the point farthest from the mean and the
/// point farthest from that) of a group of the pilot's tail paths, each point the normals
/// that moved a path ([`tail_groups`]): each cluster's members (indices into `points`). One cluster when the
/// points are one blob (the two means closer than one unit of the standard normal) or a side
/// would have fewer than [`MIN_CLUSTER`].
pub fn tail_clusters(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
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
    let one = || vec![everyone.clone()];
    if points.len() < 2 * MIN_CLUSTER {
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
        if groups.iter().any(|g| g.len() < MIN_CLUSTER) {
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
    groups.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain density of `assets` assets with jumps (W = 3A), one step, ν = 5, λ·dt = 0.02.
    fn density(assets: usize) -> Importance {
        Importance {
            defensive: 1.0,
            components: Vec::new(),
            steps: 1,
            assets,
            width: 3 * assets,
            dof: 5,
            base_rates: vec![0.02; assets],
            base_no_jump: vec![(-0.02f64).exp(); assets],
            priced: vec![true; assets],
            moving: vec![true; 3 * assets],
        }
    }

    /// One asset (W = 3: spot, vol shock, jump size), one step.
    fn path(z: [f64; 3], jumps: u32) -> Sampled {
        Sampled {
            z: z.to_vec(),
            chi_square: 5.0,
            jump_counts: vec![jumps],
        }
    }

    #[test]
    fn jumps_and_moves_either_way_are_separate_groups() {
        // 10 paths down 3σ, 10 up 3σ, 10 that jumped down: three groups, each pure.
        let mut sampled = Vec::new();
        for i in 0..10 {
            let e = 0.01 * f64::from(i);
            sampled.push(path([-3.0 + e, 0.0, 0.7], 0));
            sampled.push(path([3.0 - e, 0.0, -0.7], 0));
            sampled.push(path([0.2 + e, 0.1, -2.5], 1));
        }
        let mut groups = tail_groups(&sampled, &density(1));
        groups.iter_mut().for_each(|g| g.sort_unstable());
        groups.sort();
        let expect: Vec<Vec<usize>> = (0..3).map(|r| (r..30).step_by(3).collect()).collect();
        assert_eq!(groups, expect);
    }

    #[test]
    fn too_few_jumping_paths_are_pooled_not_dropped() {
        let mut sampled: Vec<Sampled> = (0..20).map(|_| path([-3.0, 0.0, 0.0], 0)).collect();
        sampled.extend((0..MIN_JUMP_GROUP - 1).map(|_| path([0.0, 0.0, -2.0], 1)));
        let groups = tail_groups(&sampled, &density(1));
        let covered: usize = groups.iter().map(Vec::len).sum();
        assert_eq!(covered, sampled.len(), "{groups:?}");
    }

    #[test]
    fn a_jump_size_normal_is_shifted_only_as_often_as_it_moved_a_path() {
        // Two paths, one jumped with size normal −2, one did not (its −4 moved nothing).
        let sampled = vec![path([-1.0, 0.5, -2.0], 1), path([-3.0, 1.5, -4.0], 0)];
        let fit = [1.0, 3.0];
        let shift = group_shift(&sampled, &fit, &[0, 1], &density(1));
        assert_eq!(shift, vec![-2.5, 1.25, -0.5]);
    }

    #[test]
    fn ratio_terms_give_the_weight_of_its_formula() {
        let is = Importance {
            defensive: 0.1,
            components: vec![Component::new(0.9, vec![1.0, -0.5, 0.25], 0.5, vec![0.4])],
            ..density(1)
        };
        let s = path([0.3, -1.0, 2.0], 2);
        let log_r = (1.0 * 0.3 + 0.5 + 0.5 - 0.5 * (1.0 + 0.25 + 0.0625))
            + (-5.0 * 0.5f64.ln() - 0.5 * 5.0 * (4.0 - 1.0))
            + (2.0 * (0.4f64 / 0.02).ln() - (0.4 - 0.02));
        let expect = 1.0 / (0.1 + 0.9 * log_r.exp());
        assert!((is.weight(&s) - expect).abs() <= 1e-15 * expect);
    }

    #[test]
    fn only_normals_that_reach_a_priced_asset_move_a_path() {
        // Two assets, the second priced alone, ε₂ = 0.6 z₁ + 0.8 z₂: z₁ and z₂ move it, the
        // first asset's vol-shock and jump-size normals do not, nor does its jump count.
        let root = [1.0, 0.0, 0.6, 0.8];
        let is = density(2).pricing_only(vec![false, true], &root);
        assert_eq!(is.moving, vec![true, true, false, true, false, true]);
        let only_first = density(2).pricing_only(vec![true, false], &root);
        assert_eq!(
            only_first.moving,
            vec![true, false, true, false, true, false]
        );
        let s = Sampled {
            z: vec![-2.0, -1.0, 3.0, 0.5, -4.0, 1.5],
            chi_square: 5.0,
            jump_counts: vec![1, 1],
        };
        let shift = group_shift(&[s], &[1.0], &[0], &is);
        assert_eq!(shift, vec![-2.0, -1.0, 0.0, 0.5, 0.0, 1.5]);
    }
}
