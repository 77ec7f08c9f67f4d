//! Buffers and dispatches of the four stages: the host side of `shaders/*.wgsl`.
//!
//! Layouts (i = scenario within the chunk, n = scenarios in the chunk):
//! - states, asset-major: `states[asset * n + i]` = (ln(S_h/S₀), ln Y_h) as f32 pairs;
//! - P&L, instrument-major: `pnl[instrument * n + i]`;
//! - losses, account-major: `loss[account * n + i]`;
//! - tail entries: `tail_out[account * tail_len + slot]` = (f32 loss bits, path).
//!
//! Neighbouring invocations work on neighbouring scenarios of one row, so every stage reads
//! and writes contiguous memory and branches uniformly (one instrument, one account).

use bytemuck::Pod;
use wgpu::util::DeviceExt;

use crate::book::Book;
use crate::engine::TailEntry;
use crate::error::{Error, Result};
use crate::model::scenario::ScenarioModel;
use crate::model::tail::TailBuffer;
use crate::rng::seed_key;

use std::sync::Arc;

use super::context::{GpuContext, RevaluePipelines};
use super::types::{
    AggregateParams, DrawParams, MAX_KNOTS, RevalueBlock, RevalueParams, ScenarioParams,
    TailParams, TailState,
};

/// Workgroup sizes, as in the shaders' `WG` constants.
pub const WG_SCENARIO: u32 = 64;
pub const WG_REVALUE: u32 = 64;
pub const WG_AGGREGATE: u32 = 256;
pub const WG_TAIL: u32 = 256;
pub const WG_DRAWS: u32 = 64;
/// Scenarios per tail histogram workgroup (`TILE` in `tail.wgsl`).
pub const TAIL_TILE: u32 = 4096;
const TAIL_BINS: u64 = 256;
/// Radix-select passes: 8 digits of a 64-bit key.
const TAIL_PASSES: u32 = 8;
/// The most assets `scenario.wgsl` simulates (`MAX_ASSETS`).
pub const MAX_ASSETS: usize = 64;

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);
const UNIFORM: wgpu::BufferUsages = wgpu::BufferUsages::UNIFORM.union(wgpu::BufferUsages::COPY_DST);

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

/// One compute pass of `pipeline` over `group`, `workgroups` workgroups.
fn encode_pass(
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
fn rows_per_group(ctx: &GpuContext, rows: u32) -> u32 {
    rows.div_ceil(ctx.limits.max_compute_workgroups_per_dimension.max(1))
        .max(1)
}

fn dispatch_rows(
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

fn groups(invocations: u64, wg: u32) -> u64 {
    invocations.div_ceil(u64::from(wg))
}

/// Copies `buffer[..bytes]` to the host (one submission, blocking).
pub fn read_back<T: Pod>(ctx: &GpuContext, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<T>> {
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

/// The book's tables on the device, uploaded once per run.
pub struct BookBuffers {
    pub assets: u32,
    pub instruments: u32,
    pub accounts: u32,
    pub steps: u32,
    pub dof: u32,
    pub dt: f32,
    pub sqrt_dt: f32,
    pub step_assets: wgpu::Buffer,
    pub root: wgpu::Buffer,
    pub jump_thresholds: wgpu::Buffer,
    /// The revalue pipelines for this book's `KNOTS`.
    pub revalue: Arc<RevaluePipelines>,
    /// Every instrument in blocks of one asset (`RevalueBlock`s at the context's block
    /// stride): the revalue stage's P&L rows.
    pub instrument_blocks: wgpu::Buffer,
    pub instrument_block_count: u32,
    /// Per instrument block: whether its rows share one smile (`RevalueBlock::shared_smile`).
    pub instrument_shared: Vec<bool>,
    /// Fused books: each account's holdings in blocks (quantities folded in).
    pub account_blocks: wgpu::Buffer,
    pub account_block_count: u32,
    pub account_shared: Vec<bool>,
    /// Whether the Monte Carlo pipeline fuses revalue and aggregate (`revalue_accumulate`):
    /// when the accounts' holdings take at most twice the blocks of the instruments, i.e.
    /// each instrument is held about once. Otherwise P&L rows go through memory once and
    /// the aggregate stage sums them per account (large books of shared instruments).
    pub fused: bool,
    pub account_params: wgpu::Buffer,
    pub holdings: wgpu::Buffer,
}

/// A uniform buffer of revalue blocks, one per `stride` bytes (at least one block).
fn block_buffer(ctx: &GpuContext, label: &str, blocks: &[RevalueBlock]) -> wgpu::Buffer {
    let stride = ctx.revalue_block_stride() as usize;
    let mut bytes = vec![0u8; stride * blocks.len().max(1)];
    for (b, block) in blocks.iter().enumerate() {
        let at = b * stride;
        bytes[at..at + std::mem::size_of::<RevalueBlock>()]
            .copy_from_slice(bytemuck::bytes_of(block));
    }
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &bytes,
            usage: UNIFORM,
        })
}

fn shared_flags(blocks: &[RevalueBlock]) -> Vec<bool> {
    blocks.iter().map(|b| b.shared_smile != 0).collect()
}

impl BookBuffers {
    pub fn new(ctx: &GpuContext, book: &Book) -> Result<Self> {
        if book.assets.len() > MAX_ASSETS {
            return Err(Error::BackendUnavailable(format!(
                "the GPU backend simulates at most {MAX_ASSETS} assets; the book has {} \
                 (use the CPU backend)",
                book.assets.len()
            )));
        }
        let knots = super::types::book_knots(book);
        if knots > MAX_KNOTS {
            return Err(Error::BackendUnavailable(format!(
                "the GPU backend prices smiles of at most {MAX_KNOTS} knots; the book has {knots} \
                 (use the CPU backend)"
            )));
        }
        // The seed does not enter the per-asset constants.
        let model = ScenarioModel::new(book, 0);
        let (step_assets, thresholds) = super::types::step_assets(&model);
        let root: Vec<f32> = model.root.iter().map(|&x| x as f32).collect();
        let rows: Vec<_> = (0..book.instruments.len())
            .map(|i| super::types::pricing_row(book, i))
            .collect();
        let instrument_blocks = super::types::blocks(0, rows.clone());
        let (accounts, holdings) = super::types::accounts(book);
        let mut account_blocks = Vec::new();
        for (a, (acct, params)) in book.accounts.iter().zip(&accounts).enumerate() {
            let held = acct
                .holdings
                .iter()
                .map(|h| {
                    let mut row = rows[h.instrument];
                    // Exact: to_quanta is a power of two (the aggregate stage's q·pnl·2^-e).
                    row.quantity_quanta = h.quantity as f32 * params.to_quanta;
                    row
                })
                .collect();
            account_blocks.extend(super::types::blocks(a as u32, held));
            if account_blocks.len() > 2 * instrument_blocks.len().max(1) {
                break;
            }
        }
        let fused = account_blocks.len() <= 2 * instrument_blocks.len().max(1);
        if !fused {
            account_blocks.clear();
        }
        Ok(Self {
            assets: book.assets.len() as u32,
            instruments: book.instruments.len() as u32,
            accounts: book.accounts.len() as u32,
            steps: model.steps,
            dof: model.dof,
            dt: model.dt as f32,
            sqrt_dt: model.sqrt_dt as f32,
            step_assets: storage_init(ctx, "step assets", &step_assets),
            root: storage_init(ctx, "correlation root", &root),
            jump_thresholds: storage_init(ctx, "jump thresholds", &thresholds),
            revalue: ctx.revalue_pipelines(knots as u32)?,
            instrument_block_count: instrument_blocks.len() as u32,
            instrument_shared: shared_flags(&instrument_blocks),
            instrument_blocks: block_buffer(ctx, "instrument blocks", &instrument_blocks),
            account_block_count: account_blocks.len() as u32,
            account_shared: shared_flags(&account_blocks),
            account_blocks: block_buffer(ctx, "account blocks", &account_blocks),
            fused,
            account_params: storage_init(ctx, "accounts", &accounts),
            holdings: storage_init(ctx, "holdings", &holdings),
        })
    }

    /// Bytes per scenario of the largest per-chunk binding, and of all of them together.
    pub fn bytes_per_scenario(&self) -> (u64, u64) {
        let states = 8 * u64::from(self.assets);
        let pnl = 4 * u64::from(self.instruments);
        let loss = 4 * u64::from(self.accounts);
        (states.max(pnl).max(loss).max(4), states + pnl + loss + 4)
    }
}

/// Device memory the per-chunk buffers may use together.
const CHUNK_MEMORY_BUDGET: u64 = 1 << 30;
/// Default largest chunk: progress is reported at least this often.
const DEFAULT_MAX_CHUNK: u64 = 1 << 20;

/// Paths per chunk: `requested` if given, else as many as fit the adapter's binding and
/// buffer sizes (the largest per-chunk array: states, P&L or losses), the grid of workgroups
/// and a memory budget, at most 2²⁰. A request beyond the limits is cut to them.
pub fn chunk_paths(ctx: &GpuContext, book: &BookBuffers, requested: Option<u32>) -> u64 {
    let (largest, total) = book.bytes_per_scenario();
    let by_binding = ctx.max_binding_bytes() / largest;
    let by_budget = CHUNK_MEMORY_BUDGET / total;
    // Row-major stages tile the scenarios over dispatch x alone.
    let by_grid = u64::from(ctx.limits.max_compute_workgroups_per_dimension)
        * u64::from(WG_REVALUE.min(WG_AGGREGATE));
    let limit = by_binding.min(by_grid).min(u64::from(u32::MAX)).max(1);
    match requested {
        Some(r) => u64::from(r).clamp(1, limit),
        None => by_budget.min(DEFAULT_MAX_CHUNK).min(limit).max(1),
    }
}

/// The per-chunk device buffers (states, P&L, losses, fixed-point sums), sized for
/// `capacity` scenarios. P&L rows exist for factored books and for `explicit` use
/// (regenerated paths, stress); the sums for fused books.
pub struct ChunkBuffers {
    pub capacity: u64,
    pub scenario_params: wgpu::Buffer,
    pub revalue_params: wgpu::Buffer,
    pub aggregate_params: wgpu::Buffer,
    pub path_list: wgpu::Buffer,
    pub scenario_rules: wgpu::Buffer,
    pub states: wgpu::Buffer,
    pub pnl: wgpu::Buffer,
    pub loss: wgpu::Buffer,
    pub accumulated: wgpu::Buffer,
}

impl ChunkBuffers {
    pub fn new(ctx: &GpuContext, book: &BookBuffers, capacity: u64, explicit: bool) -> Self {
        let n = capacity;
        let list_len = if explicit { n } else { 1 };
        Self {
            capacity,
            scenario_params: uniform(ctx, "scenario params", &ScenarioParams::default()),
            revalue_params: uniform(ctx, "revalue params", &RevalueParams::default()),
            aggregate_params: uniform(ctx, "aggregate params", &AggregateParams::default()),
            path_list: storage(ctx, "path list", 4 * list_len),
            scenario_rules: storage(ctx, "scenario rules", 4 * list_len),
            states: storage(ctx, "states", 8 * u64::from(book.assets) * n),
            pnl: if explicit || !book.fused {
                storage(ctx, "pnl", 4 * u64::from(book.instruments) * n)
            } else {
                storage(ctx, "pnl (unused)", 16)
            },
            loss: storage(ctx, "loss", 4 * u64::from(book.accounts) * n),
            accumulated: if book.fused {
                storage(ctx, "fixed-point sums", 8 * u64::from(book.accounts) * n)
            } else {
                storage(ctx, "fixed-point sums (unused)", 16)
            },
        }
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

/// Encodes the scenario stage for `source` (states for `count` scenarios).
pub fn encode_scenario(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    seed: u64,
    source: PathSource,
) -> Result<u32> {
    let (base, count, list) = match source {
        PathSource::Range { base, count } => (base, count, 0),
        PathSource::List(paths) => {
            ctx.queue
                .write_buffer(&chunk.path_list, 0, bytemuck::cast_slice(paths));
            (0, paths.len() as u32, 1)
        }
    };
    let params = ScenarioParams {
        key: seed_key(seed),
        path_base: base,
        path_count: count,
        assets: book.assets,
        steps: book.steps,
        dof: book.dof,
        use_path_list: list,
        dt: book.dt,
        sqrt_dt: book.sqrt_dt,
        _pad: [0; 2],
    };
    ctx.queue
        .write_buffer(&chunk.scenario_params, 0, bytemuck::bytes_of(&params));
    let p = &ctx.pipelines.scenario;
    let group = bind(
        ctx,
        p,
        &[
            &chunk.scenario_params,
            &book.step_assets,
            &book.root,
            &book.jump_thresholds,
            &chunk.path_list,
            &chunk.states,
        ],
    );
    encode_pass(
        ctx,
        encoder,
        p,
        &group,
        groups(u64::from(count), WG_SCENARIO),
    )?;
    Ok(count)
}

/// The revalue stage's bind group over `blocks` (bound one block at a time, at dynamic
/// offsets).
fn whole(binding: u32, buffer: &wgpu::Buffer) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: buffer.as_entire_binding(),
    }
}

fn revalue_group(ctx: &GpuContext, chunk: &ChunkBuffers, blocks: &wgpu::Buffer) -> wgpu::BindGroup {
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("revalue"),
        layout: &ctx.revalue_layout,
        entries: &[
            whole(0, &chunk.revalue_params),
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: blocks,
                    offset: 0,
                    size: std::num::NonZeroU64::new(std::mem::size_of::<RevalueBlock>() as u64),
                }),
            },
            whole(2, &chunk.states),
            whole(3, &chunk.scenario_rules),
            whole(4, &chunk.pnl),
            whole(5, &chunk.accumulated),
        ],
    })
}

/// Dispatches `pipelines` (general, shared smile) once per block of `blocks`, over `count`
/// scenarios each: the second for the blocks that `shared` marks.
#[allow(clippy::too_many_arguments)]
fn dispatch_blocks(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    chunk: &ChunkBuffers,
    pipelines: [&wgpu::ComputePipeline; 2],
    shared: &[bool],
    blocks: &wgpu::Buffer,
    block_count: u32,
    count: u32,
) -> Result<()> {
    let group = revalue_group(ctx, chunk, blocks);
    let stride = ctx.revalue_block_stride();
    let mut pass = encoder.begin_compute_pass(&Default::default());
    let mut current = None;
    for b in 0..u64::from(block_count) {
        let pick = shared.get(b as usize).copied().unwrap_or(false);
        if current != Some(pick) {
            pass.set_pipeline(pipelines[usize::from(pick)]);
            current = Some(pick);
        }
        let offset = u32::try_from(b * stride)
            .map_err(|_| Error::Gpu("too many revalue blocks for a dynamic offset".into()))?;
        pass.set_bind_group(0, &group, &[offset]);
        dispatch(ctx, &mut pass, groups(u64::from(count), WG_REVALUE))?;
    }
    Ok(())
}

fn write_revalue_params(ctx: &GpuContext, chunk: &ChunkBuffers, count: u32, explicit: bool) {
    let params = RevalueParams {
        path_count: count,
        explicit_rules: u32::from(explicit),
        _pad: [0; 2],
    };
    ctx.queue
        .write_buffer(&chunk.revalue_params, 0, bytemuck::bytes_of(&params));
}

/// Encodes the revalue stage over `count` scenarios already in `chunk.states`: every
/// instrument's P&L row in `chunk.pnl`; with `explicit_rules`, `chunk.scenario_rules`
/// applies (see `revalue.wgsl`).
pub fn encode_revalue(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
    explicit_rules: bool,
) -> Result<()> {
    write_revalue_params(ctx, chunk, count, explicit_rules);
    dispatch_blocks(
        ctx,
        encoder,
        chunk,
        [&book.revalue.revalue, &book.revalue.revalue_shared],
        &book.instrument_shared,
        &book.instrument_blocks,
        book.instrument_block_count,
        count,
    )
}

fn write_aggregate_params(
    ctx: &GpuContext,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
) -> u32 {
    let rows_per_group = rows_per_group(ctx, book.accounts);
    let params = AggregateParams {
        path_count: count,
        accounts: book.accounts,
        rows_per_group,
        _pad: 0,
    };
    ctx.queue
        .write_buffer(&chunk.aggregate_params, 0, bytemuck::bytes_of(&params));
    rows_per_group
}

/// Encodes the aggregate stage over `count` scenarios of P&L rows.
pub fn encode_aggregate(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
) -> Result<()> {
    let rows_per_group = write_aggregate_params(ctx, book, chunk, count);
    let p = &ctx.pipelines.aggregate;
    let group = bind(
        ctx,
        p,
        &[
            &chunk.aggregate_params,
            &book.account_params,
            &book.holdings,
            &chunk.pnl,
            &chunk.states,
            &chunk.loss,
        ],
    );
    let mut pass = encoder.begin_compute_pass(&Default::default());
    pass.set_pipeline(p);
    pass.set_bind_group(0, &group, &[]);
    dispatch_rows(
        ctx,
        &mut pass,
        count,
        WG_AGGREGATE,
        book.accounts,
        rows_per_group,
    )
}

/// Encodes the fused revalue-aggregate of a fused book (`book.fused`): each account's
/// holdings revalued and summed in fixed point ([`encode_accumulate`]), then turned into
/// losses ([`encode_finish`]), bit for bit what [`encode_revalue`] and [`encode_aggregate`]
/// give.
pub fn encode_revalue_accumulate(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
) -> Result<()> {
    encode_accumulate(ctx, encoder, book, chunk, count)?;
    encode_finish(ctx, encoder, book, chunk, count)
}

/// The `revalue_accumulate` passes of a fused book: fixed-point sums of every account in
/// `chunk.accumulated`.
pub fn encode_accumulate(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
) -> Result<()> {
    encoder.clear_buffer(
        &chunk.accumulated,
        0,
        Some(8 * u64::from(book.accounts) * u64::from(count)),
    );
    write_revalue_params(ctx, chunk, count, false);
    dispatch_blocks(
        ctx,
        encoder,
        chunk,
        [&book.revalue.accumulate, &book.revalue.accumulate_shared],
        &book.account_shared,
        &book.account_blocks,
        book.account_block_count,
        count,
    )
}

/// The `finish` pass of a fused book: fixed-point sums to losses.
pub fn encode_finish(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
) -> Result<()> {
    write_aggregate_params(ctx, book, chunk, count);
    let p = &ctx.pipelines.aggregate_finish;
    let group = bind_at(
        ctx,
        p,
        &[
            (0, &chunk.aggregate_params),
            (1, &book.account_params),
            (4, &chunk.states),
            (5, &chunk.loss),
            (6, &chunk.accumulated),
        ],
    );
    encode_pass(
        ctx,
        encoder,
        p,
        &group,
        groups(u64::from(book.accounts) * u64::from(count), WG_AGGREGATE),
    )
}

/// Encodes revalue and aggregate, fused or factored as the book is: every account's loss
/// on `count` scenarios in `chunk.loss`.
pub fn encode_losses(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    count: u32,
) -> Result<()> {
    if book.fused {
        encode_revalue_accumulate(ctx, encoder, book, chunk, count)
    } else {
        encode_revalue(ctx, encoder, book, chunk, count, false)?;
        encode_aggregate(ctx, encoder, book, chunk, count)
    }
}

/// The tail stage's buffers: accounts are processed in batches whose gathered entries fit
/// one binding.
pub struct TailBuffers {
    pub tail_len: u32,
    /// Accounts per batch.
    pub batch: u32,
    params: wgpu::Buffer,
    state: wgpu::Buffer,
    hist: wgpu::Buffer,
    gathered: wgpu::Buffer,
    out: wgpu::Buffer,
}

impl TailBuffers {
    pub fn new(ctx: &GpuContext, accounts: u32, tail_len: u32) -> Result<Self> {
        let entry_bytes = 8 * u64::from(tail_len.max(1));
        let max = ctx.max_binding_bytes();
        if entry_bytes > max {
            return Err(Error::Gpu(format!(
                "a tail of {tail_len} losses ({entry_bytes} bytes) exceeds the adapter's \
                 largest binding ({max} bytes)"
            )));
        }
        let batch = (max / entry_bytes)
            .min(u64::from(accounts.max(1)))
            .min(1 << 16) as u32;
        let batch = batch.max(1);
        Ok(Self {
            tail_len,
            batch,
            params: uniform(ctx, "tail params", &TailParams::default()),
            state: storage(ctx, "tail state", 32 * u64::from(batch)),
            hist: storage(ctx, "tail histogram", 4 * TAIL_BINS * u64::from(batch)),
            gathered: storage(ctx, "tail gathered", 4 * u64::from(batch)),
            out: storage(ctx, "tail entries", entry_bytes * u64::from(batch)),
        })
    }
}

/// The eligibility bound of the next chunk's keys (`TailState::min_loss_key`): once the
/// running tail is full, only a strictly larger loss can enter, since later chunks hold higher
/// path indices and lose ties. `None`: nothing can enter.
fn min_loss_key(running: &mut TailBuffer) -> Option<u32> {
    match running.floor() {
        None => Some(0),
        Some(worst) => super::types::loss_key(worst.loss as f32).checked_add(1),
    }
}

/// Runs the tail stage on the `count` losses of every account in `chunk.loss` (paths
/// `path_base ..`) and merges each account's chunk tail into `tails` (one per account).
/// Returns the seconds spent copying the selected entries back (the first readback, of the
/// gathered counts, also waits for the selection itself, so it counts as tail time).
pub fn run_tail(
    ctx: &GpuContext,
    book: &BookBuffers,
    chunk: &ChunkBuffers,
    tail: &TailBuffers,
    path_base: u32,
    count: u32,
    tails: &mut [TailBuffer],
) -> Result<f64> {
    let mut readback_seconds = 0.0;
    let take = tail.tail_len.min(count);
    let tiles = count.div_ceil(TAIL_TILE).max(1);
    let mut account_base = 0;
    while account_base < book.accounts {
        let accounts = tail.batch.min(book.accounts - account_base);
        let batch = &mut tails[account_base as usize..(account_base + accounts) as usize];
        let params = TailParams {
            path_count: count,
            account_base,
            accounts,
            tail_len: take,
            path_base,
            tiles,
            _pad: [0; 2],
        };
        ctx.queue
            .write_buffer(&tail.params, 0, bytemuck::bytes_of(&params));
        let init: Vec<TailState> = batch
            .iter_mut()
            .map(|t| match min_loss_key(t) {
                Some(min_loss_key) if take > 0 => TailState {
                    remaining: take,
                    min_loss_key,
                    ..Default::default()
                },
                _ => TailState {
                    done: 1,
                    empty: 1,
                    ..Default::default()
                },
            })
            .collect();
        ctx.queue
            .write_buffer(&tail.state, 0, bytemuck::cast_slice(&init));
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&tail.hist, 0, None);
        encoder.clear_buffer(&tail.gathered, 0, None);
        let p = &ctx.pipelines;
        let hist_group = bind(
            ctx,
            &p.tail_histogram,
            &[&tail.params, &chunk.loss, &tail.state, &tail.hist],
        );
        let select_group = bind_at(
            ctx,
            &p.tail_select,
            &[(0, &tail.params), (2, &tail.state), (3, &tail.hist)],
        );
        let gather_group = bind_at(
            ctx,
            &p.tail_gather,
            &[
                (0, &tail.params),
                (1, &chunk.loss),
                (2, &tail.state),
                (4, &tail.gathered),
                (5, &tail.out),
            ],
        );
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for _ in 0..TAIL_PASSES {
                pass.set_pipeline(&p.tail_histogram);
                pass.set_bind_group(0, &hist_group, &[]);
                dispatch(ctx, &mut pass, u64::from(accounts) * u64::from(tiles))?;
                pass.set_pipeline(&p.tail_select);
                pass.set_bind_group(0, &select_group, &[]);
                dispatch(ctx, &mut pass, groups(u64::from(accounts), 64))?;
            }
            pass.set_pipeline(&p.tail_gather);
            pass.set_bind_group(0, &gather_group, &[]);
            dispatch(
                ctx,
                &mut pass,
                groups(u64::from(accounts) * u64::from(count), WG_TAIL),
            )?;
        }
        ctx.queue.submit([encoder.finish()]);
        let gathered: Vec<u32> = read_back(ctx, &tail.gathered, 4 * u64::from(accounts))?;
        // Only as far as the last account that gathered anything.
        let rows = gathered.iter().rposition(|&g| g > 0).map_or(0, |a| a + 1) as u64;
        let copy = std::time::Instant::now();
        let entries: Vec<[u32; 2]> = read_back(ctx, &tail.out, 8 * u64::from(take) * rows)?;
        readback_seconds += copy.elapsed().as_secs_f64();
        for (a, (&got, running)) in gathered.iter().zip(batch.iter_mut()).enumerate() {
            if got > take {
                return Err(Error::Gpu(format!(
                    "tail selection gathered {got} losses for a tail of {take} (account {})",
                    account_base as usize + a
                )));
            }
            if got == 0 {
                continue;
            }
            let start = a * take as usize;
            for &[bits, path] in &entries[start..start + got as usize] {
                running.push(TailEntry {
                    loss: f64::from(f32::from_bits(bits)),
                    path,
                });
            }
        }
        account_base += accounts;
    }
    Ok(readback_seconds)
}

/// Raw Philox words or normals of `paths` × `blocks` (verification).
pub fn run_draws<T: Pod>(
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
    let pipeline = if normals {
        &ctx.pipelines.normal_blocks
    } else {
        &ctx.pipelines.philox_words
    };
    let out_binding = if normals { 3 } else { 2 };
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

/// Runs `probe.wgsl` on `xs` (see [`super::GpuBackend::probe_math`]).
pub fn run_probe(ctx: &GpuContext, xs: &[f32]) -> Result<Vec<[f32; 4]>> {
    if xs.is_empty() {
        return Ok(Vec::new());
    }
    let source = super::shaders::preprocess(super::shaders::stage("probe").source)
        .map_err(|e| Error::Gpu(format!("shader probe: {e}")))?;
    let module = ctx
        .device
        .create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("probe"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
    let pipeline = ctx
        .device
        .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("probe"),
            layout: None,
            module: &module,
            entry_point: Some("probe"),
            compilation_options: Default::default(),
            cache: None,
        });
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
    encode_pass(ctx, &mut encoder, &pipeline, &group, groups(n, 64))?;
    ctx.queue.submit([encoder.finish()]);
    read_back(ctx, &out, 16 * n)
}
