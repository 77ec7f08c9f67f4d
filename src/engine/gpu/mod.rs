//! The wgpu backend: the four stages as WGSL compute shaders (`shaders/*.wgsl`), in f32.
//!
//! Paths are streamed in chunks sized from the adapter's limits ([`stages::chunk_paths`]):
//! per chunk, `scenario` → `revalue` → `aggregate` run back to back on the device in one
//! submission (fused into `revalue_accumulate` → `finish` when each instrument is held
//! about once, [`stages::BookBuffers::fused`]; stage timing on request,
//! [`GpuBackend::set_profiling`]), then `tail` selects each account's largest losses by
//! radix select and reads back only those (O(accounts × tail_len) per chunk; after the first chunks, only losses that beat the
//! running tail are even considered). The host merges chunk tails with
//! [`crate::engine::TailEntry::worse_first`] as the CPU backend does, and every path's
//! arithmetic is independent of its chunk, so results are bit-identical for any chunk size.
//!
//! # Precision (f32)
//!
//! The draws are exact: Philox words are bit-identical to [`crate::rng`], Poisson jump counts
//! are decided on the integer word against thresholds made from the CPU's f64 CDF, and
//! normals differ from the f64 ones by < 1e-6 (measured 5e-7; own `ln`/`sin`/`cos` with
//! integer angle reduction, so no device's loose built-ins enter). The elementary functions
//! of `shaders/shared/math.wgsl` are within 1.4e-7 relative, Φ within 2e-7 absolute and
//! 5e-7 relative in the lower tail (`tests/gpu_equivalence.rs` measures them).
//!
//! Where f32 loses accuracy, and what the design does about it:
//! - Long horizons and many steps: the log return is a sum of `steps` f32 terms, error
//!   ~ steps × 6e-8 × |term|; states are log quantities (ln S_h/S₀, ln Y), never prices.
//! - Delta-one P&L is formed as scale·expm1(r) + offset with constants folded in f64 on the
//!   host: relative accuracy of the P&L itself, exact zero when nothing moves, instead of
//!   S_h − S₀ (which loses ~7 digits to cancellation at one-day moves).
//! - Options: P&L = m·V₁ − V₀ with V₀ from the book (f64, rounded once). V₁ prices the
//!   out-of-the-money side by formula and the in-the-money side by parity, so the absolute
//!   error is ~1e-7 × (F + K) per unit; deep out-of-the-money options keep an absolute (not
//!   relative) error of that size, so a value far below 1e-7·F is noise in f32.
//! - Hedged books (large gross, small net): each holding's P&L carries the pricing error
//!   above, so the account loss has an absolute error ~1e-7 × gross, not × net (measured:
//!   6e-8 × gross on an 80-option book whose net is a tenth of its gross). The sum over
//!   holdings adds nothing: it is exact, in 64-bit fixed point with a quantum of 2⁻⁴² × the
//!   account's gross exposure (Kahan's compensation is not used: shader compilers may
//!   simplify it away, and on lavapipe it made no bit of difference). Tolerances are
//!   therefore stated relative to gross exposure.
//! - Coin-margined accounts use −P·e^{−r}/S₀ − (V₀/S₀)·expm1(−r), with no cancellation.
//! - Tails compare f32 losses: two paths whose f64 losses differ by less than the f32 error
//!   may swap places, so GPU and CPU tails agree on path indices except at near-ties, and
//!   VaR/ES agree to the loss precision above (sample book, 200 000 paths: same tail paths,
//!   VaR and ES within 1e-5 relative).
//!
//! Measured on lavapipe against the CPU: horizon states within 1.3e-7 (absolute, log
//! units), instrument P&L within 3.5e-7 × notional, account losses within 1.3e-7 × gross.
//!
//! Limits: at most [`stages::MAX_ASSETS`] simulated assets (private arrays of the scenario
//! shader) and [`types::MAX_KNOTS`] smile knots per surface (the revalue rows' arrays); more
//! is `Error::BackendUnavailable`. At most 2³² − 1 paths.

pub mod context;
pub mod shaders;
pub mod stages;
pub mod types;

pub use context::{AdapterChoice, AdapterReport, GpuContext, list_adapters};

use crate::book::Book;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::engine::{
    AccountTail, AssetState, Backend, BackendInfo, BackendKind, PathRevaluation, Precision,
    SimulationPlan, StageSeconds, StressScenario, VolRule,
};
use crate::error::{Error, Result};
use crate::model::tail::TailBuffer;
use stages::{BookBuffers, ChunkBuffers, PathSource, TailBuffers};

/// The wgpu backend.
#[derive(Debug)]
pub struct GpuBackend {
    ctx: GpuContext,
    /// Stage timing mode (see [`GpuBackend::set_profiling`]).
    profiling: AtomicBool,
    /// Stage seconds of the last profiled [`Backend::tails`] call.
    last_stages: Mutex<Option<StageSeconds>>,
}

impl GpuBackend {
    /// The best adapter allowed by `choice`; `Error::BackendUnavailable` when there is none.
    pub fn new(choice: AdapterChoice) -> Result<Self> {
        Ok(Self::from_context(GpuContext::new(choice)?))
    }

    /// A hardware GPU (`--backend auto`); lavapipe and other CPU adapters do not count.
    pub fn hardware() -> Result<Self> {
        Self::new(AdapterChoice::Hardware)
    }

    /// Any adapter, lavapipe included (`--backend gpu`).
    pub fn any() -> Result<Self> {
        Self::new(AdapterChoice::Any)
    }

    /// Wraps a context built elsewhere (e.g. from a device a test opened).
    pub fn from_context(ctx: GpuContext) -> Self {
        Self {
            ctx,
            profiling: AtomicBool::new(false),
            last_stages: Mutex::new(None),
        }
    }

    /// Stage timing mode for [`Backend::tails`] (off by default). When on, each chunk's
    /// stages are submitted one at a time and the host waits for each, so that
    /// [`Backend::stage_seconds`] can report wall seconds per stage; the results are the
    /// same bits, only slower by the lost overlap and the per-stage waits. When off, a chunk's
    /// scenario, revalue and aggregate go to the device in one submission and the host first
    /// waits at the tail's readback, and `stage_seconds` returns `None`.
    pub fn set_profiling(&self, on: bool) {
        self.profiling.store(on, Ordering::Relaxed);
    }

    /// [`GpuBackend::set_profiling`] in builder form.
    pub fn with_profiling(self, on: bool) -> Self {
        self.set_profiling(on);
        self
    }

    /// Encodes with `encode`, submits, waits: the wall seconds of that work alone.
    fn timed(&self, encode: impl FnOnce(&mut wgpu::CommandEncoder) -> Result<()>) -> Result<f64> {
        let start = Instant::now();
        let mut encoder = self.ctx.device.create_command_encoder(&Default::default());
        encode(&mut encoder)?;
        self.ctx.queue.submit([encoder.finish()]);
        self.ctx.wait()?;
        Ok(start.elapsed().as_secs_f64())
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// Normals 4·block … 4·block+3 of `(path, step)` for the given paths and blocks `0..blocks`,
    /// in f32 (paths × blocks): the GPU twin of [`crate::rng::DrawSource::normal_block`].
    pub fn normal_blocks(
        &self,
        seed: u64,
        paths: &[u32],
        step: u32,
        blocks: u32,
    ) -> Result<Vec<[f32; 4]>> {
        stages::run_draws(&self.ctx, seed, paths, step, blocks, 0, true)
    }

    /// Paths per chunk this backend would use for `book` (`requested` is cut to the limits).
    pub fn chunk_paths(&self, book: &Book, requested: Option<u32>) -> Result<u64> {
        let buffers = BookBuffers::new(&self.ctx, book)?;
        Ok(stages::chunk_paths(&self.ctx, &buffers, requested))
    }

    /// Regenerates `paths` chunk by chunk: the scenario stage on each chunk's path list,
    /// `encode` for the later stages, one submission, then `collect(buffers, first, count)`
    /// reads the chunk's results back (`first` = the chunk's offset in `paths`).
    fn regenerate(
        &self,
        book_buffers: &BookBuffers,
        seed: u64,
        paths: &[u32],
        mut encode: impl FnMut(&mut wgpu::CommandEncoder, &ChunkBuffers, u32) -> Result<()>,
        mut collect: impl FnMut(&ChunkBuffers, usize, usize) -> Result<()>,
    ) -> Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let ctx = &self.ctx;
        let chunk = stages::chunk_paths(ctx, book_buffers, None).min(paths.len() as u64);
        let chunk_buffers = ChunkBuffers::new(ctx, book_buffers, chunk, true);
        for (c, list) in paths.chunks(chunk as usize).enumerate() {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            stages::encode_scenario(
                ctx,
                &mut encoder,
                book_buffers,
                &chunk_buffers,
                seed,
                PathSource::List(list),
            )?;
            encode(&mut encoder, &chunk_buffers, list.len() as u32)?;
            ctx.queue.submit([encoder.finish()]);
            collect(&chunk_buffers, c * chunk as usize, list.len())?;
        }
        Ok(())
    }

    /// Test probe of the shared f32 math: per x, (Φ(x), ln|x|, eˣ, eˣ − 1) as the shaders
    /// compute them. Compiles its pipeline on each call; not used by the pipeline.
    pub fn probe_math(&self, xs: &[f32]) -> Result<Vec<[f32; 4]>> {
        stages::run_probe(&self.ctx, xs)
    }
}

impl Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            backend: BackendKind::Gpu,
            device: self.ctx.info.name.clone(),
            precision: Precision::F32,
        }
    }

    /// Seconds per stage of the last [`Backend::tails`] call made with profiling on
    /// ([`GpuBackend::set_profiling`]); `None` otherwise. Measured on the host around
    /// submissions that are each waited for (lavapipe runs them on the CPU, so host wall time
    /// is device time; timestamp queries are not required of the adapter):
    /// `scenario` the scenario stage; `revalue` the revalue stage (fused books: revalue and
    /// the holdings' fixed-point sums); `aggregate` the aggregate stage (fused books: the
    /// sums into losses); `tail` the radix select, until its selected entries are ready;
    /// `transfer` the book's upload and the copies of the selected tail entries to the host.
    fn set_stage_timing(&self, on: bool) {
        self.set_profiling(on);
    }

    fn stage_seconds(&self) -> Option<StageSeconds> {
        *self.last_stages.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<AccountTail>> {
        if plan.paths > u64::from(u32::MAX) {
            return Err(Error::Gpu(format!(
                "{} paths exceed the 2^32 - 1 a Philox counter word can name",
                plan.paths
            )));
        }
        let ctx = &self.ctx;
        let profiling = self.profiling.load(Ordering::Relaxed);
        let mut seconds = StageSeconds::default();
        let upload = Instant::now();
        let book_buffers = BookBuffers::new(ctx, book)?;
        let chunk =
            stages::chunk_paths(ctx, &book_buffers, plan.chunk_paths).min(plan.paths.max(1));
        let chunk_buffers = ChunkBuffers::new(ctx, &book_buffers, chunk, false);
        let tail_len = u32::try_from(plan.tail_len)
            .map_err(|_| Error::Gpu(format!("tail length {} is too large", plan.tail_len)))?;
        let tail_buffers = TailBuffers::new(ctx, book_buffers.accounts, tail_len)?;
        if profiling {
            ctx.wait()?;
            seconds.transfer += upload.elapsed().as_secs_f64();
        }
        let mut tails: Vec<TailBuffer> = (0..book.accounts.len())
            .map(|_| TailBuffer::new(plan.tail_len))
            .collect();
        let mut start = 0u64;
        while start < plan.paths {
            let count = chunk.min(plan.paths - start) as u32;
            let base = start as u32;
            let source = PathSource::Range { base, count };
            let (b, c) = (&book_buffers, &chunk_buffers);
            if profiling {
                // One submission per stage, each waited for: host wall time per stage.
                seconds.scenario += self.timed(|e| {
                    stages::encode_scenario(ctx, e, b, c, plan.seed, source).map(|_| ())
                })?;
                if b.fused {
                    seconds.revalue +=
                        self.timed(|e| stages::encode_accumulate(ctx, e, b, c, count))?;
                    seconds.aggregate +=
                        self.timed(|e| stages::encode_finish(ctx, e, b, c, count))?;
                } else {
                    seconds.revalue +=
                        self.timed(|e| stages::encode_revalue(ctx, e, b, c, count, false))?;
                    seconds.aggregate +=
                        self.timed(|e| stages::encode_aggregate(ctx, e, b, c, count))?;
                }
            } else {
                // The whole chunk in one submission: no host wait until the tail's readback.
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                stages::encode_scenario(ctx, &mut encoder, b, c, plan.seed, source)?;
                stages::encode_losses(ctx, &mut encoder, b, c, count)?;
                ctx.queue.submit([encoder.finish()]);
            }
            let tail_start = Instant::now();
            if plan.tail_len > 0 {
                let readback = stages::run_tail(ctx, b, c, &tail_buffers, base, count, &mut tails)?;
                seconds.transfer += readback;
                seconds.tail += tail_start.elapsed().as_secs_f64() - readback;
            } else {
                ctx.wait()?;
                seconds.tail += tail_start.elapsed().as_secs_f64();
            }
            start += u64::from(count);
            progress(start);
        }
        *self.last_stages.lock().unwrap_or_else(|p| p.into_inner()) = profiling.then_some(seconds);
        Ok(tails.into_iter().map(TailBuffer::finish).collect())
    }

    fn revalue_paths(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<PathRevaluation> {
        let ctx = &self.ctx;
        let book_buffers = BookBuffers::new(ctx, book)?;
        let (a, n) = (book.assets.len(), book.instruments.len());
        let mut out = PathRevaluation {
            states: vec![AssetState::default(); paths.len() * a],
            pnl: vec![0.0; paths.len() * n],
        };
        self.regenerate(
            &book_buffers,
            seed,
            paths,
            |encoder, chunk, count| {
                stages::encode_revalue(ctx, encoder, &book_buffers, chunk, count, false)
            },
            |chunk, first, count| {
                let states: Vec<[f32; 2]> =
                    stages::read_back(ctx, &chunk.states, (8 * a * count) as u64)?;
                let pnl: Vec<f32> = stages::read_back(ctx, &chunk.pnl, (4 * n * count) as u64)?;
                for i in 0..count {
                    for asset in 0..a {
                        let [log_return, log_vol] = states[asset * count + i];
                        out.states[(first + i) * a + asset] = AssetState {
                            log_return: f64::from(log_return),
                            log_vol: f64::from(log_vol),
                        };
                    }
                    for inst in 0..n {
                        out.pnl[(first + i) * n + inst] = f64::from(pnl[inst * count + i]);
                    }
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Scenario, revalue and the GPU's own aggregate stage (fused or factored, as `tails`
    /// runs them) on regenerated paths.
    fn path_losses(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<Vec<f64>> {
        let ctx = &self.ctx;
        let book_buffers = BookBuffers::new(ctx, book)?;
        let accounts = book.accounts.len();
        let mut out = vec![0.0; paths.len() * accounts];
        if accounts == 0 {
            return Ok(out);
        }
        self.regenerate(
            &book_buffers,
            seed,
            paths,
            |encoder, chunk, count| {
                stages::encode_losses(ctx, encoder, &book_buffers, chunk, count)
            },
            |chunk, first, count| {
                let loss: Vec<f32> =
                    stages::read_back(ctx, &chunk.loss, (4 * accounts * count) as u64)?;
                for i in 0..count {
                    for a in 0..accounts {
                        out[(first + i) * accounts + a] = f64::from(loss[a * count + i]);
                    }
                }
                Ok(())
            },
        )?;
        Ok(out)
    }

    fn revalue_scenarios(&self, book: &Book, scenarios: &[StressScenario]) -> Result<Vec<f64>> {
        let ctx = &self.ctx;
        let book_buffers = BookBuffers::new(ctx, book)?;
        let (a, n) = (book.assets.len(), book.instruments.len());
        let mut out = vec![0.0; scenarios.len() * n];
        if scenarios.is_empty() || n == 0 {
            return Ok(out);
        }
        let chunk = stages::chunk_paths(ctx, &book_buffers, None).min(scenarios.len() as u64);
        let chunk_buffers = ChunkBuffers::new(ctx, &book_buffers, chunk, true);
        for (c, part) in scenarios.chunks(chunk as usize).enumerate() {
            let count = part.len();
            let mut states = vec![[0f32; 2]; a * count];
            let mut rules = vec![0u32; count];
            for (i, s) in part.iter().enumerate() {
                if s.states.len() != a {
                    return Err(Error::Gpu(format!(
                        "a stress scenario has {} asset states for {a} assets",
                        s.states.len()
                    )));
                }
                for (asset, st) in s.states.iter().enumerate() {
                    states[asset * count + i] = [st.log_return as f32, st.log_vol as f32];
                }
                let only = s.only_asset.map_or(0, |x| x as u32 + 1);
                rules[i] = (only << 8) | u32::from(s.vol_rule == VolRule::Uniform);
            }
            ctx.queue
                .write_buffer(&chunk_buffers.states, 0, bytemuck::cast_slice(&states));
            ctx.queue.write_buffer(
                &chunk_buffers.scenario_rules,
                0,
                bytemuck::cast_slice(&rules),
            );
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            stages::encode_revalue(
                ctx,
                &mut encoder,
                &book_buffers,
                &chunk_buffers,
                count as u32,
                true,
            )?;
            ctx.queue.submit([encoder.finish()]);
            let pnl: Vec<f32> = stages::read_back(ctx, &chunk_buffers.pnl, (4 * n * count) as u64)?;
            let first = c * chunk as usize;
            for i in 0..count {
                for inst in 0..n {
                    out[(first + i) * n + inst] = f64::from(pnl[inst * count + i]);
                }
            }
        }
        Ok(out)
    }

    fn philox_words(
        &self,
        seed: u64,
        paths: &[u32],
        step: u32,
        blocks: u32,
        stream: u32,
    ) -> Result<Vec<[u32; 4]>> {
        stages::run_draws(&self.ctx, seed, paths, step, blocks, stream, false)
    }
}
