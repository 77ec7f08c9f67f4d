//! Host side of `shaders/probe.wgsl`: the shared f32 math on given arguments (tests only;
//! compiled on each call, not part of the pipeline).

use crate::error::Result;

use wgpu::util::DeviceExt;

use super::super::buffers::{STORAGE, bind, encode_pass, groups, read_back, storage};
use super::super::constants::WG_PROBE;
use super::super::context::GpuContext;

/// Runs `probe.wgsl` on `xs` (see [`crate::engine::gpu::GpuBackend::probe_math`]).
pub fn run(ctx: &GpuContext, xs: &[f32]) -> Result<Vec<[f32; 4]>> {
    if xs.is_empty() {
        return Ok(Vec::new());
    }
    let module = super::compile(&ctx.device, "probe")?;
    let pipeline = super::pipeline(&ctx.device, &module, "probe");
    // Exactly `xs`, unpadded: the shader's bound is arrayLength(&xs).
    let input = ctx
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("probe xs"),
            contents: bytemuck::cast_slice(xs),
            usage: STORAGE,
        });
    let n = xs.len() as u64;
    let out = storage(ctx, "probe out", 16 * n);
    let group = bind(ctx, &pipeline, &[&input, &out]);
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encode_pass(ctx, &mut encoder, &pipeline, &group, groups(n, WG_PROBE))?;
    ctx.queue.submit([encoder.finish()]);
    read_back(ctx, &out, 16 * n)
}
