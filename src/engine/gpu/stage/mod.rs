//! The host side of the stages, one module per shader (`shaders/<stage>.wgsl`): each owns
//! its pipelines (compiled once per device and kept in the [`GpuContext`]), its book tables,
//! parameter buffers and bind groups, made once per run and reused for every chunk.
//!
//! Per-chunk arrays ([`ChunkBuffers`], i = scenario within the chunk, n = its scenarios):
//! - states, asset-major: `states[asset * n + i]` = (ln(S_h/S₀), ln Y_h) as f32 pairs;
//! - P&L, instrument-major: `pnl[instrument * n + i]`;
//! - losses, account-major: `loss[account * n + i]`;
//! - tail entries: `tail_out[account * tail_len + slot]` = (f32 loss bits, path).
//!
//! Neighbouring invocations work on neighbouring scenarios of one row, so every stage reads
//! and writes contiguous memory and branches uniformly (one instrument, one account).

pub mod aggregate;
pub mod distribution;
pub mod draws;
pub mod probe;
pub mod revalue;
pub mod scenario;
pub mod tail;

use crate::book::Book;
use crate::error::{Error, Result};

use super::buffers::storage;
use super::constants::{WG_AGGREGATE, WG_REVALUE};
use super::context::GpuContext;
use super::shaders;

pub use aggregate::AggregateStage;
pub use distribution::DistributionStage;
pub use revalue::{RevalueBook, RevalueStage};
pub use scenario::{PathSource, ScenarioStage};
pub use tail::TailStage;

/// The preprocessed module of stage `name`.
pub fn compile(device: &wgpu::Device, name: &str) -> Result<wgpu::ShaderModule> {
    let source = shaders::preprocess(shaders::stage(name).source)
        .map_err(|e| Error::Gpu(format!("shader {name}: {e}")))?;
    Ok(device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(name),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    }))
}

/// The pipeline of `entry` with its automatic layout.
pub fn pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    entry: &str,
) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// Device memory the per-chunk buffers may use together.
const CHUNK_MEMORY_BUDGET: u64 = 1 << 30;
/// Default largest chunk: progress is reported at least this often.
const DEFAULT_MAX_CHUNK: u64 = 1 << 20;

/// Bytes per scenario of the largest per-chunk binding, and of all of them together.
fn bytes_per_scenario(book: &Book) -> (u64, u64) {
    let states = 8 * book.assets.len() as u64;
    let pnl = 4 * book.instruments.len() as u64;
    let loss = 4 * book.accounts.len() as u64;
    (states.max(pnl).max(loss).max(4), states + pnl + loss + 4)
}

/// Paths per chunk: `requested` if given, else as many as fit the adapter's binding and
/// buffer sizes (the largest per-chunk array: states, P&L or losses), the grid of workgroups
/// and a memory budget, at most 2²⁰. A request beyond the limits is cut to them.
pub fn chunk_paths(ctx: &GpuContext, book: &Book, requested: Option<u32>) -> u64 {
    let (largest, total) = bytes_per_scenario(book);
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

/// The per-chunk device buffers that pass results from stage to stage, sized for
/// `capacity` scenarios. P&L rows exist for factored books and for `explicit` use
/// (regenerated paths, stress); the fixed-point sums for fused books.
pub struct ChunkBuffers {
    pub capacity: u64,
    pub accounts: u32,
    pub path_list: wgpu::Buffer,
    pub scenario_rules: wgpu::Buffer,
    pub states: wgpu::Buffer,
    pub pnl: wgpu::Buffer,
    pub loss: wgpu::Buffer,
    pub accumulated: wgpu::Buffer,
}

impl ChunkBuffers {
    pub fn new(ctx: &GpuContext, book: &Book, fused: bool, capacity: u64, explicit: bool) -> Self {
        let n = capacity;
        let list_len = if explicit { n } else { 1 };
        let (assets, instruments, accounts) = (
            book.assets.len() as u64,
            book.instruments.len() as u64,
            book.accounts.len() as u64,
        );
        Self {
            capacity,
            accounts: accounts as u32,
            path_list: storage(ctx, "path list", 4 * list_len),
            scenario_rules: storage(ctx, "scenario rules", 4 * list_len),
            states: storage(ctx, "states", 8 * assets * n),
            pnl: if explicit || !fused {
                storage(ctx, "pnl", 4 * instruments * n)
            } else {
                storage(ctx, "pnl (unused)", 16)
            },
            loss: storage(ctx, "loss", 4 * accounts * n),
            accumulated: if fused {
                storage(ctx, "fixed-point sums", 8 * accounts * n)
            } else {
                storage(ctx, "fixed-point sums (unused)", 16)
            },
        }
    }
}

/// The Monte Carlo stages of one book over one set of chunk buffers, made once per run.
pub struct Stages {
    pub chunk: ChunkBuffers,
    pub scenario: ScenarioStage,
    pub revalue: RevalueStage,
    pub aggregate: AggregateStage,
}

impl Stages {
    /// The stages of `book` for chunks of `chunk` scenarios (at least 1); `explicit`: with
    /// P&L rows, path lists and scenario rules (regenerated paths, stress).
    pub fn new(ctx: &GpuContext, book: &Book, chunk: u64, explicit: bool) -> Result<Self> {
        ScenarioStage::check(book)?;
        let revalue_book = RevalueBook::new(book)?;
        // A real out-of-memory here is returned at once, naming the allocation (else the
        // uncaptured-error handler reports it at the next wait, docs/reference.md §7.3).
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let scenarios = chunk.max(1);
        let chunk = ChunkBuffers::new(ctx, book, revalue_book.fused, scenarios, explicit);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!(
                "out of memory allocating the buffers of a {scenarios}-scenario chunk: {e}"
            )));
        }
        Ok(Self {
            scenario: ScenarioStage::new(ctx, book, &chunk)?,
            revalue: RevalueStage::new(ctx, &revalue_book, &chunk)?,
            aggregate: AggregateStage::new(ctx, book, &chunk),
            chunk,
        })
    }

    /// Whether revalue and aggregate are fused ([`RevalueBook::fused`]).
    pub fn fused(&self) -> bool {
        self.revalue.fused()
    }

    /// The fused book's revalue half: `revalue_accumulate`; otherwise P&L rows.
    pub fn encode_revalue_half(
        &self,
        ctx: &GpuContext,
        e: &mut wgpu::CommandEncoder,
        count: u32,
    ) -> Result<()> {
        if self.fused() {
            self.revalue.encode_accumulate(ctx, e, &self.chunk, count)
        } else {
            self.revalue.encode_revalue(ctx, e, count, false)
        }
    }

    /// The aggregate half: `finish` of a fused book's sums; otherwise `aggregate`.
    pub fn encode_aggregate_half(
        &self,
        ctx: &GpuContext,
        e: &mut wgpu::CommandEncoder,
        count: u32,
    ) -> Result<()> {
        if self.fused() {
            self.aggregate.encode_finish(ctx, e, count)
        } else {
            self.aggregate.encode_aggregate(ctx, e, count)
        }
    }

    /// Encodes revalue and aggregate, fused or factored as the book is: every account's
    /// loss on `count` scenarios in the chunk's `loss`.
    pub fn encode_losses(
        &self,
        ctx: &GpuContext,
        e: &mut wgpu::CommandEncoder,
        count: u32,
    ) -> Result<()> {
        self.encode_revalue_half(ctx, e, count)?;
        self.encode_aggregate_half(ctx, e, count)
    }
}
