//! The CPU backend: the f64 reference of every stage, parallel with rayon, and the SIMD
//! kernels of the same model in f64 and f32 ([`fast`]).
//!
//! Paths are processed in blocks ([`BLOCK_PATHS`] for the reference, [`fast::LANES`] for the
//! fast mode); each block runs scenario → revalue → aggregate → tail for its paths, and
//! blocks merge their tails. Within a block the stages run one after the other over all its
//! paths (aggregate and tail over batches of [`ACCOUNT_BATCH`] accounts), so each stage's
//! time is measured per block ([`timing`], returned by [`Backend::run_tails`]). Every path's
//! arithmetic is independent of the block it lands in and the tail order is total, so results are bit-identical for any thread count and
//! chunk size (in the fast mode, on one machine: see [`fast::Isa`]).
//!
//! [`Precision::F64Reference`] ([`CpuBackend::new`]) is the reference every other result is
//! checked against. [`Precision::F64`] (the CLI's default) and [`Precision::F32`]
//! ([`CpuBackend::with_precision`]) run the Monte Carlo tails and the regeneration of tail
//! paths (component ES) in the SIMD kernels, in f64 or f32; explicit stress scenarios and
//! historical tables stay on the f64 reference in every mode (small work).

mod counted;
pub mod fast;
pub mod timing;

use rayon::prelude::*;

use crate::book::Book;
pub use crate::engine::Precision;

use crate::engine::{
    AccountTail, AssetState, Backend, BackendInfo, BackendKind, CountedTails, PathRevaluation,
    SimulationPlan, StageTiming, StressScenario, TailEntry, TailsRun, VolRule,
};
use crate::error::Result;
use crate::model::aggregate;
use crate::model::historical::ScenarioTable;
use crate::model::revalue::RevalueModel;
use crate::model::scenario::{ScenarioModel, Scratch};
use crate::model::tail::TailBuffer;
use crate::rng::{philox4x32_10, seed_key};
use counted::table_buffers;
use fast::{BlockScratch, FastPipeline, Isa, LANES, Real};
use timing::{Laps, StageTimes};

/// Paths one rayon task simulates before merging its tails.
pub const BLOCK_PATHS: u64 = 256;
/// Default paths per chunk (the progress granularity).
pub const DEFAULT_CHUNK_PATHS: u64 = 1 << 16;
/// Accounts whose losses over a block are aggregated before they go into their tails: 32
/// rows of 256 f64 losses (64 KiB) stay in L2, and the stage clock is read twice per batch.
pub const ACCOUNT_BATCH: usize = 32;

/// The native backend.
#[derive(Clone, Debug, Default)]
pub struct CpuBackend {
    precision: Precision,
    /// The instruction set of the SIMD kernels (unused by the reference).
    isa: Isa,
}

impl CpuBackend {
    /// The f64 reference.
    pub fn new() -> Self {
        Self::with_precision(Precision::F64Reference)
    }

    /// The reference (`F64Reference`) or the SIMD kernels (`F64`, `F32`) with the best
    /// instruction set of this CPU.
    pub fn with_precision(precision: Precision) -> Self {
        Self {
            precision,
            isa: Isa::detect(),
        }
    }

    /// The same backend with its fast kernels compiled for `isa` (the baseline when the CPU
    /// does not run `isa`): for benchmarks and tests of the dispatch.
    pub fn with_isa(mut self, isa: Isa) -> Self {
        self.isa = Isa::supported(isa);
        self
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }
}

/// The CPU's model name and the threads rayon uses.
fn cpu_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{model} ({} threads)", rayon::current_num_threads())
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        let device = match self.precision {
            Precision::F64Reference => cpu_description(),
            Precision::F64 => format!("{}, {} f64 kernels", cpu_description(), self.isa.name()),
            Precision::F32 => format!("{}, {} kernels", cpu_description(), self.isa.name()),
        };
        BackendInfo {
            backend: BackendKind::Cpu,
            device,
            precision: self.precision,
        }
    }

    /// Stage seconds always: timing is free here (see [`timing`]), whatever `timing` asks.
    fn run_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        _timing: StageTiming,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<TailsRun> {
        let (tails, times) = self.monte_carlo_tails(book, plan, false, progress);
        Ok(TailsRun {
            tails: tails.into_iter().map(TailBuffer::finish).collect(),
            stage_seconds: Some(times.seconds()),
        })
    }

    /// Every loss the tail pass sees is counted into its account's histogram on the way
    /// (the same buffers, so the tails are those of the plain calls).
    fn counted_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        table: Option<&ScenarioTable>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<CountedTails> {
        let buffers = match table {
            None => self.monte_carlo_tails(book, plan, true, progress).0,
            Some(table) => {
                let buffers = table_buffers(book, table, plan.tail_len, plan.chunk_paths, true);
                progress(table.len() as u64);
                buffers
            }
        };
        let (tails, histograms) = buffers
            .into_iter()
            .map(|b| {
                let (tail, histogram) = b.finish_counted();
                (tail, histogram.unwrap_or_default())
            })
            .unzip();
        Ok(CountedTails { tails, histograms })
    }

    /// Tables are small (one row per historical day): every precision runs them on the f64
    /// reference, as it does stress scenarios.
    fn table_tails(
        &self,
        book: &Book,
        table: &ScenarioTable,
        tail_len: usize,
        chunk_paths: Option<u32>,
    ) -> Result<Vec<AccountTail>> {
        let buffers = table_buffers(book, table, tail_len, chunk_paths, false);
        Ok(buffers.into_iter().map(TailBuffer::finish).collect())
    }

    fn revalue_paths(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<PathRevaluation> {
        match self.precision {
            Precision::F64 => return Ok(fast_revalue_paths::<f64>(book, seed, paths, self.isa)),
            Precision::F32 => return Ok(fast_revalue_paths::<f32>(book, seed, paths, self.isa)),
            Precision::F64Reference => {}
        }
        let scenarios = ScenarioModel::new(book, seed);
        let revalue = RevalueModel::new(book);
        let (a, n) = (book.assets.len(), book.instruments.len());
        let mut out = PathRevaluation {
            states: vec![AssetState::default(); paths.len() * a],
            pnl: vec![0.0; paths.len() * n],
        };
        out.states
            .par_chunks_mut(a.max(1))
            .zip(out.pnl.par_chunks_mut(n.max(1)))
            .zip(paths.par_iter())
            .for_each_init(Scratch::default, |scratch, ((states, pnl), &path)| {
                scenarios.simulate(path, scratch, states);
                if n > 0 {
                    revalue.revalue_into(states, VolRule::TenorScaled, pnl);
                }
            });
        Ok(out)
    }

    fn table_pnl_columns(
        &self,
        book: &Book,
        table: &ScenarioTable,
        instruments: &[usize],
    ) -> Result<Vec<Vec<f64>>> {
        let isa = self.isa;
        match self.precision {
            Precision::F64 => Ok(fast::table_pnl_columns::<f64>(
                book,
                table,
                instruments,
                isa,
            )),
            Precision::F32 => Ok(fast::table_pnl_columns::<f32>(
                book,
                table,
                instruments,
                isa,
            )),
            Precision::F64Reference => {
                Ok(RevalueModel::new(book).table_columns(table, instruments))
            }
        }
    }

    fn path_losses(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<Vec<f64>> {
        let revalued = self.revalue_paths(book, seed, paths)?;
        let (na, ni) = (book.assets.len(), book.instruments.len());
        Ok((0..paths.len())
            .flat_map(|p| {
                let states = &revalued.states[p * na..(p + 1) * na];
                let pnl = &revalued.pnl[p * ni..(p + 1) * ni];
                book.accounts
                    .iter()
                    .map(move |account| aggregate::account_loss(book, account, pnl, states))
            })
            .collect())
    }

    fn revalue_scenarios(&self, book: &Book, scenarios: &[StressScenario]) -> Result<Vec<f64>> {
        let revalue = RevalueModel::new(book);
        let n = book.instruments.len();
        let mut out = vec![0.0; scenarios.len() * n];
        for (s, row) in scenarios.iter().zip(out.chunks_mut(n.max(1))) {
            for (i, pnl) in row.iter_mut().enumerate().take(n) {
                let asset = revalue.rows[i].asset;
                *pnl = match s.only_asset {
                    Some(only) if only != asset => 0.0,
                    _ => revalue.pnl(i, &s.states, s.vol_rule),
                };
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
        let key = seed_key(seed);
        Ok(paths
            .iter()
            .flat_map(|&p| (0..blocks).map(move |b| philox4x32_10([p, step, b, stream], key)))
            .collect())
    }
}

/// The chunk size of a plan.
fn chunk_len(plan: &SimulationPlan) -> u64 {
    plan.chunk_paths
        .map(u64::from)
        .unwrap_or(DEFAULT_CHUNK_PATHS)
        .max(1)
}

/// Empty tails, one per account (`counting`: with histograms).
fn new_tails(book: &Book, plan: &SimulationPlan, counting: bool) -> Vec<TailBuffer> {
    (0..book.accounts.len())
        .map(|_| match counting {
            true => TailBuffer::counting(plan.tail_len),
            false => TailBuffer::new(plan.tail_len),
        })
        .collect()
}

/// Merges two workers' tails and times (the merge is tail work).
fn merge_tails(
    (mut a, ta): (Vec<TailBuffer>, StageTimes),
    (b, tb): (Vec<TailBuffer>, StageTimes),
) -> (Vec<TailBuffer>, StageTimes) {
    let mut laps = Laps::start();
    a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y));
    let mut times = ta.merged(tb);
    laps.lap(&mut times.tail);
    (a, times)
}

/// The chunk loop of both precisions: chunks of paths; within a chunk, blocks of `block`
/// paths spread over rayon's threads, each worker reusing its own scratch from
/// `new_scratch`; `run_block` runs every stage of one block into the worker's tails
/// (`counting`: tails that count every loss into a histogram).
fn chunked_tails<S: Send>(
    book: &Book,
    plan: &SimulationPlan,
    block: u64,
    counting: bool,
    progress: &(dyn Fn(u64) + Sync),
    new_scratch: impl Fn() -> S + Sync,
    run_block: impl Fn(std::ops::Range<u64>, &mut S, &mut [TailBuffer], &mut StageTimes) + Sync,
) -> (Vec<TailBuffer>, StageTimes) {
    let chunk = chunk_len(plan);
    let mut done = (new_tails(book, plan, counting), StageTimes::default());
    // Chunks cover the plan's range of global path indices (a shard's, or 0..P).
    let (first, stop) = (plan.first_path, plan.first_path + plan.paths);
    let mut start = first;
    while start < stop {
        let end = (start + chunk).min(stop);
        let blocks = (end - start).div_ceil(block);
        // About two workers' tails per thread and chunk: each worker's tails hold up to
        // 2·tail_len candidates per account, and merging them costs as much as filling
        // them, so a split per rayon task (dozens per chunk) would make the merges, not
        // the paths, the work of a many-account book. Any split gives the same tails.
        let per_worker = blocks.div_ceil(2 * rayon::current_num_threads() as u64);
        let chunk_tails = (0..blocks as usize)
            .into_par_iter()
            .with_min_len(per_worker.max(1) as usize)
            .fold(
                || {
                    (
                        new_tails(book, plan, counting),
                        StageTimes::default(),
                        None::<S>,
                    )
                },
                |(mut acc, mut times, scratch), b| {
                    let mut scratch = scratch.unwrap_or_else(&new_scratch);
                    let first = start + b as u64 * block;
                    let last = (first + block).min(end);
                    run_block(first..last, &mut scratch, &mut acc, &mut times);
                    (acc, times, Some(scratch))
                },
            )
            .map(|(acc, times, _)| (acc, times))
            .reduce(
                || (new_tails(book, plan, counting), StageTimes::default()),
                merge_tails,
            );
        done = merge_tails(done, chunk_tails);
        progress(end - first);
        start = end;
    }
    done
}

/// [`Backend::tails`] of the f64 reference: blocks of [`BLOCK_PATHS`], each worker with its
/// own [`BlockBuffers`].
fn reference_tails(
    book: &Book,
    plan: &SimulationPlan,
    counting: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> (Vec<TailBuffer>, StageTimes) {
    let scenarios = ScenarioModel::new(book, plan.seed);
    let revalue = RevalueModel::new(book);
    chunked_tails(
        book,
        plan,
        BLOCK_PATHS,
        counting,
        progress,
        || BlockBuffers::new(book),
        |range, buffers, tails, times| {
            let states = Scenarios::Model(&scenarios);
            simulate_block(book, &states, &revalue, range, buffers, tails, times)
        },
    )
}

/// [`Backend::tails`] in the SIMD kernels of lane type `T`: blocks of [`LANES`], each
/// worker with its own [`BlockScratch`].
fn fast_tails<T: Real>(
    book: &Book,
    plan: &SimulationPlan,
    isa: Isa,
    counting: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> (Vec<TailBuffer>, StageTimes) {
    let pipeline = FastPipeline::<T>::new(book, plan.seed, isa);
    chunked_tails(
        book,
        plan,
        LANES as u64,
        counting,
        progress,
        || {
            (
                BlockScratch::new(book, &pipeline.model),
                Vec::with_capacity(LANES),
            )
        },
        |range, (scratch, paths), tails, times| {
            paths.clear();
            paths.extend(range.map(|p| p as u32));
            pipeline.simulate_block(book, paths, scratch, tails, times);
        },
    )
}

/// [`Backend::revalue_paths`] in the SIMD kernels: the same kernels as [`fast_tails`], so
/// the P&L of a regenerated path is bit-identical to the one its tail loss was made from.
fn fast_revalue_paths<T: Real>(book: &Book, seed: u64, paths: &[u32], isa: Isa) -> PathRevaluation {
    let pipeline = FastPipeline::<T>::new(book, seed, isa);
    let (a, n) = (book.assets.len(), book.instruments.len());
    let mut out = PathRevaluation {
        states: vec![AssetState::default(); paths.len() * a],
        pnl: vec![0.0; paths.len() * n],
    };
    // Each block of LANES paths writes its own rows of the output (a book has an asset;
    // without instruments the P&L rows are empty, every block's chunk of them too).
    let pnl_chunks: Vec<&mut [f64]> = match n {
        0 => (0..paths.len().div_ceil(LANES))
            .map(|_| &mut [][..])
            .collect(),
        n => out.pnl.chunks_mut(LANES * n).collect(),
    };
    out.states
        .par_chunks_mut((LANES * a).max(1))
        .zip(pnl_chunks)
        .zip(paths.par_chunks(LANES))
        .for_each_init(
            || BlockScratch::new(book, &pipeline.model),
            |scratch, ((states, pnl), block)| {
                pipeline.revalue_block(block, scratch);
                states.copy_from_slice(&scratch.lanes.states[..block.len() * a]);
                for (lane, row) in pnl.chunks_mut(n.max(1)).enumerate() {
                    for (x, column) in row.iter_mut().zip(&scratch.pnl) {
                        *x = column[lane].to_f64();
                    }
                }
            },
        );
    out
}

/// Working memory of one worker of the reference: a block's states and P&L, and the loss
/// rows of a batch of accounts.
struct BlockBuffers {
    scratch: Scratch,
    /// `BLOCK_PATHS × assets`, path-major.
    states: Vec<AssetState>,
    /// `BLOCK_PATHS × instruments`, path-major.
    pnl: Vec<f64>,
    /// `ACCOUNT_BATCH × BLOCK_PATHS`, account-major.
    losses: Vec<f64>,
}

impl BlockBuffers {
    fn new(book: &Book) -> Self {
        let block = BLOCK_PATHS as usize;
        Self {
            scratch: Scratch::default(),
            states: vec![AssetState::default(); block * book.assets.len()],
            pnl: vec![0.0; block * book.instruments.len()],
            losses: vec![0.0; block * ACCOUNT_BATCH.min(book.accounts.len())],
        }
    }
}

/// Where a block's scenario states come from.
enum Scenarios<'a> {
    /// The scenario stage: Monte Carlo paths.
    Model(&'a ScenarioModel),
    /// Rows of an explicit table (historical scenarios).
    Table(&'a ScenarioTable),
}

/// Scenario → revalue → aggregate → tail for the paths `range` (at most [`BLOCK_PATHS`]),
/// each stage over the whole block and timed into `times`. A path's loss is the same
/// arithmetic on the same inputs as path by path, and its tail receives the paths in order.
fn simulate_block(
    book: &Book,
    scenarios: &Scenarios,
    revalue: &RevalueModel,
    range: std::ops::Range<u64>,
    buffers: &mut BlockBuffers,
    tails: &mut [TailBuffer],
    times: &mut StageTimes,
) {
    let (a, n) = (book.assets.len(), book.instruments.len());
    let len = (range.end - range.start) as usize;
    let mut laps = Laps::start();
    for (i, path) in range.clone().enumerate() {
        let states = &mut buffers.states[i * a..(i + 1) * a];
        match scenarios {
            Scenarios::Model(model) => model.simulate(path as u32, &mut buffers.scratch, states),
            Scenarios::Table(table) => states.copy_from_slice(table.row(path as usize)),
        }
    }
    laps.lap(&mut times.scenario);
    for i in 0..len {
        revalue.revalue_into(
            &buffers.states[i * a..(i + 1) * a],
            VolRule::TenorScaled,
            &mut buffers.pnl[i * n..(i + 1) * n],
        );
    }
    laps.lap(&mut times.revalue);
    let block = BLOCK_PATHS as usize;
    for (accounts, batch_tails) in book
        .accounts
        .chunks(ACCOUNT_BATCH)
        .zip(tails.chunks_mut(ACCOUNT_BATCH))
    {
        for (account, losses) in accounts.iter().zip(buffers.losses.chunks_mut(block)) {
            for (i, loss) in losses[..len].iter_mut().enumerate() {
                let pnl = &buffers.pnl[i * n..(i + 1) * n];
                let states = &buffers.states[i * a..(i + 1) * a];
                *loss = aggregate::account_loss(book, account, pnl, states);
            }
        }
        laps.lap(&mut times.aggregate);
        for (tail, losses) in batch_tails.iter_mut().zip(buffers.losses.chunks(block)) {
            for (&loss, path) in losses[..len].iter().zip(range.clone()) {
                tail.push(TailEntry {
                    loss,
                    path: path as u32,
                });
            }
        }
        laps.lap(&mut times.tail);
    }
}
