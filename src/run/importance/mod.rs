//! `--variance-reduction is`: importance sampling of each account's tail (methodology
//! §16.2), on every backend: the scenario stage of each draws from the mixture
//! (`model::scenario` on the CPU, `scenario.wgsl` on the GPU, the same component, shifts,
//! scales and jump counts), and the host weighs every path.
//!
//! Per account, alone (its own shift, the book cut to its instruments: `Book::account_alone`):
//! 1. **Pilots** (the cross-entropy method, on the CPU's f64 kernels whatever the
//!    backend, so that the mixture is the same on every backend): [`PILOT_PATHS`] plain
//!    paths under the pilot seed (the run's seed XOR [`PILOT_SEED_XOR`], so the pilot's
//!    draws are not the run's;
//!    one plain run of the whole book, whose losses per account are those of each account
//!    alone), and their tail at the lowest confidence of the run fitted to a mixture; then
//!    [`PILOT_PATHS`] more drawn from that mixture (seed XOR [`SECOND_PILOT_SEED_XOR`] too),
//!    whose weighted tail is fitted again: the mixture of the run. A fit groups the tail's
//!    paths by the assets that jumped, then splits each group in two when it is two blobs
//!    (`model::importance::tail_groups`: a short straddle loses on both sides); each group
//!    is a component whose shift, χ² scale and jump rates are its paths' means weighted by
//!    w·(L − VaR), and whose share is (1 − π₀) times its part of that weight; under
//!    Student-t shocks each has a heavy twin ([`HEAVY_SHARE`], [`HEAVY_SCALE`]) for the
//!    extreme χ² and an unscaled twin ([`UNSCALED_SHARE`]) for the tail's ordinary χ².
//!    Only what can move the account is shifted or tilted: the normals and jumps of the
//!    assets it prices (`Importance::pricing_only`).
//! 2. **Run**: the N paths of the plan drawn from the mixture (π₀ = [`DEFENSIVE_SHARE`] of
//!    them from the model itself) through the backend's own stages, every loss kept.
//! 3. **Figures**: the likelihood ratios w of the worst paths, from their sampled draws, as
//!    far down the tail as the figures read (about half the paths), VaR, ES and their
//!    intervals by `risk::weighted_measure`, component ES as the same weighted tail
//!    mean of each holding's loss (they sum to ES).
//!
//! The figures are unbiased for any shift (the weights correct exactly); the shift only
//! decides the variance. Memory: every path's loss is kept (16 bytes a path, up to twice
//! that while the buffer grows), checked against the machine before the run.

mod fit;

use std::sync::Arc;

use rayon::prelude::*;

use self::fit::{PilotTail, fit_mixture};
use super::{AccountFigures, Simulation, limits, plan};
use crate::book::Book;
use crate::config::RunConfig;
use crate::engine::cpu::CpuBackend;
use crate::engine::cpu::fast::weights::WeightLanes;
use crate::engine::cpu::fast::{BlockDraws, Isa, LANES};
use crate::engine::{AccountTail, Backend, Precision, SimulationPlan, TailEntry};
use crate::error::{Error, Result};
use crate::model::aggregate::holding_losses;
use crate::model::importance::{Importance, Sampled};
use crate::model::scenario::ScenarioModel;
use crate::risk::{self, Measure};
use crate::run::ScenarioSource;

/// Paths of each of an account's two pilot runs.
pub const PILOT_PATHS: u64 = 20_000;
/// π₀: the share of paths drawn unshifted (bounds every weight by 1/π₀ = 5): a tail region
/// no component covers is drawn at π₀ times plain's rate, so its variance is 1/π₀ times
/// plain's; 0.2 rather than 0.1 halves that at about 1/9 fewer paths in the fitted regions
/// (docs/benchmarks.md: the sample book's `vol-seller` over thirteen seeds).
pub const DEFENSIVE_SHARE: f64 = 0.2;
/// The least part of a pilot tail's weight w·(L − VaR) a group needs to be a component of
/// its own; smaller groups are drawn together as one.
pub const MIN_COMPONENT_SHARE: f64 = 0.01;
/// The smallest χ² scale c_k of a component (a group's mean χ² per normal below 0.09 is
/// drawn at 0.09: bounds how far the mixture leaves the model; a heavy twin's is half its
/// component's, so at least 0.15).
pub const MIN_CHI_SCALE: f64 = 0.3;
/// The part of each component's share its heavy twin takes (Student-t shocks only).
pub const HEAVY_SHARE: f64 = 0.1;
/// The factor of a heavy twin's χ² scale and shift (`with_twins`).
pub const HEAVY_SCALE: f64 = 0.5;
/// The part of each component's share its unscaled twin takes (Student-t shocks, a
/// component of χ² scale below 1): its shift at the model's χ² (`with_twins`).
pub const UNSCALED_SHARE: f64 = 0.1;
/// The largest factor a component raises a jump rate by: a group of jumping paths draws
/// about one jump a step (λ·dt is 0.016–0.025 a day on the sample book).
pub const MAX_JUMP_TILT: f64 = 100.0;
/// The pilot's seed is the run's XOR this ("pilot" in ASCII).
pub const PILOT_SEED_XOR: u64 = 0x0070_696c_6f74;
/// The second pilot's seed is the first's XOR this ("two" in ASCII).
pub const SECOND_PILOT_SEED_XOR: u64 = 0x0074_776f;

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
    // The pilots run on the CPU's f64 kernels whatever the backend: a fit makes discrete
    // choices (the tail's groups, which of them are components), which the f32 losses of
    // the GPU could tip on some seeds, so the mixture is a function of the inputs and the
    // seed alone, the same on every backend, machine and instruction set, and GPU and CPU
    // figures differ by the f32 error of the run as without importance sampling.
    let pilots = CpuBackend::with_precision(Precision::F64);
    // The first pilot is plain, and an account alone loses on every path what it loses in
    // the book (`Book::account_alone`), so one run of the book gives every account's.
    let first_tails = pilots.tails(
        &book,
        &pilot_plan(config, first_pilot_seed(config), first_pilot_keep(lowest)),
        &|_| {},
    )?;
    let mut accounts = Vec::with_capacity(book.accounts.len());
    let n_accounts = book.accounts.len() as u64;
    for (a, first_tail) in first_tails.into_iter().enumerate() {
        let alone = book.account_alone(a);
        let importance = Arc::new(pilot(&alone, first_tail, config, &pilots, lowest)?);
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

/// The first pilot's seed: the run's XOR [`PILOT_SEED_XOR`].
fn first_pilot_seed(config: &RunConfig) -> u64 {
    config.seed ^ PILOT_SEED_XOR
}

/// The worst paths the plain first pilot keeps: its tail at `confidence`.
fn first_pilot_keep(confidence: f64) -> usize {
    ((PILOT_PATHS as f64 * (1.0 - confidence)).ceil() as usize).max(1)
}

/// A pilot run of [`PILOT_PATHS`] paths under `seed`, keeping each account's worst `keep`.
fn pilot_plan(config: &RunConfig, seed: u64, keep: usize) -> SimulationPlan {
    SimulationPlan {
        paths: PILOT_PATHS,
        first_path: 0,
        seed,
        tail_len: keep,
        chunk_paths: config.chunk_paths,
    }
}

/// Step 1: the mixture of one account from its two pilot runs (the cross-entropy method).
/// The first is plain (`first_tail`: the account's tail in the plain pilot run of the
/// book); the second is drawn from the first's mixture, so it sees the tail's rarer regions
/// (a jump against the account, a tiny χ²) often enough to fit them, its paths weighted by
/// their likelihood ratios.
fn pilot(
    alone: &Book,
    first_tail: AccountTail,
    config: &RunConfig,
    backend: &dyn Backend,
    confidence: f64,
) -> Result<Importance> {
    let seed = first_pilot_seed(config);
    let model = ScenarioModel::new(alone, seed);
    let plain = Importance::plain(&model).pricing_only(alone.priced_assets(), &model.root);
    let first = pilot_tail(&plain, &model, first_tail, confidence);
    let first = fit_mixture(&plain, &first);
    let seed = seed ^ SECOND_PILOT_SEED_XOR;
    let shifted = Book {
        importance: Some(Arc::new(first.clone())),
        ..alone.clone()
    };
    let plan = pilot_plan(config, seed, PILOT_PATHS as usize);
    let second_tail = backend.tails(&shifted, &plan, &|_| {})?.remove(0);
    let model = ScenarioModel::new(&shifted, seed);
    let tail = pilot_tail(&first, &model, second_tail, confidence);
    Ok(fit_mixture(&plain, &tail))
}

/// The paths of a pilot's `tail` (its run drawn from `importance` under `model`, the
/// pilot's book and seed) beyond their weighted VaR at `confidence`.
fn pilot_tail(
    importance: &Importance,
    model: &ScenarioModel,
    tail: AccountTail,
    confidence: f64,
) -> PilotTail {
    // The worst paths weighed in growing prefixes until their weights reach N(1 − α): under
    // the mixture that is about half of them (each path's weight is its own, so a prefix's
    // are those of every path).
    let target = risk::tail_weight(PILOT_PATHS, confidence);
    let chunk = (tail.worst.len() / 8).max(64 * LANES);
    let (mut sampled, mut weights) = (Vec::new(), Vec::new());
    let beyond = loop {
        let (from, to) = (sampled.len(), (sampled.len() + chunk).min(tail.worst.len()));
        let next: Vec<u32> = tail.worst[from..to].iter().map(|e| e.path).collect();
        let mut more = sampled_paths(importance, model, &next);
        weights.extend(if importance.components.is_empty() {
            vec![1.0; more.len()]
        } else {
            sampled_weights(importance, &more)
        });
        sampled.append(&mut more);
        // The paths until their weights reach the target: the pilot's tail, its last loss
        // its VaR (all of them when they never do).
        match risk::weight_rank(weights.iter().copied(), target) {
            Some(j) => break j + 1,
            None if to == tail.worst.len() => break to,
            None => {}
        }
    };
    let var = tail.worst[beyond - 1].loss;
    sampled.truncate(beyond);
    PilotTail {
        sampled,
        fit: tail.worst[..beyond]
            .iter()
            .zip(&weights)
            .map(|(e, &w)| w * (e.loss - var))
            .collect(),
    }
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
    let model = ScenarioModel::new(shifted, config.seed);
    let paths = config.paths;
    let levels: Vec<f64> = config
        .confidence
        .iter()
        .copied()
        .chain([config.margin.confidence])
        .collect();
    // The worst paths weighed in growing prefixes, until every level's figures (its VaR
    // interval the furthest) lie within: about half the paths are weighed under IS, not all.
    // The figures of a prefix that holds them are those of every path (the sums run in the
    // same order), and a path's weight does not depend on its prefix.
    let chunk = (tail.worst.len() / 8).max(64 * LANES);
    let mut weighted: Vec<(f64, f64)> = Vec::with_capacity(tail.worst.len());
    let mut measures = loop {
        let (from, to) = (
            weighted.len(),
            (weighted.len() + chunk).min(tail.worst.len()),
        );
        let next: Vec<u32> = tail.worst[from..to].iter().map(|e| e.path).collect();
        let weights = path_weights(importance, &model, &next);
        weighted.extend(tail.worst[from..to].iter().map(|e| e.loss).zip(weights));
        let tried = levels
            .par_iter()
            .map(|&c| risk::weighted_measure(&weighted, paths, c))
            .collect::<std::result::Result<Vec<Measure>, String>>();
        match tried {
            Ok(measures) => break measures,
            Err(why) if to == tail.worst.len() => {
                let why = format!("{why}; run more paths");
                return Err(Error::input(files_config, "paths", paths, why));
            }
            Err(_) => {}
        }
    };
    let margin_es = measures.pop().expect("the margin level was measured");
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

/// w of each of `paths` (in their order) under `model`, a shifted book's: each block's
/// sampled draws (`sampled_blocks`), then every component's ln(π_k r_k), the mixture's
/// exponentials and the weights lane by lane in SIMD (`engine::cpu::fast::weights`).
pub fn path_weights(importance: &Importance, model: &ScenarioModel, paths: &[u32]) -> Vec<f64> {
    let isa = Isa::detect();
    let terms = importance.ratio_terms();
    let lanes = || WeightLanes::new(importance);
    sampled_blocks(importance, model, paths, lanes, |lanes, block| {
        let mut weights = Vec::with_capacity(block.len());
        lanes.weights(isa, importance, &terms, block, &mut weights);
        weights
    })
}

/// w of each of the paths' `sampled` draws, in their order (as [`path_weights`], for draws
/// already sampled).
fn sampled_weights(importance: &Importance, sampled: &[Sampled]) -> Vec<f64> {
    let isa = Isa::detect();
    let terms = importance.ratio_terms();
    sampled
        .par_chunks(LANES)
        .map_init(
            || WeightLanes::new(importance),
            |lanes, block| {
                let mut weights = Vec::with_capacity(block.len());
                lanes.weights(isa, importance, &terms, block, &mut weights);
                weights
            },
        )
        .flatten_iter()
        .collect()
}

/// The sampled draws of each of `paths` (in their order) under `model` ([`sampled_blocks`]).
fn sampled_paths(importance: &Importance, model: &ScenarioModel, paths: &[u32]) -> Vec<Sampled> {
    sampled_blocks(importance, model, paths, || (), |_, block| block.to_vec())
}

/// `each` block's results (one per path) from its sampled draws, for `paths` (in their
/// order) under `model`, each worker with its own scratch from `init`: per block of
/// [`LANES`] paths, each step's draws from one SIMD pass (the scenario stage's own
/// [`BlockDraws`], on the machine's best ISA), then each lane's sampled draws. Those normals
/// are within 1.2e-15 of the Box–Muller radius of the scalar ones of `rng::DrawSource`, so
/// a weight from them is the model's to about 1e-15, whichever backend moved the path; on
/// one machine it is the same bits on every backend, thread count and chunk.
fn sampled_blocks<S, R: Send>(
    importance: &Importance,
    model: &ScenarioModel,
    paths: &[u32],
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &[Sampled]) -> Vec<R> + Sync,
) -> Vec<R> {
    let isa = Isa::detect();
    let key = model.draws.key();
    let scratch = || {
        (
            BlockDraws::new(model),
            vec![Sampled::default(); LANES],
            init(),
        )
    };
    paths
        .par_chunks(LANES)
        .map_init(scratch, |(draws, sampled, state), block| {
            let mut lanes = [0u32; LANES];
            lanes[..block.len()].copy_from_slice(block);
            let mut components = [None; LANES];
            sampled.iter_mut().for_each(Sampled::clear);
            for step in 0..model.steps {
                draws.fill(isa, key, &lanes, step);
                // The plain pilot's density has no component to pick.
                if step == 0 && !importance.components.is_empty() {
                    for (lane, c) in components[..block.len()].iter_mut().enumerate() {
                        *c = importance.component_at(draws.mix_uniform(lane));
                    }
                }
                for (lane, &component) in components[..block.len()].iter().enumerate() {
                    importance.sample_step(component, step, &draws.lane(lane), &mut sampled[lane]);
                }
            }
            each(state, &sampled[..block.len()])
        })
        .flatten_iter()
        .collect()
}

/// The paths of one run of [`components`]' sums.
const COMPONENT_RUN: usize = 4096;

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
    let holdings = account.holdings.len();
    let last = weighted.len().saturating_sub(1);
    let before: f64 = weighted[..last].iter().map(|&(_, w)| w).sum();
    // Sums over fixed runs of paths on every thread, then the runs' sums in order: the same
    // bits whatever the thread count.
    let runs: Vec<Vec<f64>> = (0..weighted.len())
        .step_by(COMPONENT_RUN)
        .collect::<Vec<usize>>()
        .into_par_iter()
        .map(|first| {
            let mut sums = vec![0.0; holdings];
            let mut parts = vec![0.0; holdings];
            let end = (first + COMPONENT_RUN).min(weighted.len());
            for (j, &(_, w)) in weighted.iter().enumerate().take(end).skip(first) {
                let states = &revalued.states[j * na..(j + 1) * na];
                let pnl = &revalued.pnl[j * ni..(j + 1) * ni];
                holding_losses(shifted, account, pnl, states, &mut parts);
                let w = if j == last { target - before } else { w };
                sums.iter_mut().zip(&parts).for_each(|(s, x)| *s += w * x);
            }
            sums
        })
        .collect();
    let mut sums = vec![0.0; holdings];
    for run in runs {
        sums.iter_mut().zip(run).for_each(|(s, x)| *s += x);
    }
    Ok(sums.into_iter().map(|s| s / target).collect())
}
