//! clap definitions. Flags override the configuration file field by field.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// tailrisk: Monte Carlo portfolio margin for crypto options and derivatives.
#[derive(Debug, Parser)]
#[command(name = "tailrisk", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate, revalue and report VaR, ES, components (the sample book without arguments).
    Run(super::shard::RunArgs),
    /// Print every stress scenario's loss per account (each grid point, each named scenario)
    /// with the margin they feed, marking those that set initial margin.
    Stress(CommonArgs),
    /// Run the same inputs and seed on the GPU and the CPU reference and compare them stage
    /// by stage (draws, scenario states, instrument P&L, losses, VaR/ES); exit 1 outside the
    /// documented tolerances, 69 without a GPU adapter.
    Verify(CommonArgs),
    /// An account's ES and initial margin before and after adding positions, on the same
    /// scenarios as a full run.
    Whatif(WhatifArgs),
    /// List the GPU adapters wgpu finds, with the features and limits tailrisk uses.
    Devices,
    /// Calibrate EWMA vols, correlation, long-run and stressed vols, Student-t ν and the
    /// anti-procyclicality tool's vol_used to a price history (SPEC §9).
    Calibrate(CalibrateArgs),
    /// Throughput of the backends on a generated book over a list of path counts: seconds,
    /// paths/s, full repricings/s, seconds per stage and peak memory (docs/benchmarks.md).
    Bench(BenchArgs),
    /// Merge the shard files of `run --shard I/N` into the report of the whole run (SPEC §14).
    Merge(super::shard::MergeArgs),
    /// Turn saved exchange API responses into a market snapshot and positions (SPEC §15).
    Import(super::import::ImportArgs),
    /// Replay the book day by day over a price history: one-day VaR, ES and initial margin
    /// against the realised loss, with Kupiec, Christoffersen, the Basel traffic light,
    /// Acerbi–Székely Z₂ and the procyclicality of margin (SPEC §11).
    Backtest(super::backtest::BacktestArgs),
    /// VaR and ES with their 95 % intervals and seconds at 10³, 10⁴, … paths up to `--paths`
    /// (10⁷ by default), and the paths a given precision of ES needs; `--plot` draws it.
    Converge(super::converge::ConvergeArgs),
    /// Serve margin over HTTP/JSON: every account computed once, scenarios kept warm, live
    /// market updates, trades and what-ifs (SPEC §13).
    Serve(super::serve::ServeArgs),
}

/// `tailrisk bench`.
#[derive(Clone, Debug, Args)]
pub struct BenchArgs {
    /// Options in the generated book (its instruments).
    #[arg(long, default_value_t = 576)]
    pub options: usize,
    /// Underlying assets of the generated book.
    #[arg(long, default_value_t = 3)]
    pub assets: usize,
    /// Accounts of the generated book (one holds every option; the others subsets).
    #[arg(long, default_value_t = 1)]
    pub accounts: usize,
    /// Time steps per path.
    #[arg(long, default_value_t = 1)]
    pub steps: u32,
    /// Path counts, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_values_t = [10_000u64, 100_000, 1_000_000, 10_000_000]
    )]
    pub paths: Vec<u64>,
    #[arg(long, value_enum, default_value_t = BenchBackend::All)]
    pub backend: BenchBackend,
    /// Measure the CPU in this precision only (default: all three).
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionChoice>,
    /// On the GPU, skip the second, stage-timed run of each count (stage seconds are then
    /// not reported): one run per count, for timing the whole process.
    #[arg(long)]
    pub no_stage_split: bool,
    /// Philox seed of the simulation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Skip a run whose time, extrapolated from the previous path count, exceeds this.
    #[arg(long, default_value_t = 60.0, allow_negative_numbers = true)]
    pub budget_seconds: f64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the results to FILE instead of stdout (replaced whole, or left untouched on
    /// failure).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads of the CPU backend (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The backends `tailrisk bench` measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum BenchBackend {
    /// The CPU in f64 and f32, and the GPU on any adapter if there is one.
    #[default]
    All,
    /// The CPU in f64 (the reference) and f32 (SIMD kernels).
    Cpu,
    /// The GPU on any adapter (lavapipe counts); exit 69 without one.
    Gpu,
}

/// `tailrisk calibrate`.
#[derive(Clone, Debug, Args)]
pub struct CalibrateArgs {
    /// Daily closes (CSV, header date,SYM,…).
    #[arg(long, value_name = "FILE")]
    pub history: PathBuf,
    /// Market snapshot (JSON): as_of and the simulated assets.
    #[arg(long, value_name = "FILE")]
    pub market: PathBuf,
    /// Run configuration (JSON): `calibration` and `margin.apc`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the calibration to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `tailrisk whatif`.
#[derive(Clone, Debug, Args)]
pub struct WhatifArgs {
    /// The account to change.
    #[arg(long)]
    pub account: String,
    /// A position to add, INSTRUMENT:QUANTITY (a Deribit name, e.g. BTC-25DEC26-100000-C:-5);
    /// repeat for several.
    #[arg(
        long = "add",
        value_name = "INSTRUMENT:QUANTITY",
        required = true,
        allow_hyphen_values = true
    )]
    pub add: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Which engine runs the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU if there is one, else the CPU backend.
    #[default]
    Auto,
    /// wgpu on any adapter (lavapipe counts); exit 69 without one.
    Gpu,
    /// The native f64 reference.
    Cpu,
}

/// Where a run's scenarios come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum MethodChoice {
    /// Monte Carlo paths.
    #[default]
    Mc,
    /// Historical simulation: the history's days, as they were.
    Hs,
    /// Filtered historical simulation: the days rescaled from their EWMA vol to today's.
    Fhs,
}

/// `--variance-reduction`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum VarianceReduction {
    /// Plain Monte Carlo.
    #[default]
    None,
    /// Importance sampling of the tail.
    Is,
}

/// Arithmetic of the CPU backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum PrecisionChoice {
    /// The f64 SIMD kernels (AVX-512 or AVX2+FMA when the CPU has them): the default.
    #[default]
    F64,
    /// The f64 reference stages (scalar, libm), which every other precision is checked
    /// against.
    #[value(name = "f64-reference")]
    F64Reference,
    /// The f32 SIMD kernels (AVX-512 or AVX2+FMA when the CPU has them).
    F32,
}

impl PrecisionChoice {
    /// The engine's precision of this choice.
    pub fn precision(self) -> crate::engine::Precision {
        use crate::engine::Precision;
        match self {
            PrecisionChoice::F64 => Precision::F64,
            PrecisionChoice::F64Reference => Precision::F64Reference,
            PrecisionChoice::F32 => Precision::F32,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

/// Flags common to the commands that run the engine.
#[derive(Clone, Debug, Default, Args)]
pub struct CommonArgs {
    /// Market snapshot (JSON). Default: the embedded sample market.
    #[arg(long, value_name = "FILE")]
    pub market: Option<PathBuf>,
    /// Positions (JSON, or CSV with a .csv extension). Default: the embedded sample book.
    #[arg(long, value_name = "FILE")]
    pub portfolio: Option<PathBuf>,
    /// Run configuration (JSON). Default: the embedded sample configuration when the market
    /// is the sample's, else the documented defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Daily closes (CSV): calibrate spot vols, correlation and ν to them (SPEC §9).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Scenarios: Monte Carlo paths (mc), or the history's days as they were (hs) or
    /// rescaled to today's vol (fhs); hs and fhs need --history.
    #[arg(long, value_enum, default_value_t = MethodChoice::Mc)]
    pub method: MethodChoice,
    /// Named stress scenarios (JSON), replacing the built-in set.
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<PathBuf>,
    /// Monte Carlo paths.
    #[arg(long)]
    pub paths: Option<u64>,
    /// Variance reduction of the Monte Carlo tail: none, or importance sampling (is: each
    /// account's own shifted mixture, on every backend; methodology §16.2).
    #[arg(long, value_enum, default_value_t = VarianceReduction::None)]
    pub variance_reduction: VarianceReduction,
    /// Philox seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Risk horizon in calendar days.
    #[arg(long, allow_negative_numbers = true)]
    pub horizon_days: Option<f64>,
    /// Time steps per path.
    #[arg(long)]
    pub steps: Option<u32>,
    /// Confidence levels, comma-separated (e.g. 0.99,0.995).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub confidence: Option<Vec<f64>>,
    /// Paths per chunk (default: sized from the book and the device).
    #[arg(long)]
    pub chunk_paths: Option<u32>,
    /// Repair a non-PSD correlation matrix to the nearest correlation matrix.
    #[arg(long)]
    pub repair_correlation: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Arithmetic of the CPU backend: f64 (SIMD kernels, default), f64-reference (the
    /// scalar reference) or f32 (SIMD kernels). The GPU backend always computes in f32.
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionChoice>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout (replaced whole, or left untouched on
    /// failure).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Worker threads of the CPU backend (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also write a self-contained HTML report with charts to FILE (run and stress; the
    /// normal output is written as well).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// Accounts shown in detail in the HTML report: the N with the largest initial margin
    /// (default 50).
    #[arg(long, value_name = "N")]
    pub report_accounts: Option<usize>,
    /// An account shown in detail in the HTML report besides the largest; repeat for several.
    #[arg(long, value_name = "ID")]
    pub report_account: Vec<String>,
}

impl CommonArgs {
    /// The input files the flags name, with their flags (for the check that no output
    /// replaces one).
    pub fn input_files(&self) -> [(&'static str, Option<&std::path::Path>); 5] {
        [
            ("--market", self.market.as_deref()),
            ("--portfolio", self.portfolio.as_deref()),
            ("--config", self.config.as_deref()),
            ("--history", self.history.as_deref()),
            ("--scenarios", self.scenarios.as_deref()),
        ]
    }
}
