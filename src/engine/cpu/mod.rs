//! The CPU backend: the f64 reference of every stage, parallel with rayon.
//!
//! Paths are processed in blocks of [`BLOCK_PATHS`]; each block runs scenario → revalue →
//! aggregate → tail for its paths, and blocks merge their tails. Every path's arithmetic
//! is independent of the block it lands in and the tail order is total, so results are
//! bit-identical for any thread count and chunk size.

pub mod aggregate;
pub mod revalue;
pub mod scenario;
pub mod tail;

use rayon::prelude::*;

use crate::book::Book;
use crate::engine::{
    AccountTail, AssetState, Backend, BackendInfo, PathRevaluation, SimulationPlan,
    StressScenario, TailEntry, VolRule,
};
use crate::error::Result;
use crate::rng::{DrawSource, philox4x32_10, seed_key};
use revalue::RevalueModel;
use scenario::{ScenarioModel, Scratch};
use tail::TailBuffer;

/// Paths one rayon task simulates before merging its tails.
pub const BLOCK_PATHS: u64 = 256;
/// Default paths per chunk (the progress granularity).
pub const DEFAULT_CHUNK_PATHS: u64 = 1 << 16;

/// The native backend.
#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        Self
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
        BackendInfo {
            backend: "cpu",
            device: cpu_description(),
            precision: "f64",
        }
    }

    fn tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<AccountTail>> {
        let scenarios = ScenarioModel::new(book, plan.seed);
        let revalue = RevalueModel::new(book);
        let accounts = book.accounts.len();
        let chunk = plan
            .chunk_paths
            .map(u64::from)
            .unwrap_or(DEFAULT_CHUNK_PATHS)
            .max(1);
        let new_tails = || -> Vec<TailBuffer> {
            (0..accounts).map(|_| TailBuffer::new(plan.tail_len)).collect()
        };
        let mut tails = new_tails();
        let mut start = 0;
        while start < plan.paths {
            let end = (start + chunk).min(plan.paths);
            let blocks = (end - start).div_ceil(BLOCK_PATHS);
            let chunk_tails = (0..blocks)
                .into_par_iter()
                .fold(new_tails, |mut acc, b| {
                    let first = start + b * BLOCK_PATHS;
                    let last = (first + BLOCK_PATHS).min(end);
                    simulate_block(book, &scenarios, &revalue, first..last, &mut acc);
                    acc
                })
                .reduce(new_tails, |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| x.merge(y));
                    a
                });
            tails.iter_mut().zip(chunk_tails).for_each(|(x, y)| x.merge(y));
            progress(end);
            start = end;
        }
        Ok(tails.into_iter().map(TailBuffer::finish).collect())
    }

    fn revalue_paths(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<PathRevaluation> {
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

/// Scenario → revalue → aggregate → tail for the paths `range`.
fn simulate_block(
    book: &Book,
    scenarios: &ScenarioModel,
    revalue: &RevalueModel,
    range: std::ops::Range<u64>,
    tails: &mut [TailBuffer],
) {
    let mut scratch = Scratch::default();
    let mut states = vec![AssetState::default(); book.assets.len()];
    let mut pnl = vec![0.0; book.instruments.len()];
    for path in range {
        let path = path as u32;
        scenarios.simulate(path, &mut scratch, &mut states);
        revalue.revalue_into(&states, VolRule::TenorScaled, &mut pnl);
        for (account, tail) in book.accounts.iter().zip(tails.iter_mut()) {
            let loss = aggregate::account_loss(book, account, &pnl, &states);
            tail.push(TailEntry { loss, path });
        }
    }
}

/// The draws of a run, for tests and verification.
pub fn draw_source(seed: u64) -> DrawSource {
    DrawSource::new(seed)
}
