//! The Monte Carlo pipeline and the backends that run it.
//!
//! Stages (one module per stage on the CPU, one WGSL file per stage on the GPU):
//! `scenario` (Philox draws → price/vol state at the horizon) → `revalue` (P&L per unit of
//! every instrument) → `aggregate` (holdings × P&L → loss per account) → `tail` (the
//! largest losses per account, ties broken by the lower path index).
//! Both backends implement [`Backend`]; [`crate::risk`] works on what it returns.

pub mod cpu;
pub mod gpu;
pub mod select;

pub use crate::model::{
    AccountTail, AssetState, PathRevaluation, StressScenario, TailEntry, VolRule,
};

use crate::book::Book;
use crate::error::Result;
use crate::model::distribution::LossHistogram;
use crate::model::historical::ScenarioTable;

/// Which kind of backend ran: `cpu` or `gpu` in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Cpu,
    Gpu,
}

impl BackendKind {
    /// `cpu` or `gpu`, as reports write it.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The arithmetic of a backend: the CPU computes in any of the three, the GPU in f32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f64 in the CPU's SIMD kernels of [`cpu::fast`] (polynomial exp and Φ within a few
    /// ulps of libm): the CLI's default on the CPU.
    F64,
    /// The f64 reference stages (scalar, libm): what every other result is checked against.
    #[default]
    #[serde(rename = "f64-reference")]
    F64Reference,
    /// f32: the CPU's SIMD kernels of [`cpu::fast`], and every GPU stage.
    F32,
}

impl Precision {
    /// `f64`, `f64-reference` or `f32`, as the report writes it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F64Reference => "f64-reference",
            Precision::F32 => "f32",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "f64" => Ok(Precision::F64),
            "f64-reference" => Ok(Precision::F64Reference),
            "f32" => Ok(Precision::F32),
            other => Err(format!(
                "unknown precision {other:?}: expected f64, f64-reference or f32"
            )),
        }
    }
}

/// What the report says about the backend.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendInfo {
    pub backend: BackendKind,
    /// Adapter name, or the CPU's description.
    pub device: String,
    pub precision: Precision,
}

/// What one simulation covers.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationPlan {
    /// How many paths: `first_path..first_path + paths` (the end ≤ 2³² − 1: the path is a
    /// Philox counter word).
    pub paths: u64,
    /// The first path's index: 0 for a whole run, ⌊I·P/N⌋ for shard I of N (SPEC §14).
    /// Tail entries carry global path indices, so a range's tail is exactly the part of the
    /// whole run's losses from its paths.
    pub first_path: u64,
    pub seed: u64,
    /// How many of the largest losses each account's tail keeps.
    pub tail_len: usize,
    /// Paths per chunk; `None` lets the backend size chunks from the book and its limits.
    pub chunk_paths: Option<u32>,
}

/// Seconds spent in each stage during one [`Backend::run_tails`] call.
///
/// CPU backend: time summed over worker threads (so the stages of a 2-thread run add up to
/// about twice the wall time). GPU backend: device time of each stage's dispatches, plus the
/// host's wait for readback in `transfer`.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct StageSeconds {
    pub scenario: f64,
    pub revalue: f64,
    pub aggregate: f64,
    pub tail: f64,
    /// Uploads and readbacks (GPU), zero on the CPU.
    pub transfer: f64,
}

impl std::ops::Add for StageSeconds {
    type Output = StageSeconds;

    fn add(self, o: StageSeconds) -> StageSeconds {
        StageSeconds {
            scenario: self.scenario + o.scenario,
            revalue: self.revalue + o.revalue,
            aggregate: self.aggregate + o.aggregate,
            tail: self.tail + o.tail,
            transfer: self.transfer + o.transfer,
        }
    }
}

/// Whether a [`Backend::run_tails`] call measures its stage seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StageTiming {
    /// Only where measuring costs no speed (the CPU backend); the GPU runs at full speed and
    /// returns none.
    #[default]
    IfFree,
    /// Always, even where that costs speed (the GPU then waits after each stage).
    Always,
}

/// What one [`Backend::run_tails`] call returns: the tails and, where measured, the
/// seconds of each stage of this call.
#[derive(Clone, Debug, PartialEq)]
pub struct TailsRun {
    pub tails: Vec<AccountTail>,
    pub stage_seconds: Option<StageSeconds>,
}

/// What [`Backend::counted_tails`] returns: one tail and one histogram per account.
#[derive(Clone, Debug, PartialEq)]
pub struct CountedTails {
    pub tails: Vec<AccountTail>,
    pub histograms: Vec<LossHistogram>,
}

/// A way to run the pipeline. Implemented by [`cpu::CpuBackend`] and [`gpu::GpuBackend`].
/// A backend holds no state of its calls: what a call measured comes back with its result.
pub trait Backend: Send + Sync {
    fn info(&self) -> BackendInfo;

    /// Simulates paths `plan.first_path..plan.first_path + plan.paths`, revalues every instrument, aggregates per account,
    /// and returns each account's `plan.tail_len` largest losses, with the stage seconds of
    /// this call as `timing` asks. `progress` is called with the number of paths done so
    /// far. Timing changes no bit of the tails.
    fn run_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        timing: StageTiming,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<TailsRun>;

    /// [`Backend::run_tails`] without asking for timing: the tails alone.
    fn tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<AccountTail>> {
        Ok(self
            .run_tails(book, plan, StageTiming::IfFree, progress)?
            .tails)
    }

    /// The tails of explicit scenario states in place of Monte Carlo paths (historical
    /// scenarios): row t of `table` is path t; revalue (tenor-scaled vol level), aggregate
    /// and tail are this backend's own stages, the scenario stage is replaced by the table.
    /// Chunks of `chunk_paths` rows change no bit of the result.
    fn table_tails(
        &self,
        book: &Book,
        table: &ScenarioTable,
        tail_len: usize,
        chunk_paths: Option<u32>,
    ) -> Result<Vec<AccountTail>>;

    /// The tails of [`Backend::tails`] (`table` = `None`: Monte Carlo paths `0..plan.paths`)
    /// or of [`Backend::table_tails`] (`table`: its rows, `plan.paths` = its length), and
    /// with them each account's [`LossHistogram`] of every scenario, counted in the same tail
    /// pass: nothing but the counts is read back. The tails are those of the plain calls,
    /// bit for bit; the histograms do not depend on chunk size or thread count.
    fn counted_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        table: Option<&ScenarioTable>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<CountedTails>;

    /// Regenerates the given paths alone: their states and the P&L of every instrument.
    fn revalue_paths(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<PathRevaluation>;

    /// P&L per unit of `instruments` (indices into `book.instruments`) on every row of
    /// `table`, one column per instrument: the revalue stage (tenor-scaled vol level) over
    /// explicit states, each value bit-identical to the P&L a Monte Carlo path with those
    /// states gets in [`Backend::tails`] (the service keeps these columns warm). The
    /// default is the f64 reference's stage; the CPU's SIMD kernels give their own.
    fn table_pnl_columns(
        &self,
        book: &Book,
        table: &ScenarioTable,
        instruments: &[usize],
    ) -> Result<Vec<Vec<f64>>> {
        let revalue = crate::model::revalue::RevalueModel::new(book);
        Ok(revalue.table_columns(table, instruments))
    }

    /// Losses of every account on the given regenerated paths (paths × accounts, row-major):
    /// scenario, revalue and this backend's own aggregate stage, for stage-by-stage
    /// verification.
    fn path_losses(&self, book: &Book, seed: u64, paths: &[u32]) -> Result<Vec<f64>>;

    /// P&L per unit of every instrument under explicit scenarios: scenarios × instruments.
    fn revalue_scenarios(&self, book: &Book, scenarios: &[StressScenario]) -> Result<Vec<f64>>;

    /// Raw Philox words `(path, step, block, stream)` for the given paths, blocks
    /// `0..blocks` of one step and stream: paths × blocks, for stage-by-stage verification.
    fn philox_words(
        &self,
        seed: u64,
        paths: &[u32],
        step: u32,
        blocks: u32,
        stream: u32,
    ) -> Result<Vec<[u32; 4]>>;
}
