//! Buffer and dispatch helpers shared by the stages (`stage/`): device buffers of the usual
//! kinds, bind groups over whole buffers, dispatches over a 2-D grid, and readback.

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use crate::error::{Error, Result};

use super::context::GpuContext;

pub const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);
pub const UNIFORM: wgpu::BufferUsages =
    wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST);

/// A storage buffer holding `data` (at least 16 bytes: bindings may not be empty).
pub fn storage_init<T: Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> wgpu::Buffer {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    if bytes.len() < 16 {
        let mut padded = bytes.to_vec();
        padded.resize(16, 0);
        return ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: &padded,
                usage: STORAGE,
            });
    }
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytes,
            usage: STORAGE,
        })
}

/// The book's read-only storage table `label` holding `data`, uploaded once per book
/// ([`GpuContext::book_table`]).
pub fn book_storage<T: Pod>(ctx: &GpuContext, label: &'static str, data: &[T]) -> wgpu::Buffer {
    ctx.book_table(label, STORAGE, bytemuck::cast_slice(data))
}

/// An uninitialised storage buffer of `bytes` (at least 16).
pub fn storage(ctx: &GpuContext, label: &str, bytes: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: STORAGE,
        mapped_at_creation: false,
    })
}

pub fn uniform<T: Pod>(ctx: &GpuContext, label: &str, value: &T) -> wgpu::Buffer {
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(value),
            usage: UNIFORM,
        })
}

/// A bind group of `pipeline`'s group 0 with `buffers` at bindings 0, 1, ….
pub fn bind(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let numbered: Vec<(u32, &wgpu::Buffer)> = buffers
        .iter()
        .enumerate()
        .map(|(i, &b)| (i as u32, b))
        .collect();
    bind_at(ctx, pipeline, &numbered)
}

/// A bind group of `pipeline`'s group 0 with the given (binding, buffer) pairs: an entry
/// point's automatic layout holds only the bindings it uses.
pub fn bind_at(
    ctx: &GpuContext,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[(u32, &wgpu::Buffer)],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .map(|&(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        })
        .collect();
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// The entry of `buffer`, whole, at `binding`.
pub fn whole(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

/// Writes `value` at the start of the uniform or storage buffer `buffer` (before the next
/// submission).
pub fn write<T: Pod>(ctx: &GpuContext, buffer: &wgpu::Buffer, value: &T) {
    ctx.queue.write_buffer(buffer, 0, bytemuck::bytes_of(value));
}

/// One compute pass of `pipeline` over `group`, `workgroups` workgroups.
pub fn encode_pass(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    workgroups: u64,
) -> Result<()> {
    let mut pass = encoder.begin_compute_pass(&Default::default());
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, group, &[]);
    dispatch(ctx, &mut pass, workgroups)
}

/// Dispatches `groups` workgroups split over x and y (each at most the adapter's
/// `max_compute_workgroups_per_dimension`); shaders rebuild the flat index and bound-check.
pub fn dispatch(ctx: &GpuContext, pass: &mut wgpu::ComputePass, groups: u64) -> Result<()> {
    if groups == 0 {
        return Ok(());
    }
    let max = u64::from(ctx.limits.max_compute_workgroups_per_dimension.max(1));
    let x = groups.min(max);
    let y = groups.div_ceil(x);
    if y > max {
        return Err(Error::Gpu(format!(
            "{groups} workgroups exceed the adapter's {max}×{max} grid"
        )));
    }
    pass.dispatch_workgroups(x as u32, y as u32, 1);
    Ok(())
}

/// Dispatch of a row-major stage: x = tiles of `wg` scenarios, y = groups of rows; returns
/// the rows per group (see `row_range` in `dispatch.wgsl`).
pub fn rows_per_group(ctx: &GpuContext, rows: u32) -> u32 {
    rows.div_ceil(ctx.limits.max_compute_workgroups_per_dimension.max(1))
        .max(1)
}

pub fn dispatch_rows(
    ctx: &GpuContext,
    pass: &mut wgpu::ComputePass,
    count: u32,
    wg: u32,
    rows: u32,
    rows_per_group: u32,
) -> Result<()> {
    let x = count.div_ceil(wg);
    let y = rows.div_ceil(rows_per_group);
    let max = ctx.limits.max_compute_workgroups_per_dimension;
    if x > max || y > max {
        return Err(Error::Gpu(format!(
            "a {x}×{y} dispatch exceeds the adapter's {max} workgroups per dimension"
        )));
    }
    if x > 0 && y > 0 {
        pass.dispatch_workgroups(x, y, 1);
    }
    Ok(())
}

pub fn groups(invocations: u64, wg: u32) -> u64 {
    invocations.div_ceil(u64::from(wg))
}

/// Copies `buffer[..bytes]` to the host (one submission, blocking).
/// A buffer the host maps to read what a submission copied into it.
pub fn mappable(ctx: &GpuContext, label: &str, bytes: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Waits for submission `index` alone (later submissions may still run) and reads the first
/// `bytes` of each of `buffers`, which that submission copied into (made by [`mappable`]).
pub fn read_mapped<T: Pod>(
    ctx: &GpuContext,
    index: wgpu::SubmissionIndex,
    buffers: &[(&wgpu::Buffer, u64)],
) -> Result<Vec<Vec<T>>> {
    crate::engine::gpu::failpoint::hit("readback")?;
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, &(buffer, _)) in buffers.iter().enumerate() {
        let tx = tx.clone();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send((i, r));
        });
    }
    drop(tx);
    ctx.device
        .poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        })
        .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
    ctx.check()?;
    for _ in buffers {
        rx.recv()
            .map_err(|_| Error::Gpu("buffer mapping was dropped".into()))?
            .1
            .map_err(|e| Error::Gpu(format!("cannot map a result buffer: {e}")))?;
    }
    buffers
        .iter()
        .map(|&(buffer, bytes)| {
            let view = buffer
                .get_mapped_range(..)
                .map_err(|e| Error::Gpu(format!("cannot read a result buffer: {e}")))?;
            let out = bytemuck::cast_slice::<u8, T>(&view[..bytes as usize]).to_vec();
            drop(view);
            buffer.unmap();
            Ok(out)
        })
        .collect()
}

pub fn read_back<T: Pod>(ctx: &GpuContext, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<T>> {
    crate::engine::gpu::failpoint::hit("readback")?;
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
    ctx.queue.submit([encoder.finish()]);
    let (tx, rx) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    ctx.wait()?;
    rx.recv()
        .map_err(|_| Error::Gpu("buffer mapping was dropped".into()))?
        .map_err(|e| Error::Gpu(format!("cannot map a result buffer: {e}")))?;
    let view = staging
        .get_mapped_range(..)
        .map_err(|e| Error::Gpu(format!("cannot read a result buffer: {e}")))?;
    let out = bytemuck::cast_slice::<u8, T>(&view).to_vec();
    drop(view);
    staging.unmap();
    Ok(out)
}
