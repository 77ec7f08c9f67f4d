//! Host side of `shaders/scenario.wgsl`: Philox draws to every asset's horizon state.

use crate::book::Book;
use crate::error::{Error, Result};
use crate::model::importance::Importance;
use crate::model::scenario::{MAX_JUMPS_PER_STEP, ScenarioModel};
use crate::rng::{seed_key, uniform_open};

use super::super::buffers::{bind, book_storage, encode_pass, groups, uniform, write};
use super::super::constants::{MAX_ASSETS, WG_SCENARIO};
use super::super::context::GpuContext;
use super::super::types::{ScenarioParams, StepAsset};
use super::ChunkBuffers;

/// The stage's pipeline (compiled once per device).
#[derive(Debug)]
pub struct Pipelines {
    pub simulate: wgpu::ComputePipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Result<Self> {
        let module = super::compile(device, "scenario")?;
        Ok(Self {
            simulate: super::pipeline(device, &module, "simulate"),
        })
    }
}

/// How the scenario stage picks its paths.
#[derive(Clone, Copy, Debug)]
pub enum PathSource<'a> {
    /// Paths `base .. base + count`.
    Range { base: u32, count: u32 },
    /// The listed paths.
    List(&'a [u32]),
}

/// The scenario stage of one book: its per-asset tables, its parameters and its bind group
/// over the chunk's path list and states, made once.
pub struct ScenarioStage {
    pub assets: u32,
    steps: u32,
    dof: u32,
    dt: f32,
    sqrt_dt: f32,
    /// K, the importance-sampling components (0: plain Monte Carlo), and where their tables
    /// start in the threshold array ([`mixture_tables`]).
    mixture: u32,
    mixture_offset: u32,
    params: wgpu::Buffer,
    path_list: wgpu::Buffer,
    group: wgpu::BindGroup,
}

impl ScenarioStage {
    /// Checks the book against the stage's limits ([`MAX_ASSETS`]).
    pub fn check(book: &Book) -> Result<()> {
        if book.assets.len() > MAX_ASSETS {
            return Err(Error::BackendUnavailable(format!(
                "the GPU backend simulates at most {MAX_ASSETS} assets; the book has {} \
                 (use the CPU backend)",
                book.assets.len()
            )));
        }
        Ok(())
    }

    pub fn new(ctx: &GpuContext, book: &Book, chunk: &ChunkBuffers) -> Result<Self> {
        Self::check(book)?;
        // The seed does not enter the per-asset constants.
        let model = ScenarioModel::new(book, 0);
        let (rows, mut thresholds) = step_assets(&model);
        let mut root: Vec<f32> = model.root.iter().map(|&x| x as f32).collect();
        let (mixture, mixture_offset) = match model.importance.as_deref() {
            Some(is) => mixture_tables(is, &mut root, &mut thresholds),
            None => (0, 0),
        };
        let params = uniform(ctx, "scenario params", &ScenarioParams::default());
        let group = bind(
            ctx,
            &ctx.pipelines.scenario.simulate,
            &[
                &params,
                &book_storage(ctx, "step assets", &rows),
                &book_storage(ctx, "correlation root", &root),
                &book_storage(ctx, "jump thresholds", &thresholds),
                &chunk.path_list,
                &chunk.states,
            ],
        );
        Ok(Self {
            assets: book.assets.len() as u32,
            steps: model.steps,
            dof: model.dof,
            dt: model.dt as f32,
            sqrt_dt: model.sqrt_dt as f32,
            mixture,
            mixture_offset,
            params,
            path_list: chunk.path_list.clone(),
            group,
        })
    }

    /// Encodes the stage for `source`: states for its scenarios in the chunk's `states`.
    /// Returns the scenario count.
    pub fn encode(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        seed: u64,
        source: PathSource,
    ) -> Result<u32> {
        crate::engine::gpu::failpoint::hit("scenario")?;
        let (base, count, list) = match source {
            PathSource::Range { base, count } => (base, count, 0),
            PathSource::List(paths) => {
                ctx.queue
                    .write_buffer(&self.path_list, 0, bytemuck::cast_slice(paths));
                (0, paths.len() as u32, 1)
            }
        };
        let params = ScenarioParams {
            key: seed_key(seed),
            path_base: base,
            path_count: count,
            assets: self.assets,
            steps: self.steps,
            dof: self.dof,
            use_path_list: list,
            dt: self.dt,
            sqrt_dt: self.sqrt_dt,
            mixture: self.mixture,
            mixture_offset: self.mixture_offset,
        };
        write(ctx, &self.params, &params);
        let workgroups = groups(u64::from(count), WG_SCENARIO);
        let pipeline = &ctx.pipelines.scenario.simulate;
        encode_pass(ctx, encoder, pipeline, &self.group, workgroups)?;
        Ok(count)
    }
}

/// The Poisson inverse CDF of `model::scenario::poisson_inverse` as integer thresholds on the
/// uniform's word w (u = (w + ½)·2⁻³²): the CPU returns N = #{n < 64 : u > cdfₙ} (its f64
/// cdfₙ is non-decreasing), and u > cdfₙ ⇔ w > tₙ with tₙ the largest word whose uniform is
/// ≤ cdfₙ. Returns (the count of leading n with no such word, the following tₙ up to the
/// first that is u32::MAX), so the GPU's count equals the CPU's exactly.
pub fn poisson_thresholds(mean: f64) -> (u32, Vec<u32>) {
    let mut always = 0;
    let mut table = Vec::new();
    let mut p = (-mean).exp();
    let mut cdf = p;
    for n in 0..MAX_JUMPS_PER_STEP {
        if n > 0 {
            p *= mean / f64::from(n);
            cdf += p;
        }
        match largest_word_at_most(cdf) {
            None => always += 1,
            Some(u32::MAX) => break,
            Some(t) => table.push(t),
        }
    }
    (always, table)
}

/// The largest w with `uniform_open(w) <= x`, if any.
fn largest_word_at_most(x: f64) -> Option<u32> {
    largest_word_with(x, |u, x| u <= x)
}

/// The largest w with `uniform_open(w) < x`, if any.
fn largest_word_below(x: f64) -> Option<u32> {
    largest_word_with(x, |u, x| u < x)
}

/// The largest w with `keep(uniform_open(w), x)`, for a `keep` that holds up to some word
/// and fails above it (uniform_open increases with w): from the guess w ≈ x·2³² − ½, down
/// while it fails, then up while the next word holds.
fn largest_word_with(x: f64, keep: impl Fn(f64, f64) -> bool) -> Option<u32> {
    let guess = (x * 4_294_967_296.0 - 0.5).floor();
    if guess.is_nan() || guess < -1.0 {
        return None;
    }
    let mut w = guess.min(f64::from(u32::MAX)) as i64;
    while w >= 0 && !keep(uniform_open(w as u32), x) {
        w -= 1;
    }
    while w < i64::from(u32::MAX) && keep(uniform_open((w + 1) as u32), x) {
        w += 1;
    }
    (w >= 0).then_some(w as u32)
}

/// Importance sampling's tables (`model::importance`), appended to the stage's arrays so
/// that the shader needs no other binding: each component's shift θ_k (step-major, W a
/// step) to the correlation root's f32 array, and to the u32 threshold array, from the
/// returned offset:
/// - `[W, always, L, t₁ … t_L]`: the path's slot (0 the model itself, k the component k) is
///   `always` + #{j : word > t_j}, at most K, for the mixing uniform's word — `t_j` the
///   largest word whose uniform is below the j-th cumulative share (π₀, π₀ + π₁, …, as
///   `Importance::component_of` sums them), so the slot is the CPU's component exactly;
/// - per component, 4 words: c_k's bits, θ_k's offset in the root array, the offset of its
///   jump cells (u32::MAX when nothing jumps), 0;
/// - per component and (step, asset), 3 words: the [`poisson_thresholds`] of λ_k·dt
///   (`always`, the offset of its table in this array, its length).
///
/// Returns (K, the offset).
pub fn mixture_tables(
    is: &Importance,
    root: &mut Vec<f32>,
    thresholds: &mut Vec<u32>,
) -> (u32, u32) {
    let k = is.components.len();
    if k == 0 {
        return (0, 0);
    }
    let offset = thresholds.len() as u32;
    // Edges π₀, π₀ + π₁, …, before the last component (past every edge is the last).
    let mut edges = Vec::with_capacity(k);
    let mut edge = is.defensive;
    edges.push(edge);
    for c in &is.components[..k - 1] {
        edge += c.share;
        edges.push(edge);
    }
    let mut always = 0u32;
    let mut table = Vec::new();
    for &e in &edges {
        match largest_word_below(e) {
            None => always += 1,
            Some(u32::MAX) => break,
            Some(t) => table.push(t),
        }
    }
    thresholds.extend([is.width as u32, always, table.len() as u32]);
    thresholds.extend(&table);
    let headers = thresholds.len();
    thresholds.resize(headers + 4 * k, 0);
    for (i, c) in is.components.iter().enumerate() {
        let shift_offset = root.len() as u32;
        root.extend(c.shift.iter().map(|&t| t as f32));
        let cells = if c.jump_rates.is_empty() {
            u32::MAX
        } else {
            let cells = thresholds.len();
            thresholds.resize(cells + 3 * c.jump_rates.len(), 0);
            for (j, &rate) in c.jump_rates.iter().enumerate() {
                let (always, table) = if rate > 0.0 {
                    poisson_thresholds(rate)
                } else {
                    (0, Vec::new())
                };
                let at = thresholds.len() as u32;
                thresholds.extend(&table);
                thresholds[cells + 3 * j..cells + 3 * j + 3].copy_from_slice(&[
                    always,
                    at,
                    table.len() as u32,
                ]);
            }
            cells as u32
        };
        thresholds[headers + 4 * i..headers + 4 * i + 4].copy_from_slice(&[
            (c.scale as f32).to_bits(),
            shift_offset,
            cells,
            0,
        ]);
    }
    (k as u32, offset)
}

/// The jump count the GPU computes from a table of [`poisson_thresholds`].
pub fn poisson_from_thresholds(always: u32, table: &[u32], word: u32) -> u32 {
    always + table.iter().take_while(|&&t| word > t).count() as u32
}

/// The scenario stage's per-asset rows and the jump threshold tables they point into.
pub fn step_assets(model: &ScenarioModel) -> (Vec<StepAsset>, Vec<u32>) {
    let mut thresholds = Vec::new();
    let rows = model
        .assets
        .iter()
        .map(|a| {
            let jumps = a.jump_mean_count > 0.0;
            let (always, table) = if jumps {
                poisson_thresholds(a.jump_mean_count)
            } else {
                (0, Vec::new())
            };
            let offset = thresholds.len() as u32;
            thresholds.extend_from_slice(&table);
            StepAsset {
                spot_vol: a.spot_vol as f32,
                reversion_dt: a.reversion_dt as f32,
                vol_of_vol_sqrt_dt: a.vol_of_vol_sqrt_dt as f32,
                rho: a.rho as f32,
                rho_complement: a.rho_complement as f32,
                compensator_dt: a.compensator_dt as f32,
                jump_mean: a.jump_mean as f32,
                jump_std: a.jump_std as f32,
                jumps: u32::from(jumps),
                jump_always: always,
                jump_table_offset: offset,
                jump_table_len: table.len() as u32,
            }
        })
        .collect();
    if thresholds.is_empty() {
        thresholds.push(0); // bindings may not be empty
    }
    (rows, thresholds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scenario::poisson_inverse;

    /// The threshold tables reproduce the CPU's jump count for every word tried, including
    /// the words next to each threshold.
    #[test]
    fn poisson_thresholds_match_the_cpu_inverse() {
        for &mean in &[1e-6, 0.0164, 0.7, 3.0, 25.0, 80.0] {
            let (always, table) = poisson_thresholds(mean);
            let mut words: Vec<u32> = (0..20_000u32).map(|i| i.wrapping_mul(214_749)).collect();
            for &t in &table {
                words.extend([t.saturating_sub(1), t, t.saturating_add(1)]);
            }
            words.extend([0, 1, u32::MAX - 1, u32::MAX]);
            for w in words {
                assert_eq!(
                    poisson_from_thresholds(always, &table, w),
                    poisson_inverse(mean, uniform_open(w)),
                    "mean {mean} word {w}"
                );
            }
        }
    }
}
