//! Host side of `shaders/revalue.wgsl`: every instrument's P&L row (`revalue`), or, for fused
//! books, each account's holdings revalued and summed in fixed point (`revalue_accumulate`).
//!
//! Work goes in blocks of up to `BLOCK_ROWS` rows of one asset (`RevalueBlock`s at the
//! context's block stride in one uniform buffer), one dispatch per block at a dynamic offset
//! of one bind group.

use std::num::NonZeroU64;
use std::sync::Arc;

use crate::book::Book;
use crate::error::{Error, Result};

use super::super::buffers::{UNIFORM, dispatch, groups, uniform, whole, write};
use super::super::constants::{MAX_KNOTS, WG_REVALUE};
use super::super::context::GpuContext;
use super::super::types::{RevalueBlock, RevalueParams, accounts, blocks, book_knots, pricing_row};
use super::ChunkBuffers;

/// The stage's two entry points, compiled for one `KNOTS` (the most smile knots of a book):
/// the knot loop then has a constant trip count and unrolls.
#[derive(Debug)]
pub struct Pipelines {
    pub knots: u32,
    /// `revalue`: P&L rows.
    pub revalue: wgpu::ComputePipeline,
    /// `revalue_accumulate`: fused revalue and aggregate.
    pub accumulate: wgpu::ComputePipeline,
    /// The same two for blocks whose rows share one smile (`SHARED_SMILE`).
    pub revalue_shared: wgpu::ComputePipeline,
    pub accumulate_shared: wgpu::ComputePipeline,
}

impl Pipelines {
    /// Compiles the stage for `knots` with the layout of [`bind_group_layout`].
    pub fn new(device: &wgpu::Device, layout: &wgpu::PipelineLayout, knots: u32) -> Result<Self> {
        let module = super::compile(device, "revalue")?;
        let pipeline = |entry: &str, shared: bool| {
            let constants = [
                ("KNOTS", f64::from(knots)),
                ("SHARED_SMILE", f64::from(u8::from(shared))),
            ];
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                cache: None,
            })
        };
        Ok(Self {
            knots,
            revalue: pipeline("revalue", false),
            accumulate: pipeline("revalue_accumulate", false),
            revalue_shared: pipeline("revalue", true),
            accumulate_shared: pipeline("revalue_accumulate", true),
        })
    }
}

/// Bindings of `revalue.wgsl`: params, the block (dynamic offset), states, scenario rules,
/// P&L rows, fixed-point sums.
pub fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let uniform = |binding, dynamic: bool, size: usize| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: dynamic,
            min_binding_size: NonZeroU64::new(size as u64),
        },
        count: None,
    };
    let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("revalue"),
        entries: &[
            uniform(0, false, size_of::<RevalueParams>()),
            uniform(1, true, size_of::<RevalueBlock>()),
            storage(2, true),
            storage(3, true),
            storage(4, false),
            storage(5, false),
        ],
    })
}

/// A uniform buffer of revalue blocks, one per `stride` bytes (at least one block).
fn block_buffer(ctx: &GpuContext, label: &'static str, blocks: &[RevalueBlock]) -> wgpu::Buffer {
    let stride = ctx.revalue_block_stride() as usize;
    let mut bytes = vec![0u8; stride * blocks.len().max(1)];
    for (b, block) in blocks.iter().enumerate() {
        let at = b * stride;
        bytes[at..at + size_of::<RevalueBlock>()].copy_from_slice(bytemuck::bytes_of(block));
    }
    ctx.book_table(label, UNIFORM, &bytes)
}

/// One set of blocks on the device: the buffer, and per block whether its rows share one
/// smile (`RevalueBlock::shared_smile`, which picks the pipeline).
struct Blocks {
    buffer: wgpu::Buffer,
    shared: Vec<bool>,
}

impl Blocks {
    fn new(ctx: &GpuContext, label: &'static str, blocks: &[RevalueBlock]) -> Self {
        Self {
            buffer: block_buffer(ctx, label, blocks),
            shared: blocks.iter().map(|b| b.shared_smile != 0).collect(),
        }
    }
}

/// The book's revalue blocks: every instrument's row, and for fused books every account's
/// holdings (quantities folded in).
pub struct RevalueBook {
    knots: usize,
    instruments: Vec<RevalueBlock>,
    holdings: Vec<RevalueBlock>,
    /// Whether the Monte Carlo pipeline fuses revalue and aggregate (`revalue_accumulate`):
    /// when the accounts' holdings take at most twice the blocks of the instruments, i.e.
    /// each instrument is held about once. Otherwise P&L rows go through memory once and
    /// the aggregate stage sums them per account (large books of shared instruments).
    pub fused: bool,
}

impl RevalueBook {
    /// Checks the book against the stage's limits ([`MAX_KNOTS`]).
    pub fn check(book: &Book) -> Result<usize> {
        let knots = book_knots(book);
        if knots > MAX_KNOTS {
            return Err(Error::BackendUnavailable(format!(
                "the GPU backend prices smiles of at most {MAX_KNOTS} knots; the book has \
                 {knots} (use the CPU backend)"
            )));
        }
        Ok(knots)
    }

    pub fn new(book: &Book) -> Result<Self> {
        let knots = Self::check(book)?;
        let rows: Vec<_> = (0..book.instruments.len())
            .map(|i| pricing_row(book, i))
            .collect();
        let instruments = blocks(0, rows.clone());
        let limit = 2 * instruments.len().max(1);
        let (params, _) = accounts(book);
        let mut holdings = Vec::new();
        for (a, (acct, params)) in book.accounts.iter().zip(&params).enumerate() {
            let held = acct.exposures.iter().map(|e| {
                let mut row = rows[e.instrument];
                // Exact: to_quanta is a power of two (the aggregate stage's q·pnl·2^-e).
                row.quantity_quanta = e.quantity as f32 * params.to_quanta;
                row
            });
            holdings.extend(blocks(a as u32, held.collect()));
            if holdings.len() > limit {
                break;
            }
        }
        let fused = holdings.len() <= limit;
        if !fused {
            holdings.clear();
        }
        Ok(Self {
            knots,
            instruments,
            holdings,
            fused,
        })
    }
}

/// The revalue stage of one book: its blocks, pipelines, parameters and one bind group per
/// set of blocks over the chunk's buffers, made once.
pub struct RevalueStage {
    pipelines: Arc<Pipelines>,
    params: wgpu::Buffer,
    instruments: Blocks,
    instrument_group: wgpu::BindGroup,
    /// Fused books: the holdings' blocks and their bind group.
    holdings: Option<(Blocks, wgpu::BindGroup)>,
}

impl RevalueStage {
    pub fn new(ctx: &GpuContext, book: &RevalueBook, chunk: &ChunkBuffers) -> Result<Self> {
        let params = uniform(ctx, "revalue params", &RevalueParams::default());
        let instruments = Blocks::new(ctx, "instrument blocks", &book.instruments);
        let instrument_group = group(ctx, &params, chunk, &instruments.buffer);
        let holdings = book.fused.then(|| {
            let blocks = Blocks::new(ctx, "account blocks", &book.holdings);
            let group = group(ctx, &params, chunk, &blocks.buffer);
            (blocks, group)
        });
        Ok(Self {
            pipelines: ctx.revalue_pipelines(book.knots as u32)?,
            params,
            instruments,
            instrument_group,
            holdings,
        })
    }

    /// Instrument blocks: dispatches of one `revalue` pass.
    pub fn instrument_blocks(&self) -> usize {
        self.instruments.shared.len()
    }

    /// Whether the book's accounts are summed by `revalue_accumulate` ([`RevalueBook::fused`]).
    pub fn fused(&self) -> bool {
        self.holdings.is_some()
    }

    fn write_params(&self, ctx: &GpuContext, count: u32, explicit: bool) {
        let params = RevalueParams {
            path_count: count,
            explicit_rules: u32::from(explicit),
            _pad: [0; 2],
        };
        write(ctx, &self.params, &params);
    }

    /// Encodes the `revalue` entry point over `count` scenarios already in the chunk's
    /// states: every instrument's P&L row in its `pnl`; with `explicit_rules`, its
    /// `scenario_rules` apply (see `revalue.wgsl`).
    pub fn encode_revalue(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        count: u32,
        explicit_rules: bool,
    ) -> Result<()> {
        crate::engine::gpu::failpoint::hit("revalue")?;
        self.write_params(ctx, count, explicit_rules);
        let p = &self.pipelines;
        let pipelines = [&p.revalue, &p.revalue_shared];
        let (blocks, group) = (&self.instruments, &self.instrument_group);
        dispatch_blocks(ctx, encoder, pipelines, blocks, group, count)
    }

    /// The `revalue_accumulate` passes of a fused book: the fixed-point sums of every account
    /// in the chunk's `accumulated` (cleared first). An error for a factored book.
    pub fn encode_accumulate(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        chunk: &ChunkBuffers,
        count: u32,
    ) -> Result<()> {
        crate::engine::gpu::failpoint::hit("revalue")?;
        let (blocks, group) = self
            .holdings
            .as_ref()
            .ok_or_else(|| Error::Gpu("revalue_accumulate on a factored book".into()))?;
        encoder.clear_buffer(
            &chunk.accumulated,
            0,
            Some(8 * u64::from(chunk.accounts) * u64::from(count)),
        );
        self.write_params(ctx, count, false);
        let p = &self.pipelines;
        let pipelines = [&p.accumulate, &p.accumulate_shared];
        dispatch_blocks(ctx, encoder, pipelines, blocks, group, count)
    }
}

/// A bind group of the stage over `blocks` (bound one block at a time, at dynamic offsets).
fn group(
    ctx: &GpuContext,
    params: &wgpu::Buffer,
    chunk: &ChunkBuffers,
    blocks: &wgpu::Buffer,
) -> wgpu::BindGroup {
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("revalue"),
        layout: &ctx.revalue_layout,
        entries: &[
            whole(0, params),
            wgpu::BindGroupEntry {
                binding: 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: blocks,
                    offset: 0,
                    size: NonZeroU64::new(size_of::<RevalueBlock>() as u64),
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
/// scenarios each: the second for the blocks marked shared.
fn dispatch_blocks(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    pipelines: [&wgpu::ComputePipeline; 2],
    blocks: &Blocks,
    group: &wgpu::BindGroup,
    count: u32,
) -> Result<()> {
    let stride = ctx.revalue_block_stride();
    let mut pass = encoder.begin_compute_pass(&Default::default());
    let mut current = None;
    for (b, &pick) in blocks.shared.iter().enumerate() {
        if current != Some(pick) {
            pass.set_pipeline(pipelines[usize::from(pick)]);
            current = Some(pick);
        }
        let offset = u32::try_from(b as u64 * stride)
            .map_err(|_| Error::Gpu("too many revalue blocks for a dynamic offset".into()))?;
        pass.set_bind_group(0, group, &[offset]);
        dispatch(ctx, &mut pass, groups(u64::from(count), WG_REVALUE))?;
    }
    Ok(())
}
