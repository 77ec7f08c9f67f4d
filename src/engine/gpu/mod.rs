//! The wgpu backend: the four stages as WGSL compute shaders (`shaders/*.wgsl`), in f32.
//!
//! The host side is one module per stage under [`stage`] (stage = file = shader), each
//! owning its pipelines, tables, parameters and bind groups, made once per run and reused for
//! every chunk; [`buffers`] holds the buffer and dispatch helpers, and [`constants`] every
//! constant the host and the shaders share (the shaders get them by `#import constants`).
//!
//! Paths are streamed in chunks sized from the adapter's limits ([`stage::chunk_paths`]):
//! per chunk, `scenario` → `revalue` → `aggregate` run back to back on the device in one
//! submission (fused into `revalue_accumulate` → `finish` when each instrument is held
//! about once, [`stage::RevalueBook::fused`]; stage timing on request,
//! [`StageTiming::Always`]), then `tail` selects each account's largest losses by
//! radix select and reads back only those (O(accounts × tail_len) per chunk; after the first
//! chunks, only losses that beat the running tail are even considered). The host merges chunk tails with
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
//! Limits: at most [`constants::MAX_ASSETS`] simulated assets (private arrays of the scenario
//! shader) and [`constants::MAX_KNOTS`] smile knots per surface (the revalue rows' arrays); more
//! is `Error::BackendUnavailable`. At most 2³² − 1 paths.

pub mod buffers;
pub mod constants;
pub mod context;
pub mod failpoint;
pub mod shaders;
pub mod stage;
mod table;
mod tails;
pub mod types;

pub use context::{AdapterChoice, AdapterReport, GpuContext, list_adapters};

use std::time::Instant;

use crate::book::Book;
use crate::engine::{
    AccountTail, AssetState, Backend, BackendInfo, BackendKind, CountedTails, PathRevaluation,
    Precision, SimulationPlan, StageSeconds, StageTiming, StressScenario, TailsRun, VolRule,
};
use crate::error::{Error, Result};
use crate::model::historical::ScenarioTable;
use crate::model::tail::TailBuffer;
use buffers::{read_back, storage};
use stage::{PathSource, RevalueBook, ScenarioStage, Stages, TailStage};

/// The wgpu backend.
#[derive(Debug)]
pub struct GpuBackend {
    ctx: GpuContext,
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
        Self { ctx }
    }

    pub fn context(&self) -> &GpuContext {
        &self.ctx
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

    /// Normals 4·block … 4·block+3 of `(path, step)` for the given paths and blocks `0..blocks`,
    /// in f32 (paths × blocks): the GPU twin of [`crate::rng::DrawSource::normal_block`].
    pub fn normal_blocks(
        &self,
        seed: u64,
        paths: &[u32],
        step: u32,
        blocks: u32,
    ) -> Result<Vec<[f32; 4]>> {
        stage::draws::run(&self.ctx, seed, paths, step, blocks, 0, true)
    }

    /// `Error::BackendUnavailable` when the book exceeds a stage's limits.
    fn check(book: &Book) -> Result<()> {
        ScenarioStage::check(book)?;
        RevalueBook::check(book).map(|_| ())
    }

    /// Paths per chunk this backend would use for `book` (`requested` is cut to the limits).
    pub fn chunk_paths(&self, book: &Book, requested: Option<u32>) -> Result<u64> {
        Self::check(book)?;
        Ok(stage::chunk_paths(&self.ctx, book, requested))
    }

    /// Regenerates `paths` chunk by chunk: the scenario stage on each chunk's path list,
    /// `encode` for the later stages, one submission, then `collect(stages, first, count)`
    /// reads the chunk's results back (`first` = the chunk's offset in `paths`).
    fn regenerate(
        &self,
        book: &Book,
        seed: u64,
        paths: &[u32],
        mut encode: impl FnMut(&Stages, &mut wgpu::CommandEncoder, u32) -> Result<()>,
        mut collect: impl FnMut(&Stages, usize, usize) -> Result<()>,
    ) -> Result<()> {
        // Component ES and the path revaluations regenerate paths here.
        failpoint::hit("component")?;
        Self::check(book)?;
        if paths.is_empty() {
            return Ok(());
        }
        let ctx = &self.ctx;
        let chunk = stage::chunk_paths(ctx, book, None).min(paths.len() as u64);
        let stages = Stages::new(ctx, book, chunk, true)?;
        for (c, list) in paths.chunks(chunk as usize).enumerate() {
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            let count = stages
                .scenario
                .encode(ctx, &mut encoder, seed, PathSource::List(list))?;
            encode(&stages, &mut encoder, count)?;
            ctx.queue.submit([encoder.finish()]);
            collect(&stages, c * chunk as usize, list.len())?;
        }
        Ok(())
    }

    /// Test probe of the shared f32 math: per x, (Φ(x), ln|x|, eˣ, eˣ − 1) as the shaders
    /// compute them. Compiles its pipeline on each call; not used by the pipeline.
    pub fn probe_math(&self, xs: &[f32]) -> Result<Vec<[f32; 4]>> {
        stage::probe::run(&self.ctx, xs)
    }

    /// Test support: the tail stage alone on given losses, `losses[account * paths + path]`
    /// (`accounts` rows of paths `0..paths`), fed to it in chunks of `chunk` paths as
    /// [`Backend::tails`] feeds it; each account's `tail_len` largest losses.
    pub fn tail_of_losses(
        &self,
        losses: &[f32],
        accounts: usize,
        tail_len: usize,
        chunk: u32,
    ) -> Result<Vec<AccountTail>> {
        let ctx = &self.ctx;
        let paths = losses.len().checked_div(accounts).unwrap_or(0);
        if paths * accounts != losses.len() || chunk == 0 {
            return Err(Error::Gpu(format!(
                "{} losses are not {accounts} rows, or chunks of {chunk} are empty",
                losses.len()
            )));
        }
        let chunk = chunk.min(paths.max(1) as u32) as usize;
        let loss = storage(ctx, "loss", 4 * (accounts * chunk) as u64);
        let tail_len32 = u32::try_from(tail_len)
            .map_err(|_| Error::Gpu(format!("tail length {tail_len} is too large")))?;
        let stage = TailStage::new(ctx, accounts as u32, tail_len32, &loss)?;
        let mut tails: Vec<TailBuffer> = (0..accounts).map(|_| TailBuffer::new(tail_len)).collect();
        for base in (0..paths).step_by(chunk) {
            let count = chunk.min(paths - base);
            let part: Vec<f32> = (0..accounts)
                .flat_map(|a| &losses[a * paths + base..a * paths + base + count])
                .copied()
                .collect();
            ctx.queue
                .write_buffer(&loss, 0, bytemuck::cast_slice(&part));
            stage.run(ctx, base as u32, count as u32, &mut tails)?;
        }
        Ok(tails.into_iter().map(TailBuffer::finish).collect())
    }

    /// Encodes and submits scenario, revalue and aggregate of one chunk: in one submission,
    /// or, with `timing`, one submission per stage, each waited for and its wall seconds
    /// added there.
    fn losses_of_chunk(
        &self,
        stages: &Stages,
        seed: u64,
        source: PathSource,
        count: u32,
        timing: Option<&mut StageSeconds>,
    ) -> Result<()> {
        let ctx = &self.ctx;
        let Some(seconds) = timing else {
            // The whole chunk in one submission: no host wait until the tail's readback.
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            stages.scenario.encode(ctx, &mut encoder, seed, source)?;
            stages.encode_losses(ctx, &mut encoder, count)?;
            ctx.queue.submit([encoder.finish()]);
            return Ok(());
        };
        seconds.scenario +=
            self.timed(|e| stages.scenario.encode(ctx, e, seed, source).map(|_| ()))?;
        seconds.revalue += self.timed(|e| stages.encode_revalue_half(ctx, e, count))?;
        seconds.aggregate += self.timed(|e| stages.encode_aggregate_half(ctx, e, count))?;
        Ok(())
    }
}

/// A stress chunk's states (asset-major) and scenario rules, as `revalue.wgsl` reads them.
fn pack_scenarios(part: &[StressScenario], assets: usize) -> Result<(Vec<[f32; 2]>, Vec<u32>)> {
    let count = part.len();
    let mut states = vec![[0f32; 2]; assets * count];
    let mut rules = vec![0u32; count];
    for (i, s) in part.iter().enumerate() {
        if s.states.len() != assets {
            return Err(Error::Gpu(format!(
                "a stress scenario has {} asset states for {assets} assets",
                s.states.len()
            )));
        }
        for (asset, st) in s.states.iter().enumerate() {
            states[asset * count + i] = [st.log_return as f32, st.log_vol as f32];
        }
        let only = s.only_asset.map_or(0, |x| x as u32 + 1);
        let uniform = if s.vol_rule == VolRule::Uniform {
            constants::RULE_UNIFORM_VOL
        } else {
            0
        };
        rules[i] = (only << constants::RULE_ONLY_SHIFT) | uniform;
    }
    Ok((states, rules))
}

impl Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            backend: BackendKind::Gpu,
            device: self.ctx.info.name.clone(),
            precision: Precision::F32,
        }
    }

    /// Stage seconds only with [`StageTiming::Always`]: each chunk's stages are then
    /// submitted one at a time and the host waits for each (the same bits, only slower by the
    /// lost overlap and the waits); otherwise a chunk's scenario, revalue and aggregate go to
    /// the device in one submission and the host first waits at the tail's readback.
    /// Measured on the host around submissions that are each waited for (lavapipe runs them
    /// on the CPU, so host wall time is device time; timestamp queries are not required of
    /// the adapter): `scenario` the scenario stage; `revalue` the revalue stage (fused books:
    /// revalue and the holdings' fixed-point sums); `aggregate` the aggregate stage (fused
    /// books: the sums into losses); `tail` the radix select, until its selected entries are
    /// ready; `transfer` the book's upload and the copies of the selected tail entries.
    fn run_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        timing: StageTiming,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<TailsRun> {
        Ok(self.monte_carlo(book, plan, timing, false, progress)?.0)
    }

    /// The histograms are counted on the device after each chunk's aggregate, from the same
    /// loss buffer the tail selects from (`distribution` in `tail.wgsl`).
    fn counted_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        table: Option<&ScenarioTable>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<CountedTails> {
        let (tails, histograms) = match table {
            None => {
                let (run, histograms) =
                    self.monte_carlo(book, plan, StageTiming::IfFree, true, progress)?;
                (run.tails, histograms)
            }
            Some(table) => {
                let counted =
                    self.tails_of_table(book, table, plan.tail_len, plan.chunk_paths, true)?;
                progress(table.len() as u64);
                counted
            }
        };
        Ok(CountedTails { tails, histograms })
    }

    fn table_tails(
        &self,
        book: &Book,
        table: &ScenarioTable,
        tail_len: usize,
        chunk_paths: Option<u32>,
    ) -> Result<Vec<AccountTail>> {
        Ok(self
            .tails_of_table(book, table, tail_len, chunk_paths, false)?
            .0)
    }

    fn revalue_paths(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<PathRevaluation> {
        let ctx = &self.ctx;
        let (a, n) = (book.assets.len(), book.instruments.len());
        let mut out = PathRevaluation {
            states: vec![AssetState::default(); paths.len() * a],
            pnl: vec![0.0; paths.len() * n],
        };
        self.regenerate(
            book,
            seed,
            paths,
            |stages, encoder, count| stages.revalue.encode_revalue(ctx, encoder, count, false),
            |stages, first, count| {
                let chunk = &stages.chunk;
                let states: Vec<[f32; 2]> = read_back(ctx, &chunk.states, (8 * a * count) as u64)?;
                let pnl: Vec<f32> = read_back(ctx, &chunk.pnl, (4 * n * count) as u64)?;
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
        let accounts = book.accounts.len();
        let mut out = vec![0.0; paths.len() * accounts];
        if accounts == 0 {
            return Self::check(book).map(|_| out);
        }
        self.regenerate(
            book,
            seed,
            paths,
            |stages, encoder, count| stages.encode_losses(ctx, encoder, count),
            |stages, first, count| {
                let loss: Vec<f32> =
                    read_back(ctx, &stages.chunk.loss, (4 * accounts * count) as u64)?;
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
        failpoint::hit("stress")?;
        let ctx = &self.ctx;
        Self::check(book)?;
        let (a, n) = (book.assets.len(), book.instruments.len());
        let mut out = vec![0.0; scenarios.len() * n];
        if scenarios.is_empty() || n == 0 {
            return Ok(out);
        }
        let chunk = stage::chunk_paths(ctx, book, None).min(scenarios.len() as u64);
        let stages = Stages::new(ctx, book, chunk, true)?;
        for (c, part) in scenarios.chunks(chunk as usize).enumerate() {
            let count = part.len();
            let (states, rules) = pack_scenarios(part, a)?;
            let buffers = &stages.chunk;
            ctx.queue
                .write_buffer(&buffers.states, 0, bytemuck::cast_slice(&states));
            ctx.queue
                .write_buffer(&buffers.scenario_rules, 0, bytemuck::cast_slice(&rules));
            let mut encoder = ctx.device.create_command_encoder(&Default::default());
            stages
                .revalue
                .encode_revalue(ctx, &mut encoder, count as u32, true)?;
            ctx.queue.submit([encoder.finish()]);
            let pnl: Vec<f32> = read_back(ctx, &buffers.pnl, (4 * n * count) as u64)?;
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
        stage::draws::run(&self.ctx, seed, paths, step, blocks, stream, false)
    }
}
