//! Explicit scenario tables on the GPU (historical scenarios): each chunk's rows are
//! uploaded into the chunk's states buffer, where the scenario stage would have written
//! them, and the book's own revalue, aggregate and tail stages run as for Monte Carlo.

use bytemuck::cast_slice;

use super::GpuBackend;
use super::stage::{DistributionStage, Stages, TailStage};
use crate::book::Book;
use crate::error::{Error, Result};
use crate::model::AccountTail;
use crate::model::distribution::LossHistogram;
use crate::model::historical::ScenarioTable;
use crate::model::tail::TailBuffer;

impl GpuBackend {
    /// [`crate::engine::Backend::table_tails`] on this device; `counting`: with each
    /// account's loss histogram counted on the device (empty histograms otherwise).
    pub(super) fn tails_of_table(
        &self,
        book: &Book,
        table: &ScenarioTable,
        tail_len: usize,
        chunk_paths: Option<u32>,
        counting: bool,
    ) -> Result<(Vec<AccountTail>, Vec<LossHistogram>)> {
        crate::engine::gpu::failpoint::hit("table")?;
        // The run layer makes the table from the book's own assets.
        assert_eq!(
            table.assets(),
            book.assets.len(),
            "a table for another book"
        );
        let rows = u32::try_from(table.len())
            .map_err(|_| Error::Gpu(format!("{} scenarios exceed 2^32 - 1", table.len())))?;
        let tail_len32 = u32::try_from(tail_len)
            .map_err(|_| Error::Gpu(format!("tail length {tail_len} is too large")))?;
        let ctx = self.context();
        let chunk = self
            .chunk_paths(book, chunk_paths)?
            .min(u64::from(rows).max(1)) as u32;
        let stages = Stages::new(ctx, book, u64::from(chunk), false)?;
        let accounts = book.accounts.len() as u32;
        let tail = TailStage::new(ctx, accounts, tail_len32, &stages.chunk.loss)?;
        let mut tails: Vec<TailBuffer> = (0..book.accounts.len())
            .map(|_| TailBuffer::new(tail_len))
            .collect();
        let distribution =
            counting.then(|| DistributionStage::new(ctx, accounts, &stages.chunk.loss));
        let mut histograms = vec![LossHistogram::new(); book.accounts.len()];
        let mut start = 0u32;
        while start < rows {
            let count = chunk.min(rows - start);
            let states = asset_major(table, start as usize, count as usize);
            ctx.queue
                .write_buffer(&stages.chunk.states, 0, cast_slice(&states));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            stages.encode_losses(ctx, &mut encoder, count)?;
            ctx.queue.submit([encoder.finish()]);
            if let Some(d) = &distribution {
                d.run(ctx, count, &mut histograms)?;
            }
            if tail_len > 0 {
                tail.run(ctx, start, count, &mut tails)?;
            } else {
                ctx.wait()?;
            }
            start += count;
        }
        let tails = tails.into_iter().map(TailBuffer::finish).collect();
        Ok((tails, histograms))
    }
}

/// Rows `first .. first + count` as the chunk's states buffer holds them: asset-major
/// `(ln S_h/S₀, ln Y)` f32 pairs, `states[asset * count + i]`.
fn asset_major(table: &ScenarioTable, first: usize, count: usize) -> Vec<[f32; 2]> {
    let assets = table.assets();
    let mut out = vec![[0f32; 2]; assets * count];
    for i in 0..count {
        for (a, s) in table.row(first + i).iter().enumerate() {
            out[a * count + i] = [s.log_return as f32, s.log_vol as f32];
        }
    }
    out
}
