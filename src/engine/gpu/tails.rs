//! The Monte Carlo tail pass on this device: per chunk, scenario → revalue → aggregate, then
//! (when counting) the loss histogram and the tail select over the chunk's losses. Without
//! stage timing or counting, double-buffered: the next chunk's stages are submitted behind
//! this chunk's tail selection and run while the host reads the tail back.

use std::time::Instant;

use super::GpuBackend;
use super::buffers::storage;
use super::stage::{DistributionStage, PathSource, Stages, TailStage};
use crate::book::Book;
use crate::engine::{SimulationPlan, StageSeconds, StageTiming, TailsRun};
use crate::error::{Error, Result};
use crate::model::distribution::LossHistogram;
use crate::model::tail::TailBuffer;

impl GpuBackend {
    /// The Monte Carlo tail pass (see [`crate::engine::Backend::run_tails`]); `counting`: with each
    /// account's loss histogram counted on the device (empty histograms otherwise).
    pub(super) fn monte_carlo(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        timing: StageTiming,
        counting: bool,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(TailsRun, Vec<LossHistogram>)> {
        if plan.first_path + plan.paths > u64::from(u32::MAX) {
            return Err(Error::Gpu(format!(
                "paths up to {} exceed the 2^32 - 1 a Philox counter word can name",
                plan.first_path + plan.paths
            )));
        }
        let ctx = &self.ctx;
        let profiling = timing == StageTiming::Always;
        let mut seconds = StageSeconds::default();
        let upload = Instant::now();
        let chunk = self
            .chunk_paths(book, plan.chunk_paths)?
            .min(plan.paths.max(1));
        let stages = Stages::new(ctx, book, chunk, false)?;
        let tail_len = u32::try_from(plan.tail_len)
            .map_err(|_| Error::Gpu(format!("tail length {} is too large", plan.tail_len)))?;
        let accounts = book.accounts.len() as u32;
        // Double buffering (not while timing stages, nor counting, which reads the losses
        // in between): the tail selects from its own copy of each chunk's losses, so the
        // next chunk's stages can write theirs while this chunk's tail is read back.
        let overlap = !profiling && !counting && plan.tail_len > 0;
        let own_losses = overlap.then(|| storage(ctx, "tail losses", stages.chunk.loss.size()));
        let tail_losses = own_losses.as_ref().unwrap_or(&stages.chunk.loss);
        let tail = TailStage::new(ctx, accounts, tail_len, tail_losses)?;
        if overlap && tail.can_overlap() {
            let mut tails: Vec<TailBuffer> = (0..book.accounts.len())
                .map(|_| TailBuffer::new(plan.tail_len))
                .collect();
            self.double_buffered(&stages, &tail, plan, chunk, &mut tails, progress)?;
            let run = TailsRun {
                tails: tails.into_iter().map(TailBuffer::finish).collect(),
                stage_seconds: None,
            };
            return Ok((run, vec![LossHistogram::new(); book.accounts.len()]));
        }
        if profiling {
            ctx.wait()?;
            seconds.transfer += upload.elapsed().as_secs_f64();
        }
        let mut tails: Vec<TailBuffer> = (0..book.accounts.len())
            .map(|_| TailBuffer::new(plan.tail_len))
            .collect();
        let distribution =
            counting.then(|| DistributionStage::new(ctx, accounts, &stages.chunk.loss));
        let mut histograms = vec![LossHistogram::new(); book.accounts.len()];
        let mut start = 0u64;
        while start < plan.paths {
            let count = chunk.min(plan.paths - start) as u32;
            // The global index of the chunk's first path: the shaders' counter word and the
            // tail entries' path are `base + i`.
            let base = (plan.first_path + start) as u32;
            let source = PathSource::Range { base, count };
            let timing = profiling.then_some(&mut seconds);
            self.losses_of_chunk(&stages, plan.seed, source, count, timing)?;
            let tail_start = Instant::now();
            if let Some(d) = &distribution {
                d.run(ctx, count, &mut histograms)?;
            }
            if plan.tail_len > 0 {
                let readback = tail.run(ctx, base, count, &mut tails)?;
                seconds.transfer += readback;
                seconds.tail += tail_start.elapsed().as_secs_f64() - readback;
            } else {
                ctx.wait()?;
                seconds.tail += tail_start.elapsed().as_secs_f64();
            }
            start += u64::from(count);
            progress(start);
        }
        let run = TailsRun {
            tails: tails.into_iter().map(TailBuffer::finish).collect(),
            stage_seconds: profiling.then_some(seconds),
        };
        Ok((run, histograms))
    }

    /// The chunk loop with chunk c + 1's scenario, revalue and aggregate submitted right
    /// behind chunk c's tail selection ([`TailStage::run_overlapped`]): the device works
    /// on the next chunk while the host waits for, reads and merges this one's tail.
    fn double_buffered(
        &self,
        stages: &Stages,
        tail: &TailStage,
        plan: &SimulationPlan,
        chunk: u64,
        tails: &mut [TailBuffer],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<()> {
        let chunks: Vec<(u32, u32)> = (0..plan.paths)
            .step_by(chunk as usize)
            .map(|start| {
                let count = chunk.min(plan.paths - start) as u32;
                ((plan.first_path + start) as u32, count)
            })
            .collect();
        let submit = |&(base, count): &(u32, u32)| {
            let source = PathSource::Range { base, count };
            self.losses_of_chunk(stages, plan.seed, source, count, None)
        };
        if let Some(first) = chunks.first() {
            submit(first)?;
        }
        let staging = tail.staging(&self.ctx);
        let mut done = 0u64;
        for (c, &(base, count)) in chunks.iter().enumerate() {
            let next = || chunks.get(c + 1).map_or(Ok(()), submit);
            let losses = &stages.chunk.loss;
            tail.run_overlapped(&self.ctx, &staging, losses, base, count, tails, next)?;
            done += u64::from(count);
            progress(done);
        }
        Ok(())
    }
}
