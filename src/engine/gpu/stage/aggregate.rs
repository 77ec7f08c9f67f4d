//! Host side of `shaders/aggregate.wgsl`: holdings × P&L rows → every account's loss
//! (`aggregate`), or, for fused books, the fixed-point sums of `revalue_accumulate` → losses
//! (`finish`).

use crate::book::Book;
use crate::error::Result;

use super::super::buffers::{
    bind, bind_at, book_storage, dispatch_rows, encode_pass, groups, rows_per_group, uniform, write,
};
use super::super::constants::WG_AGGREGATE;
use super::super::context::GpuContext;
use super::super::types::{AggregateParams, accounts};
use super::ChunkBuffers;

/// The stage's entry points (compiled once per device).
#[derive(Debug)]
pub struct Pipelines {
    pub aggregate: wgpu::ComputePipeline,
    pub finish: wgpu::ComputePipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Result<Self> {
        let module = super::compile(device, "aggregate")?;
        Ok(Self {
            aggregate: super::pipeline(device, &module, "aggregate"),
            finish: super::pipeline(device, &module, "finish"),
        })
    }
}

/// The aggregate stage of one book: its account and holding tables, its parameters and the
/// bind groups of both entry points over the chunk's buffers, made once.
pub struct AggregateStage {
    pub accounts: u32,
    params: wgpu::Buffer,
    aggregate_group: wgpu::BindGroup,
    finish_group: wgpu::BindGroup,
}

impl AggregateStage {
    pub fn new(ctx: &GpuContext, book: &Book, chunk: &ChunkBuffers) -> Self {
        let (account_rows, holdings) = accounts(book);
        let account_rows = book_storage(ctx, "accounts", &account_rows);
        let holdings = book_storage(ctx, "holdings", &holdings);
        let params = uniform(ctx, "aggregate params", &AggregateParams::default());
        let p = &ctx.pipelines.aggregate;
        let aggregate_group = bind(
            ctx,
            &p.aggregate,
            &[
                &params,
                &account_rows,
                &holdings,
                &chunk.pnl,
                &chunk.states,
                &chunk.loss,
            ],
        );
        let finish_group = bind_at(
            ctx,
            &p.finish,
            &[
                (0, &params),
                (1, &account_rows),
                (4, &chunk.states),
                (5, &chunk.loss),
                (6, &chunk.accumulated),
            ],
        );
        Self {
            accounts: book.accounts.len() as u32,
            params,
            aggregate_group,
            finish_group,
        }
    }

    /// Writes the parameters for `count` scenarios; returns the accounts per workgroup row.
    fn write_params(&self, ctx: &GpuContext, count: u32) -> u32 {
        let rows_per_group = rows_per_group(ctx, self.accounts);
        let params = AggregateParams {
            path_count: count,
            accounts: self.accounts,
            rows_per_group,
            _pad: 0,
        };
        write(ctx, &self.params, &params);
        rows_per_group
    }

    /// Encodes `aggregate` over `count` scenarios of the chunk's P&L rows.
    pub fn encode_aggregate(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        count: u32,
    ) -> Result<()> {
        crate::engine::gpu::failpoint::hit("aggregate")?;
        let rows_per_group = self.write_params(ctx, count);
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&ctx.pipelines.aggregate.aggregate);
        pass.set_bind_group(0, &self.aggregate_group, &[]);
        let (wg, rows) = (WG_AGGREGATE, self.accounts);
        dispatch_rows(ctx, &mut pass, count, wg, rows, rows_per_group)
    }

    /// Encodes `finish` of a fused book: the chunk's fixed-point sums to losses.
    pub fn encode_finish(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        count: u32,
    ) -> Result<()> {
        crate::engine::gpu::failpoint::hit("aggregate")?;
        self.write_params(ctx, count);
        let workgroups = groups(u64::from(self.accounts) * u64::from(count), WG_AGGREGATE);
        let pipeline = &ctx.pipelines.aggregate.finish;
        encode_pass(ctx, encoder, pipeline, &self.finish_group, workgroups)
    }
}
