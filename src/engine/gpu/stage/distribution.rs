//! Host side of the `distribution` entry point of `shaders/tail.wgsl`: each account's loss
//! histogram ([`crate::model::distribution`]) counted on the device over a chunk's losses,
//! part of the tail pass when a report asks for it. Only the counts come back
//! (accounts × [`DIST_BINS`] words per chunk), never the losses.
//!
//! Accounts are counted in batches whose counts fit one binding; the buffers and the bind
//! group are made once per run.

use crate::error::Result;
use crate::model::distribution::LossHistogram;

use super::super::buffers::{bind_at, dispatch, read_back, storage, uniform};
use super::super::constants::{DIST_BINS, TAIL_TILE};
use super::super::context::GpuContext;
use super::super::types::TailParams;

/// The histogram counter over one loss buffer (account-major, `loss[account * count + i]`).
pub struct DistributionStage {
    pub accounts: u32,
    /// Accounts per batch.
    pub batch: u32,
    params: wgpu::Buffer,
    counts: wgpu::Buffer,
    group: wgpu::BindGroup,
}

impl DistributionStage {
    /// The stage for `accounts` rows of `loss`.
    pub fn new(ctx: &GpuContext, accounts: u32, loss: &wgpu::Buffer) -> Self {
        let row_bytes = 4 * u64::from(DIST_BINS);
        // At most 4 096 accounts (32 MiB of counts) per batch, at least one.
        let limit = u64::from(accounts).clamp(1, 1 << 12);
        let batch = (ctx.max_binding_bytes() / row_bytes).clamp(1, limit) as u32;
        let params = uniform(ctx, "distribution params", &TailParams::default());
        let counts = storage(ctx, "distribution counts", row_bytes * u64::from(batch));
        let pipeline = &ctx.pipelines.tail.distribution;
        let group = bind_at(ctx, pipeline, &[(0, &params), (1, loss), (6, &counts)]);
        Self {
            accounts,
            batch,
            params,
            counts,
            group,
        }
    }

    /// Counts the `count` losses of every account of the chunk into `histograms` (one per
    /// account).
    pub fn run(
        &self,
        ctx: &GpuContext,
        count: u32,
        histograms: &mut [LossHistogram],
    ) -> Result<()> {
        crate::engine::gpu::failpoint::hit("distribution")?;
        let tiles = count.div_ceil(TAIL_TILE).max(1);
        let bins = DIST_BINS as usize;
        let mut account_base = 0;
        while account_base < self.accounts {
            let accounts = self.batch.min(self.accounts - account_base);
            let params = TailParams {
                path_count: count,
                account_base,
                accounts,
                tail_len: 0,
                path_base: 0,
                tiles,
                _pad: [0; 2],
            };
            ctx.queue
                .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            encoder.clear_buffer(&self.counts, 0, None);
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                pass.set_pipeline(&ctx.pipelines.tail.distribution);
                pass.set_bind_group(0, &self.group, &[]);
                dispatch(ctx, &mut pass, u64::from(accounts) * u64::from(tiles))?;
            }
            ctx.queue.submit([encoder.finish()]);
            let words = 4 * u64::from(accounts) * u64::from(DIST_BINS);
            let counts: Vec<u32> = read_back(ctx, &self.counts, words)?;
            let rows = &mut histograms[account_base as usize..(account_base + accounts) as usize];
            for (h, row) in rows.iter_mut().zip(counts.chunks(bins)) {
                h.counts
                    .iter_mut()
                    .zip(row)
                    .for_each(|(total, &c)| *total += u64::from(c));
            }
            account_base += accounts;
        }
        Ok(())
    }
}
