//! The SIMD kernels of the CPU backend: the same model as the f64 reference stages, laid
//! out for SIMD, generic over the lane type [`Real`]: f64
//! ([`crate::engine::cpu::Precision::F64`], the CLI's default) and f32
//! ([`crate::engine::cpu::Precision::F32`]). The same code runs both; only the elementary
//! functions ([`math64`], [`math`]) and the rounding of constants differ. What follows
//! describes the f32 mode; in f64 every "f32" below reads "f64" (the rounding to `T` is then
//! exact), the functions are within a few ulps of libm, and the aggregate is unfused
//! ([`Real::FUSED_AGGREGATE`]), so an account's loss is the reference's sum of the kernels'
//! P&L. Measured in f64 (tests/cpu_fast.rs): states within 7e-16 of the reference's, P&L
//! per unit within 5 ulps of notional of the reference (asserted 16), VaR and ES within
//! half an ulp of gross exposure.
//!
//! # Layout
//!
//! Paths go in blocks of [`LANES`]. Per block:
//! 1. **scenario** — per step, the Philox words of every lane in SIMD and Box–Muller
//!    ([`draws`]: vectorised polynomial ln, sin and cos, within 1.2e-15 of the radius of
//!    the reference's normals, which use libm's), then each lane through the reference's
//!    own step [`ScenarioModel::advance`] in f64; then per asset, struct of arrays over the
//!    block: ln(S_h/S₀) and e^{r} in f32 and f64, e^{r} − 1 and e^{−r} − 1 in f64 where
//!    delta-one instruments or coin accounts need them, ln Y in f32, and the block's range
//!    of r. The last block of a run is padded with zero states whose results are dropped.
//! 2. **revalue** ([`kernel::revalue`]) — instrument-major: first the vol factor Y^{w} once
//!    per asset and distinct tenor weight, then for each instrument loops over the block's
//!    lanes into `pnl[instrument][lane]`. Options use polynomial f32 `exp` and Φ ([`math`]: the
//!    two Φ of an option from one exp, [`math::norm_cdf_pair`])
//!    and no logarithm; delta-one instruments and options that settle inside the horizon use
//!    the f64 formulas of the reference on the f64 state, rounded once to f32.
//! 3. **aggregate** ([`kernel::aggregate`]) — per account, Σ q·pnl over its net exposures in
//!    f64, lane by lane, then the coin conversion of SPEC §7 in f64; a batch of
//!    [`ACCOUNT_BATCH`] accounts at a time.
//! 4. **tail** — each account's loss row of the batch into the reference [`TailBuffer`].
//!
//! Every lane runs the same operations on its own inputs (no lane-dependent branch, fixed
//! block length, exactly rounded IEEE operations), so a path's loss does not depend on its
//! lane, its block, the chunk size or the thread count: results are bit-identical across
//! them on one machine. They do depend on the [`Isa`] (fused multiply-adds round once), which
//! is chosen per machine at run time.
//!
//! # Precision
//!
//! Measured errors of the elementary functions are in [`math`]: `exp` 8e-8 relative, Φ
//! 2e-7 absolute. What that means for the risk figures:
//! - **States are f64**: the scenario stage is the f64 reference's step on normals within
//!   1.2e-15·r of the reference's (states within 6.7e-16 measured, 1.5e-12 asserted over 10
//!   steps, tests/cpu_fast.rs); r and ln Y are rounded once to f32 (relative 6e-8), so long
//!   horizons and many steps accumulate nothing in f32.
//! - **No logarithm per path**: ln(F₁/K) = r + ln(S₀c₁/K) with the constant from f64, an
//!   absolute error ~6e-8·(1 + |ln(S₀c₁/K)|) in d₁ numerators.
//! - **Options** ([`kernel`]): value = e^{−rτ₁}(TV + intrinsic) with the time value TV from
//!   the out-of-the-money side, so nothing large cancels inside Black-76. Every term is at
//!   most ~F or K in size and is carried with ~2e-7 relative error (Φ's absolute error
//!   times F or K dominates), so the option's P&L per unit has an absolute error of a few
//!   1e-7 of F + K, whatever its moneyness: deep out-of-the-money options, worth far less
//!   than 1e-7·F, are noise at that level in absolute terms, never in the book's totals.
//!   Today's value V₀ (f64 in the book) is rounded once to f32: a constant offset of at
//!   most 6e-8·V₀ per unit on every path, which shifts losses but not their order.
//! - **P&L stays relative to the base**: delta-one P&L are the expm1 forms of the reference
//!   in f64, rounded once (relative 6e-8 of the P&L itself, exact zero with no move).
//! - **Hedged books** (large gross, small net): each exposure's q·pnl carries the per-unit
//!   error above; the account sum is in f64, so summation adds nothing and the account's
//!   error is bounded by Σ|q|·(per-unit error) ≈ 3e-7 × gross notional in the worst case,
//!   typically far less since errors of different instruments do not align. Offsetting
//!   positions in one instrument are netted exactly before (the book's exposures), so they
//!   cancel to zero.
//! - **Long horizons / long-dated options**: τ₁ enters only through per-instrument
//!   constants computed in f64; sd = σ√τ₁ of a few units still evaluates Φ where its
//!   absolute error is 2e-7.
//! - **Tails** compare f64 losses made from f32 P&L: paths whose reference losses differ by
//!   less than the error above may swap ranks, so VaR and ES move by at most that error.
//!
//! Measured by `tests/cpu_fast.rs` against the f64 reference on a book with every instrument
//! kind (grid surfaces, expiries inside the horizon, coin accounts, jumps, vol of vol,
//! Student-t shocks, 2- and 30-day horizons): worst P&L per unit 4.2e-7 of the instrument's
//! notional (asserted ≤ 1e-6), VaR and ES within 3.2e-8 of the account's gross exposure
//! (asserted ≤ 1e-7).
//!
//! # Speed
//!
//! On the 576-option bench book (docs/benchmarks.md, `benches/compare.py`): f32 kernels
//! 1.15–1.20 G full repricings/s end to end on a 2-core Zen 5 (before the SIMD scenario
//! stage) and 0.69–0.85 G/s on a 2-core Zen 4 (half the Zen 5's 512-bit FMA rate), f64
//! kernels 140–164 M/s and the f64 reference 15–17 M/s on the Zen 4.

pub mod draws;
pub mod kernel;
pub mod math;
pub mod math64;
pub mod real;
pub mod weights;

pub use draws::BlockDraws;
pub use kernel::{Isa, KernelScratch};
pub use real::Real;

use crate::book::{Book, Currency};
use crate::engine::cpu::ACCOUNT_BATCH;
use crate::engine::cpu::timing::{Laps, StageTimes};
use crate::engine::{AssetState, TailEntry};
use crate::instrument::Right;
use crate::market::VolSurface;
use crate::model::historical::ScenarioTable;
use crate::model::revalue::{Payoff, RevalueModel, RevalueRow};
use crate::model::scenario::{ScenarioModel, Scratch};
use crate::model::tail::TailBuffer;

/// Paths per block of the fast kernels: every per-lane array is this long.
pub const LANES: usize = 256;

/// The total variance σ²τ₁ of one option on one segment of its surface's log-moneyness
/// knots, as a quadratic in t = k₁ − `knot`: σ²τ₁ = a + t(b + t c).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Segment<T> {
    pub a: T,
    pub b: T,
    pub c: T,
    pub knot: T,
}

/// A live option, resolved to constants of the lane type (computed in f64, rounded once).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptionRow<T> {
    pub asset: u32,
    /// Index of its first [`Segment`] in [`FastModel::segments`]; it has one per knot + 1.
    pub segments: u32,
    /// ln(S₀c₁/K): x = ln(F₁/K) = r + x₀.
    pub x0: T,
    /// S₀c₁: F₁ = S₀c₁·e^{r}.
    pub forward0: T,
    /// S₀c₁/K: F₁/K = e^{x} = (S₀c₁/K)·e^{r}.
    pub moneyness0: T,
    pub strike: T,
    /// +1 call, −1 put.
    pub omega: T,
    /// m·e^{−rate·τ₁}.
    pub scale: T,
    /// Today's value per unit (multiplier included).
    pub base_value: T,
    /// w(τ₁) of the tenor-scaled vol shock.
    pub tenor_weight: T,
    /// Index of its factor Y^{w(τ₁)} in [`FastModel::vol_factors`].
    pub vol_factor: u32,
}

/// How the fast kernel revalues one instrument.
#[derive(Clone, Copy, Debug)]
pub enum FastRow<T> {
    /// Delta-one, or an option that settles inside the horizon: the reference row in f64.
    Exact(RevalueRow),
    /// A live option in the lane type.
    Option(OptionRow<T>),
}

/// The fast revalue model of a book.
#[derive(Clone, Debug)]
pub struct FastModel<T> {
    pub rows: Vec<FastRow<T>>,
    pub segments: Vec<Segment<T>>,
    /// Log-moneyness knots per asset (empty for a flat surface).
    pub knots: Vec<Vec<T>>,
    /// The distinct (asset, tenor weight w) of the live options: the vol factor Y^{w} is
    /// computed once per block for each.
    pub vol_factors: Vec<(u32, T)>,
    /// Whether any asset's vol level moves (η > 0); without, every factor is 1.
    pub vol_shocks: bool,
    /// Per asset: whether e^{r} − 1 is needed (delta-one instruments).
    needs_expm1: Vec<bool>,
    /// Per asset: whether e^{−r} − 1 is needed (coin-margined accounts).
    needs_expm1_neg: Vec<bool>,
}

impl<T: Real> FastModel<T> {
    pub fn new(book: &Book) -> Self {
        let reference = RevalueModel::new(book);
        let assets = book.assets.len();
        let knots: Vec<Vec<T>> = book
            .assets
            .iter()
            .map(|a| match &a.surface {
                VolSurface::Flat(_) => Vec::new(),
                VolSurface::Grid(g) => g.log_moneyness.iter().map(|&k| T::from_f64(k)).collect(),
            })
            .collect();
        let mut segments = Vec::new();
        let mut vol_factors: Vec<(u32, T)> = Vec::new();
        let mut needs_expm1 = vec![false; assets];
        let rows = reference
            .rows
            .iter()
            .map(|row| match row.payoff {
                Payoff::Option(right) if row.tau1 > 0.0 => {
                    let first = segments.len() as u32;
                    segments.extend(surface_segments(&reference.surfaces[row.asset], row.tau1));
                    let mut option = option_row(row, right, first);
                    let key = (option.asset, option.tenor_weight);
                    option.vol_factor = match vol_factors.iter().position(|&f| f == key) {
                        Some(i) => i as u32,
                        None => {
                            vol_factors.push(key);
                            (vol_factors.len() - 1) as u32
                        }
                    };
                    FastRow::Option(option)
                }
                Payoff::Option(_) => FastRow::Exact(*row),
                _ => {
                    needs_expm1[row.asset] = true;
                    FastRow::Exact(*row)
                }
            })
            .collect();
        let mut needs_expm1_neg = vec![false; assets];
        for account in &book.accounts {
            if let Currency::Coin(c) = account.currency {
                needs_expm1_neg[c] = true;
            }
        }
        Self {
            rows,
            segments,
            knots,
            vol_factors,
            vol_shocks: book.assets.iter().any(|a| a.dynamics.vol_of_vol != 0.0),
            needs_expm1,
            needs_expm1_neg,
        }
    }

    /// The model of `instruments` only (their rows in that order; surfaces, vol factors and
    /// per-asset needs kept whole): the same numbers for each of them.
    pub fn restricted(&self, instruments: &[usize]) -> Self {
        Self {
            rows: instruments.iter().map(|&i| self.rows[i]).collect(),
            ..self.clone()
        }
    }
}

fn option_row<T: Real>(row: &RevalueRow, right: Right, segments: u32) -> OptionRow<T> {
    let forward0 = row.spot0 * row.carry1;
    OptionRow {
        asset: row.asset as u32,
        segments,
        x0: T::from_f64((forward0 / row.strike).ln()),
        forward0: T::from_f64(forward0),
        moneyness0: T::from_f64(forward0 / row.strike),
        strike: T::from_f64(row.strike),
        omega: match right {
            Right::Call => T::ONE,
            Right::Put => -T::ONE,
        },
        scale: T::from_f64(row.multiplier * (-row.rate * row.tau1).exp()),
        base_value: T::from_f64(row.base_value),
        tenor_weight: T::from_f64(row.tenor_weight),
        vol_factor: 0,
    }
}

/// The segments of σ²τ₁ as a function of k at remaining time τ₁ (SPEC §2 interpolation):
/// σ²τ₁ = c₀ s_i(k)² + c₁ s_{i+1}(k)², linear in total variance between the expiries around
/// τ₁ (c₀ = (1 − a)τ_i, c₁ = aτ_{i+1}, a = (τ₁ − τ_i)/(τ_{i+1} − τ_i)), or c₀ = τ₁ on the
/// first or last row outside them; each row s(k) = p + q·t is linear between knots and flat
/// beyond the end knots. Segment j covers knots[j−1] ≤ k < knots[j].
fn surface_segments<T: Real>(surface: &VolSurface, tau1: f64) -> Vec<Segment<T>> {
    let grid = match surface {
        VolSurface::Flat(sigma) => {
            return vec![Segment {
                a: T::from_f64(sigma * sigma * tau1),
                ..Segment::default()
            }];
        }
        VolSurface::Grid(g) => g,
    };
    let (taus, ks) = (&grid.taus, &grid.log_moneyness);
    let n = ks.len();
    let (i0, i1, a) = grid.bracket(tau1);
    // Total-variance weights of the two rows: σ²τ₁ = c₀σᵢ₀² + c₁σᵢ₁².
    let (c0, c1) = if i0 == i1 {
        (tau1, 0.0)
    } else {
        ((1.0 - a) * taus[i0], a * taus[i1])
    };
    let row = |i: usize| &grid.vols[i * n..(i + 1) * n];
    // (p, q, knot) of row i on segment j.
    let line = |i: usize, j: usize| -> (f64, f64, f64) {
        let r = row(i);
        if j == 0 {
            (r[0], 0.0, ks[0])
        } else if j == n {
            (r[n - 1], 0.0, ks[n - 1])
        } else {
            (r[j - 1], (r[j] - r[j - 1]) / (ks[j] - ks[j - 1]), ks[j - 1])
        }
    };
    (0..=n)
        .map(|j| {
            let (p0, q0, knot) = line(i0, j);
            let (p1, q1, _) = line(i1, j);
            Segment {
                a: T::from_f64(c0 * p0 * p0 + c1 * p1 * p1),
                b: T::from_f64(2.0 * (c0 * p0 * q0 + c1 * p1 * q1)),
                c: T::from_f64(c0 * q0 * q0 + c1 * q1 * q1),
                knot: T::from_f64(knot),
            }
        })
        .collect()
}

/// The scenario state of a block of paths, struct of arrays (one array per asset).
#[derive(Clone, Debug)]
pub struct ScenarioLanes<T> {
    /// The path of each lane; lanes `valid..` are padding.
    pub paths: [u32; LANES],
    pub valid: usize,
    /// Lane-major reference states: `states[lane * assets + asset]`.
    pub states: Vec<AssetState>,
    pub log_return: Vec<[T; LANES]>,
    pub growth: Vec<[T; LANES]>,
    pub log_vol: Vec<[T; LANES]>,
    /// e^{r} in f64.
    pub growth64: Vec<[f64; LANES]>,
    /// e^{r} − 1 in f64 (assets with delta-one instruments).
    pub expm1: Vec<[f64; LANES]>,
    /// e^{−r} − 1 in f64 (coins of coin-margined accounts).
    pub expm1_neg: Vec<[f64; LANES]>,
    /// Per asset, the smallest and largest log return in `T` over all lanes, padding
    /// included.
    pub range: Vec<(T, T)>,
    scratch: Scratch,
    /// One step's draws of every lane, sized for the model on first use.
    draws: Option<BlockDraws>,
}

impl<T: Real> ScenarioLanes<T> {
    pub fn new(assets: usize) -> Self {
        Self {
            paths: [0; LANES],
            valid: 0,
            states: vec![AssetState::default(); LANES * assets],
            log_return: vec![[T::ZERO; LANES]; assets],
            growth: vec![[T::ONE; LANES]; assets],
            log_vol: vec![[T::ZERO; LANES]; assets],
            growth64: vec![[1.0; LANES]; assets],
            expm1: vec![[0.0; LANES]; assets],
            expm1_neg: vec![[0.0; LANES]; assets],
            range: vec![(T::ZERO, T::ZERO); assets],
            scratch: Scratch::default(),
            draws: None,
        }
    }

    /// Scenario stage: simulates `paths` (at most [`LANES`]) into lanes `0..paths.len()`,
    /// pads the rest with the unmoved state, and lays the states out per asset. Each step's
    /// draws of every lane come from one SIMD pass ([`BlockDraws`]); the reference's
    /// [`ScenarioModel::advance`] then moves each lane's states.
    pub fn simulate(
        &mut self,
        isa: Isa,
        scenarios: &ScenarioModel,
        model: &FastModel<T>,
        paths: &[u32],
    ) {
        assert!(paths.len() <= LANES, "a block holds at most {LANES} paths");
        let assets = scenarios.asset_count();
        self.valid = paths.len();
        self.paths[..paths.len()].copy_from_slice(paths);
        self.paths[paths.len()..].fill(0);
        self.states.fill(AssetState::default());
        // A scratch reused for another book gets arrays of that book's shape.
        if !self.draws.as_ref().is_some_and(|d| d.fits(scenarios)) {
            self.draws = None;
        }
        let draws = self.draws.get_or_insert_with(|| BlockDraws::new(scenarios));
        let key = scenarios.draws.key();
        let mut components = [None; LANES];
        for step in 0..scenarios.steps {
            draws.fill(isa, key, &self.paths, step);
            // Each path's importance-sampling component, once, from the mixture uniform
            // step 0's draws include.
            if let Some(is) = scenarios.importance.as_deref().filter(|_| step == 0) {
                for (lane, c) in components[..paths.len()].iter_mut().enumerate() {
                    *c = is.component_at(draws.mix_uniform(lane));
                }
            }
            for (lane, &component) in components[..paths.len()].iter().enumerate() {
                let out = &mut self.states[lane * assets..(lane + 1) * assets];
                scenarios.advance(step, component, &draws.lane(lane), &mut self.scratch, out);
            }
        }
        self.lay_out(model);
    }

    /// Lanes `0..states.len() / assets` from explicit states (lane-major, as in `states`),
    /// the rest padded with the unmoved state: what [`Self::simulate`] gives for paths with
    /// those states. `rows` are the rows' numbers (the lanes' paths).
    pub fn load(
        &mut self,
        states: &[AssetState],
        model: &FastModel<T>,
        rows: std::ops::Range<u32>,
    ) {
        let assets = self.log_return.len();
        let valid = (rows.end - rows.start) as usize;
        assert!(
            valid <= LANES && states.len() == valid * assets,
            "a block of whole rows"
        );
        self.valid = valid;
        for (lane, path) in self.paths.iter_mut().enumerate() {
            *path = if lane < valid {
                rows.start + lane as u32
            } else {
                0
            };
        }
        self.states[..states.len()].copy_from_slice(states);
        self.states[states.len()..].fill(AssetState::default());
        self.lay_out(model);
    }

    /// Per asset, the lanes' states as the kernels read them, from `states`.
    fn lay_out(&mut self, model: &FastModel<T>) {
        let assets = self.log_return.len();
        for a in 0..assets {
            let (mut lo, mut hi) = (T::INFINITY, T::NEG_INFINITY);
            for lane in 0..LANES {
                let s = self.states[lane * assets + a];
                let r = s.log_return;
                let g = r.exp();
                let r_t = T::from_f64(r);
                self.log_return[a][lane] = r_t;
                self.log_vol[a][lane] = T::from_f64(s.log_vol);
                self.growth64[a][lane] = g;
                self.growth[a][lane] = T::from_f64(g);
                if model.needs_expm1[a] {
                    self.expm1[a][lane] = r.exp_m1();
                }
                if model.needs_expm1_neg[a] {
                    self.expm1_neg[a][lane] = (-r).exp_m1();
                }
                lo = if r_t < lo { r_t } else { lo };
                hi = hi.max(r_t);
            }
            self.range[a] = (lo, hi);
        }
    }
}

/// [`crate::engine::Backend::table_pnl_columns`] in the SIMD kernels of lane type `T`: the
/// rows of `table` in blocks of [`LANES`] through [`kernel::revalue`] of only `instruments`
/// (a lane's P&L depends on its own state alone, so on no other row of its block).
pub fn table_pnl_columns<T: Real>(
    book: &Book,
    table: &ScenarioTable,
    instruments: &[usize],
    isa: Isa,
) -> Vec<Vec<f64>> {
    use rayon::prelude::*;
    let isa = Isa::supported(isa);
    let model = FastModel::<T>::new(book).restricted(instruments);
    let (rows, assets) = (table.len(), table.assets());
    let blocks: Vec<Vec<[T; LANES]>> = (0..rows.div_ceil(LANES))
        .into_par_iter()
        .map_init(
            || {
                let lanes = ScenarioLanes::<T>::new(assets);
                (lanes, KernelScratch::new(&model))
            },
            |(lanes, scratch), b| {
                let (first, last) = (b * LANES, ((b + 1) * LANES).min(rows));
                let states = table.rows(first..last);
                lanes.load(states, &model, first as u32..last as u32);
                let mut pnl = vec![[T::ZERO; LANES]; instruments.len()];
                kernel::revalue(isa, &model, lanes, scratch, &mut pnl);
                pnl
            },
        )
        .collect();
    (0..instruments.len())
        .map(|j| {
            (0..rows)
                .map(|p| blocks[p / LANES][j][p % LANES].to_f64())
                .collect()
        })
        .collect()
}

/// Working memory of one worker: a block's lanes, its P&L rows and the loss rows of a batch
/// of accounts.
#[derive(Clone, Debug)]
pub struct BlockScratch<T: Real> {
    pub lanes: ScenarioLanes<T>,
    pub kernel: Box<KernelScratch<T>>,
    /// `pnl[instrument][lane]`.
    pub pnl: Vec<[T; LANES]>,
    /// `losses[account in batch][lane]`: [`ACCOUNT_BATCH`] rows (fewer for a smaller book).
    pub losses: Vec<[f64; LANES]>,
}

impl<T: Real> BlockScratch<T> {
    pub fn new(book: &Book, model: &FastModel<T>) -> Self {
        Self {
            lanes: ScenarioLanes::new(book.assets.len()),
            kernel: KernelScratch::new(model),
            pnl: vec![[T::ZERO; LANES]; book.instruments.len()],
            losses: vec![[0.0; LANES]; ACCOUNT_BATCH.min(book.accounts.len())],
        }
    }
}

/// Everything the fast mode needs for a run, built once.
#[derive(Clone, Debug)]
pub struct FastPipeline<T> {
    pub isa: Isa,
    pub scenarios: ScenarioModel,
    pub model: FastModel<T>,
}

impl<T: Real> FastPipeline<T> {
    pub fn new(book: &Book, seed: u64, isa: Isa) -> Self {
        Self {
            isa: Isa::supported(isa),
            scenarios: ScenarioModel::new(book, seed),
            model: FastModel::new(book),
        }
    }

    /// Scenario and revalue stages for up to [`LANES`] paths: `scratch.pnl` holds the P&L.
    pub fn revalue_block(&self, paths: &[u32], scratch: &mut BlockScratch<T>) {
        scratch
            .lanes
            .simulate(self.isa, &self.scenarios, &self.model, paths);
        kernel::revalue(
            self.isa,
            &self.model,
            &scratch.lanes,
            &mut scratch.kernel,
            &mut scratch.pnl,
        );
    }

    /// All four stages for up to [`LANES`] paths, into each account's tail, each stage
    /// timed into `times` (aggregate and tail per batch of [`ACCOUNT_BATCH`] accounts).
    pub fn simulate_block(
        &self,
        book: &Book,
        paths: &[u32],
        scratch: &mut BlockScratch<T>,
        tails: &mut [TailBuffer],
        times: &mut StageTimes,
    ) {
        let mut laps = Laps::start();
        scratch
            .lanes
            .simulate(self.isa, &self.scenarios, &self.model, paths);
        laps.lap(&mut times.scenario);
        kernel::revalue(
            self.isa,
            &self.model,
            &scratch.lanes,
            &mut scratch.kernel,
            &mut scratch.pnl,
        );
        laps.lap(&mut times.revalue);
        let BlockScratch {
            lanes, pnl, losses, ..
        } = scratch;
        for (accounts, batch_tails) in book
            .accounts
            .chunks(ACCOUNT_BATCH)
            .zip(tails.chunks_mut(ACCOUNT_BATCH))
        {
            for (account, loss) in accounts.iter().zip(losses.iter_mut()) {
                kernel::aggregate(self.isa, book, account, lanes, pnl, loss);
            }
            laps.lap(&mut times.aggregate);
            for (tail, loss) in batch_tails.iter_mut().zip(losses.iter()) {
                for (&loss, &path) in loss.iter().zip(&lanes.paths[..lanes.valid]) {
                    tail.push(TailEntry { loss, path });
                }
            }
            laps.lap(&mut times.tail);
        }
    }
}
