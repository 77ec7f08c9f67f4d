//! Host side of `shaders/draws.wgsl`: raw Philox words or normals of given paths, for
//! stage-by-stage verification (not part of the Monte Carlo pipeline).

use bytemuck::Pod;

use crate::error::Result;
use crate::rng::seed_key;

use super::super::buffers::{
    bind_at, encode_pass, groups, read_back, storage, storage_init, uniform,
};
use super::super::constants::WG_DRAWS;
use super::super::context::GpuContext;
use super::super::types::DrawParams;

/// The stage's entry points (compiled once per device).
#[derive(Debug)]
pub struct Pipelines {
    pub philox_words: wgpu::ComputePipeline,
    pub normal_blocks: wgpu::ComputePipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Result<Self> {
        let module = super::compile(device, "draws")?;
        Ok(Self {
            philox_words: super::pipeline(device, &module, "philox_words"),
            normal_blocks: super::pipeline(device, &module, "normal_blocks"),
        })
    }
}

/// Raw Philox words or normals of `paths` × `blocks` (each call uploads its own inputs).
pub fn run<T: Pod>(
    ctx: &GpuContext,
    seed: u64,
    paths: &[u32],
    step: u32,
    blocks: u32,
    stream: u32,
    normals: bool,
) -> Result<Vec<T>> {
    let n = paths.len() as u64 * u64::from(blocks);
    if n == 0 {
        return Ok(Vec::new());
    }
    let params = DrawParams {
        key: seed_key(seed),
        step,
        blocks,
        stream,
        count: paths.len() as u32,
        _pad: [0; 2],
    };
    let params = uniform(ctx, "draw params", &params);
    let path_buf = storage_init(ctx, "paths", paths);
    let out = storage(ctx, "draws", 16 * n);
    let p = &ctx.pipelines.draws;
    let (pipeline, out_binding) = if normals {
        (&p.normal_blocks, 3)
    } else {
        (&p.philox_words, 2)
    };
    let group = bind_at(
        ctx,
        pipeline,
        &[(0, &params), (1, &path_buf), (out_binding, &out)],
    );
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encode_pass(ctx, &mut encoder, pipeline, &group, groups(n, WG_DRAWS))?;
    ctx.queue.submit([encoder.finish()]);
    read_back(ctx, &out, 16 * n)
}
