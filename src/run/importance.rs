//! `--variance-reduction is`: importance sampling of each account's tail (methodology
//! §16.2), on every backend: the scenario stage of each draws from the mixture
//! (`model::scenario` on the CPU, `scenario.wgsl` on the GPU, the same component, shifts,
//! scales and jump counts), and the host weighs every path.
//!
//! Per account, alone (its own shift):
//! 1. **Pilot**: [`PILOT_PATHS`] plain paths under the pilot seed (the run's seed XOR
//!    [`PILOT_SEED_XOR`], so the pilot's draws are not the run's); its ⌈n(1 − α)⌉ worst paths
//!    at the lowest confidence of the run, each as its S·A spot normals, are split into at
//!    most two clusters (`model::importance::tail_clusters`: a short straddle loses on both
//!    sides), and each cluster's mean is a shift θ_k with the share (1 − π₀)·(its size / k).
//! 2. **Run**: the N paths of the plan drawn from the mixture π₀ N(0, I) + Σ π_k N(θ_k, I)
//!    (π₀ = [`DEFENSIVE_SHARE`]) through the backend's own stages, every loss kept.
//! 3. **Figures**: each kept path's likelihood ratio w from its sampled normals, VaR, ES and
//!    their intervals by `risk::weighted_measure`, component ES as the same weighted tail
//!    mean of each holding's loss (they sum to ES).
//!
//! The figures are unbiased for any shift (the weights correct exactly); the shift only
//! decides the variance. Memory: every path's loss is kept (16 bytes a path, up to twice
//! that while the buffer grows), checked against the machine before the run.

use std::sync::Arc;

use rayon::prelude::*;

use super::{AccountFigures, Simulation, limits, plan};
use crate::book::Book;
use crate::config::RunConfig;
use crate::engine::{AccountTail, Backend, SimulationPlan, TailEntry};
use crate::error::{Error, Result};
use crate::model::aggregate::holding_losses;
use crate::model::importance::{Component, Importance, Sampled, tail_clusters};
use crate::model::scenario::ScenarioModel;
use crate::risk::{self, Measure};
use crate::rng::DrawSource;
use crate::run::ScenarioSource;

/// Plain paths of each account's pilot run.
pub const PILOT_PATHS: u64 = 20_000;
/// π₀: the share of paths drawn unshifted (bounds every weight by 1/π₀ = 10).
pub const DEFENSIVE_SHARE: f64 = 0.1;
/// The smallest χ² scale c_k of a component (a tail cluster's mean χ² per normal below
/// 1/4 is drawn at 1/4: bounds how far the mixture leaves the model).
pub const MIN_CHI_SCALE: f64 = 0.5;
/// The largest factor a component raises a jump rate by.
pub const MAX_JUMP_TILT: f64 = 20.0;
/// The pilot's seed is the run's XOR this ("pilot" in ASCII).
pub const PILOT_SEED_XOR: u64 = 0x0070_696c_6f74;

/// Simulates every account of `book` under its own importance sampling.
pub fn simulate_importance(
    book: Book,
    config: &RunConfig,
    files_config: &str,
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Simulation> {
    let plan = plan(config);
    let keep = plan.paths as usize;
    limits::check_tail_memory(
        files_config,
        plan.paths,
        keep,
        1,
        rayon::current_num_threads(),
        limits::available_memory(),
    )?;
    let lowest = config
        .confidence
        .iter()
        .copied()
        .chain([config.margin.confidence])
        .fold(1.0, f64::min);
    let mut accounts = Vec::with_capacity(book.accounts.len());
    let n_accounts = book.accounts.len() as u64;
    for (a, account) in book.accounts.iter().enumerate() {
        let alone = Book {
            accounts: vec![account.clone()],
            importance: None,
            ..book.clone()
        };
        let importance = Arc::new(pilot(&alone, config, backend, lowest)?);
        let shifted = Book {
            importance: Some(importance.clone()),
            ..alone
        };
        let main = SimulationPlan {
            tail_len: keep,
            ..plan.clone()
        };
        let report = |done: u64| progress((a as u64 * plan.paths + done) / n_accounts);
        let tail = backend.tails(&shifted, &main, &report)?.remove(0);
        accounts.push(account_figures(
            &shifted,
            &importance,
            tail,
            config,
            files_config,
            backend,
        )?);
    }
    Ok(Simulation {
        book,
        plan,
        source: ScenarioSource::MonteCarlo,
        accounts,
    })
}

/// Step 1: the mixture of one account from its plain pilot run.
fn pilot(
    alone: &Book,
    config: &RunConfig,
    backend: &dyn Backend,
    confidence: f64,
) -> Result<Importance> {
    let seed = config.seed ^ PILOT_SEED_XOR;
    let k = ((PILOT_PATHS as f64 * (1.0 - confidence)).ceil() as usize).max(1);
    let plan = SimulationPlan {
        paths: PILOT_PATHS,
        first_path: 0,
        seed,
        tail_len: k,
        chunk_paths: config.chunk_paths,
    };
    let tail = backend.tails(alone, &plan, &|_| {})?.remove(0);
    let draws = DrawSource::new(seed);
    let plain = Importance::plain(&ScenarioModel::new(alone, seed));
    let sampled: Vec<Sampled> = tail
        .worst
        .iter()
        .map(|e| plain.sampled(&draws, e.path))
        .collect();
    let points: Vec<Vec<f64>> = sampled.iter().map(|s| s.z.clone()).collect();
    let clusters = tail_clusters(&points);
    let total: usize = clusters.iter().map(|(_, m)| m.len()).sum();
    let components = clusters
        .into_iter()
        .map(|(shift, members)| Component {
            share: (1.0 - DEFENSIVE_SHARE) * members.len() as f64 / total.max(1) as f64,
            shift,
            scale: chi_scale(&plain, &members, &sampled),
            jump_rates: jump_rates(&plain, &members, &sampled),
        })
        .collect();
    Ok(Importance {
        defensive: DEFENSIVE_SHARE,
        components,
        ..plain
    })
}

/// c_k of a cluster: √(its mean χ² per normal), within [[`MIN_CHI_SCALE`], 1] (1 without
/// Student-t shocks): the tail's paths had small χ² draws, so the component draws them so.
fn chi_scale(plain: &Importance, members: &[usize], sampled: &[Sampled]) -> f64 {
    let per_path = f64::from(plain.steps * plain.dof);
    if per_path == 0.0 || members.is_empty() {
        return 1.0;
    }
    let sum: f64 = members.iter().map(|&i| sampled[i].chi_square).sum();
    (sum / (per_path * members.len() as f64))
        .sqrt()
        .clamp(MIN_CHI_SCALE, 1.0)
}

/// λ_k·dt of a cluster per step and asset: its mean jump count, at least the model's λ·dt
/// and at most [`MAX_JUMP_TILT`] times it or 5 (empty when nothing jumps).
fn jump_rates(plain: &Importance, members: &[usize], sampled: &[Sampled]) -> Vec<f64> {
    if plain.base_rates.iter().all(|&r| r == 0.0) || members.is_empty() {
        return Vec::new();
    }
    let cells = plain.steps as usize * plain.assets;
    let mut mean = vec![0.0; cells];
    for &i in members {
        for (m, &n) in mean.iter_mut().zip(&sampled[i].jump_counts) {
            *m += f64::from(n) / members.len() as f64;
        }
    }
    mean.iter()
        .enumerate()
        .map(|(cell, &m)| {
            let base = plain.base_rates[cell % plain.assets];
            // Never past 5 jumps a step on average, where the 64-jump cap of a step is
            // still never reached (model::scenario::MAX_JUMPS_PER_STEP), nor below λ·dt.
            m.clamp(base, (MAX_JUMP_TILT * base).min(5.0).max(base))
        })
        .collect()
}

/// Step 3: an account's weighted figures from every path's loss.
fn account_figures(
    shifted: &Book,
    importance: &Importance,
    tail: AccountTail,
    config: &RunConfig,
    files_config: &str,
    backend: &dyn Backend,
) -> Result<AccountFigures> {
    let draws = DrawSource::new(config.seed);
    let weights: Vec<f64> = tail
        .worst
        .par_iter()
        .map(|e| importance.weight(&importance.sampled(&draws, e.path)))
        .collect();
    let weighted: Vec<(f64, f64)> = tail.worst.iter().map(|e| e.loss).zip(weights).collect();
    let paths = config.paths;
    let measure = |c: f64| -> Result<Measure> {
        risk::weighted_measure(&weighted, paths, c).map_err(|why| {
            Error::input(
                files_config,
                "paths",
                paths,
                format!("{why}; run more paths"),
            )
        })
    };
    let measures = config
        .confidence
        .iter()
        .map(|&c| measure(c))
        .collect::<Result<Vec<_>>>()?;
    let margin_es = measure(config.margin.confidence)?;
    let k = margin_es.k;
    let components = components(
        shifted,
        &tail.worst[..k],
        &weighted[..k],
        paths,
        config,
        backend,
    )?;
    let mut worst = tail.worst;
    worst.truncate(k);
    Ok(AccountFigures {
        measures,
        margin_es,
        components,
        tail: AccountTail { worst },
    })
}

/// Component ES: the weighted tail mean of each holding's loss, the last tail path taking
/// the weight that makes the total N(1 − α) (as ES does), so the components sum to ES.
fn components(
    shifted: &Book,
    tail: &[TailEntry],
    weighted: &[(f64, f64)],
    paths: u64,
    config: &RunConfig,
    backend: &dyn Backend,
) -> Result<Vec<f64>> {
    let account = &shifted.accounts[0];
    let target = risk::tail_weight(paths, config.margin.confidence);
    let list: Vec<u32> = tail.iter().map(|e| e.path).collect();
    let revalued = backend.revalue_paths(shifted, config.seed, &list)?;
    let (na, ni) = (shifted.assets.len(), shifted.instruments.len());
    let mut sums = vec![0.0; account.holdings.len()];
    let mut parts = vec![0.0; account.holdings.len()];
    let mut weight_so_far = 0.0;
    for (j, &(_, w)) in weighted.iter().enumerate() {
        let states = &revalued.states[j * na..(j + 1) * na];
        let pnl = &revalued.pnl[j * ni..(j + 1) * ni];
        holding_losses(shifted, account, pnl, states, &mut parts);
        let w = if j + 1 == weighted.len() {
            target - weight_so_far
        } else {
            w
        };
        weight_so_far += w;
        sums.iter_mut().zip(&parts).for_each(|(s, x)| *s += w * x);
    }
    Ok(sums.into_iter().map(|s| s / target).collect())
}
