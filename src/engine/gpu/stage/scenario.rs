//! Host side of `shaders/scenario.wgsl`: Philox draws to every asset's horizon state.

use crate::book::Book;
use crate::error::{Error, Result};
use crate::model::scenario::ScenarioModel;
use crate::rng::seed_key;

use super::super::buffers::{bind, encode_pass, groups, storage_init, uniform, write};
use super::super::constants::{MAX_ASSETS, WG_SCENARIO};
use super::super::context::GpuContext;
use super::super::types::{ScenarioParams, step_assets};
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
                 (use --backend cpu)",
                book.assets.len()
            )));
        }
        Ok(())
    }

    pub fn new(ctx: &GpuContext, book: &Book, chunk: &ChunkBuffers) -> Result<Self> {
        Self::check(book)?;
        // The seed does not enter the per-asset constants.
        let model = ScenarioModel::new(book, 0);
        let (rows, thresholds) = step_assets(&model);
        let root: Vec<f32> = model.root.iter().map(|&x| x as f32).collect();
        let params = uniform(ctx, "scenario params", &ScenarioParams::default());
        let group = bind(
            ctx,
            &ctx.pipelines.scenario.simulate,
            &[
                &params,
                &storage_init(ctx, "step assets", &rows),
                &storage_init(ctx, "correlation root", &root),
                &storage_init(ctx, "jump thresholds", &thresholds),
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
            _pad: [0; 2],
        };
        write(ctx, &self.params, &params);
        let workgroups = groups(u64::from(count), WG_SCENARIO);
        let pipeline = &ctx.pipelines.scenario.simulate;
        encode_pass(ctx, encoder, pipeline, &self.group, workgroups)?;
        Ok(count)
    }
}
