//! `tailrisk bench`: throughput of the backends on a generated book over a list of path
//! counts — seconds, paths/s, full repricings/s, seconds per stage and peak memory — as a
//! table for people and JSON for programs (docs/benchmarks.md).
//!
//! # What is measured
//!
//! Each run is the wall time of [`Backend::tails`] over paths `0..N` of
//! [`generated_book`]`(options, assets, accounts, BOOK_SEED)` with `steps` time steps: all
//! four stages (scenario → revalue → aggregate → tail), the tail length of a default run
//! (VaR/ES at 99% and 99.5% with their intervals, margin at 99%). Accounts are simulated in
//! groups when accounts × tail length exceeds [`TAIL_ENTRY_BUDGET`], as a real run does
//! (`passes` says how many). Component ES, stress and margin are not part of it.
//!
//! - A **full repricing** is one instrument revalued in one scenario at the horizon; steps do
//!   not multiply it (more steps make the scenario stage longer, the revaluation is the same).
//!   Repricings/s = paths × instruments / seconds; paths/s = paths / seconds.
//! - **Stage seconds** are those [`Backend::run_tails`] returns: on the CPU the time
//!   spent in each stage summed over worker threads (so they add up to about threads × wall
//!   time); on the GPU device time per stage plus readback, where the backend measures it.
//! - **Peak RSS** is the process's high-water mark (`VmHWM` of `/proc/self/status`) after it
//!   was reset to the current resident set just before the run by writing `5` to
//!   `/proc/self/clear_refs` (Linux ≥ 4.0): it covers the book, the backend and the run's
//!   own memory. Where either file is unavailable it is reported as unknown.
//! - Before the first path count of each backend, one untimed warm-up run of
//!   min(N, [`WARM_UP_PATHS`]) paths starts the thread pool (and compiles the GPU pipelines).
//! - **Budget**: a run whose time, extrapolated linearly in the path count from the last
//!   measured run of the same backend, would exceed `budget_seconds` is skipped and reported
//!   with that estimate. Path counts run in increasing order.

use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

use crate::bench_book::generated_book;
use crate::book::Book;
use crate::config::RunConfig;
use crate::engine::{Backend, BackendKind, Precision, SimulationPlan, StageSeconds, StageTiming};
use crate::error::Result;
use crate::input::bounds::{AtLeastOne, Num, Paths, PositiveSeconds, flag};
use crate::report::group_thousands;
use crate::run::{TAIL_ENTRY_BUDGET, account_passes, plan};

/// The generator seed of the benchmarked book: the book of `benches/stages.rs` and
/// docs/benchmarks.md (it decides quantities and account subsets, not the options).
pub const BOOK_SEED: u64 = 7;

/// Paths of the untimed warm-up run before a backend's first measurement.
pub const WARM_UP_PATHS: u64 = 1 << 14;

/// What `tailrisk bench` measures.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchConfig {
    /// Options of the generated book (its instruments).
    pub options: usize,
    pub assets: usize,
    pub accounts: usize,
    /// Time steps per path.
    pub steps: u32,
    /// Path counts; run in increasing order, duplicates once.
    pub paths: Vec<u64>,
    /// Philox seed of the simulation.
    pub seed: u64,
    /// Skip a run whose extrapolated time exceeds this.
    pub budget_seconds: f64,
    /// Time the stages on a backend where timing them slows the run (the GPU) with a second,
    /// timed run; `false` reports the run's seconds only (one run per count).
    pub stage_split: bool,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            options: 576,
            assets: 3,
            accounts: 1,
            steps: 1,
            paths: vec![10_000, 100_000, 1_000_000, 10_000_000],
            seed: 42,
            budget_seconds: 60.0,
            stage_split: true,
        }
    }
}

impl BenchConfig {
    /// Every value in range, else the input error of the flag (exit 65), checked by the
    /// input layer's bounds.
    pub fn validate(&self) -> Result<()> {
        for (name, n) in [
            ("--options", self.options),
            ("--assets", self.assets),
            ("--accounts", self.accounts),
        ] {
            flag(name, n, AtLeastOne::check(n as u64))?;
        }
        flag(
            "--steps",
            self.steps,
            AtLeastOne::check(u64::from(self.steps)),
        )?;
        if self.paths.is_empty() {
            return flag("--paths", "", Err("needs at least one path count".into()));
        }
        for &p in &self.paths {
            flag("--paths", p, Paths::check(p))?;
        }
        flag(
            "--budget-seconds",
            self.budget_seconds,
            Num::<PositiveSeconds>::check(self.budget_seconds),
        )?;
        Ok(())
    }

    /// The benchmarked book.
    pub fn book(&self) -> Book {
        let mut book = generated_book(self.options, self.assets, self.accounts, BOOK_SEED);
        book.steps = self.steps;
        book
    }

    /// The path counts in the order they run.
    pub fn path_counts(&self) -> Vec<u64> {
        let mut paths = self.paths.clone();
        paths.sort_unstable();
        paths.dedup();
        paths
    }
}

/// The book a bench ran on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchBook {
    /// Instruments (all options): the repricings of one path.
    pub instruments: usize,
    pub assets: usize,
    pub accounts: usize,
    /// Net exposures over all accounts: the multiply-adds of the aggregate stage per path.
    pub exposures: usize,
    pub steps: u32,
    pub horizon_days: f64,
    pub book_seed: u64,
}

/// Whether a run was measured or skipped for the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Measured,
    Skipped,
}

/// One backend at one path count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchRun {
    pub backend: BackendKind,
    pub precision: Precision,
    pub device: String,
    pub paths: u64,
    pub status: RunStatus,
    /// Wall seconds of the run; `None` when skipped.
    pub seconds: Option<f64>,
    /// Skipped runs: the extrapolated seconds that exceeded the budget.
    pub estimated_seconds: Option<f64>,
    pub paths_per_second: Option<f64>,
    /// paths × instruments / seconds.
    pub repricings_per_second: Option<f64>,
    /// Seconds per stage, where the backend measures them.
    pub stage_seconds: Option<StageSeconds>,
    /// Peak resident set of the process during the run, bytes; `None` where unknown.
    pub peak_rss_bytes: Option<u64>,
    /// Resident set just before the run (book and backend included), bytes.
    pub baseline_rss_bytes: Option<u64>,
    /// [`Backend::tails`] calls: account groups of a book whose tails exceed the budget.
    pub passes: usize,
    /// Tail entries kept per account.
    pub tail_len: usize,
}

/// Everything `tailrisk bench` prints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BenchReport {
    pub version: String,
    pub book: BenchBook,
    pub seed: u64,
    pub budget_seconds: f64,
    /// Worker threads of the CPU backend.
    pub threads: usize,
    pub runs: Vec<BenchRun>,
}

/// Runs the bench on each backend in turn; `on_run` is called after every run (measured or
/// skipped), e.g. to log progress. Errors of a backend stop the bench.
pub fn bench(
    config: &BenchConfig,
    backends: &[&dyn Backend],
    on_run: &mut dyn FnMut(&BenchRun),
) -> Result<BenchReport> {
    config.validate()?;
    let book = config.book();
    let exposures = book.accounts.iter().map(|a| a.exposures.len()).sum();
    let mut runs = Vec::new();
    for backend in backends {
        let mut last: Option<(u64, f64)> = None;
        for (i, &paths) in config.path_counts().iter().enumerate() {
            let run_config = RunConfig {
                paths,
                seed: config.seed,
                ..RunConfig::default()
            };
            let plan = plan(&run_config);
            if i == 0 {
                let warm = SimulationPlan {
                    paths: paths.min(WARM_UP_PATHS),
                    ..plan.clone()
                };
                backend.tails(&book, &warm, &|_| {})?;
            }
            let estimate = last.map(|(p, s)| s * paths as f64 / p as f64);
            let run = match estimate {
                Some(est) if est > config.budget_seconds => {
                    skipped(*backend, paths, plan.tail_len, est)
                }
                _ => {
                    let run = measure(*backend, &book, &plan, config.stage_split)?;
                    last = run.seconds.map(|s| (paths, s));
                    run
                }
            };
            on_run(&run);
            runs.push(run);
        }
    }
    Ok(BenchReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        book: BenchBook {
            instruments: book.instruments.len(),
            assets: book.assets.len(),
            accounts: book.accounts.len(),
            exposures,
            steps: book.steps,
            horizon_days: book.horizon / crate::time::DAY,
            book_seed: BOOK_SEED,
        },
        seed: config.seed,
        budget_seconds: config.budget_seconds,
        threads: rayon::current_num_threads(),
        runs,
    })
}

fn skipped(backend: &dyn Backend, paths: u64, tail_len: usize, estimate: f64) -> BenchRun {
    let info = backend.info();
    BenchRun {
        backend: info.backend,
        precision: info.precision,
        device: info.device,
        paths,
        status: RunStatus::Skipped,
        seconds: None,
        estimated_seconds: Some(estimate),
        paths_per_second: None,
        repricings_per_second: None,
        stage_seconds: None,
        peak_rss_bytes: None,
        baseline_rss_bytes: None,
        passes: 0,
        tail_len,
    }
}

/// One timed run: every account group through [`Backend::tails`], stage seconds summed.
/// Runs every pass of a measurement; the stage seconds summed over the passes, where the
/// backend measured them.
fn run_passes(
    backend: &dyn Backend,
    passes: &[&Book],
    plan: &SimulationPlan,
    timing: StageTiming,
) -> Result<Option<StageSeconds>> {
    let mut stages: Option<StageSeconds> = Some(StageSeconds::default());
    for group in passes {
        let run = backend.run_tails(group, plan, timing, &|_| {})?;
        stages = match (stages, run.stage_seconds) {
            (Some(sum), Some(s)) => Some(sum + s),
            _ => None,
        };
    }
    Ok(stages)
}

fn measure(
    backend: &dyn Backend,
    book: &Book,
    plan: &SimulationPlan,
    stage_split: bool,
) -> Result<BenchRun> {
    let groups = account_passes(book, plan.tail_len, TAIL_ENTRY_BUDGET);
    let passes: Vec<&Book> = groups.iter().map(|g| g.as_ref()).collect();
    let rss_reset = reset_peak_rss();
    let baseline = current_rss_bytes();
    let start = Instant::now();
    let mut stages = run_passes(backend, &passes, plan, StageTiming::IfFree)?;
    let seconds = start.elapsed().as_secs_f64();
    if stages.is_none() && stage_split {
        // Stage timing costs this backend speed (the GPU waits after each stage): the
        // seconds above are of the normal run, the stage split of a second, timed run.
        stages = run_passes(backend, &passes, plan, StageTiming::Always)?;
    }
    let peak = if rss_reset { peak_rss_bytes() } else { None };
    let info = backend.info();
    let repricings = plan.paths as f64 * book.instruments.len() as f64;
    Ok(BenchRun {
        backend: info.backend,
        precision: info.precision,
        device: info.device,
        paths: plan.paths,
        status: RunStatus::Measured,
        seconds: Some(seconds),
        estimated_seconds: None,
        paths_per_second: Some(plan.paths as f64 / seconds),
        repricings_per_second: Some(repricings / seconds),
        stage_seconds: stages,
        peak_rss_bytes: peak,
        baseline_rss_bytes: baseline.filter(|_| rss_reset),
        passes: passes.len(),
        tail_len: plan.tail_len,
    })
}

/// Resets the process's peak resident set (`VmHWM`) to its current resident set by writing
/// `5` to `/proc/self/clear_refs` (Linux ≥ 4.0); `false` where that is not possible.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's peak resident set since start or the last `reset_peak_rss`, bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|kib| kib * 1024)
}

/// The process's current resident set, bytes.
fn current_rss_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// A `kB` field of `/proc/self/status`.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

impl BenchReport {
    /// JSON, one object (fields: docs/benchmarks.md).
    pub fn to_json(&self) -> String {
        crate::report::pretty_json(self)
    }

    /// A table for people: one row per backend and path count.
    pub fn to_table(&self) -> String {
        let b = &self.book;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tailrisk {} bench — {} options on {} assets, {} account{} ({} exposures), \
             {} step{}, {} d horizon; seed {}; {} CPU threads; budget {} s a run",
            self.version,
            b.instruments,
            b.assets,
            b.accounts,
            if b.accounts == 1 { "" } else { "s" },
            b.exposures,
            b.steps,
            if b.steps == 1 { "" } else { "s" },
            b.horizon_days,
            self.seed,
            self.threads,
            self.budget_seconds,
        );
        let _ = writeln!(
            out,
            "repricings/s = paths × {} / s (one instrument revalued in one scenario); stage \
             seconds summed over CPU threads, device time on the GPU; peak RSS of the process",
            b.instruments
        );
        let mut devices: Vec<(String, &str)> = Vec::new();
        for r in &self.runs {
            let key = format!("{} {}", r.backend, r.precision);
            if !devices.iter().any(|(k, _)| *k == key) {
                devices.push((key, &r.device));
            }
        }
        for (key, device) in &devices {
            let _ = writeln!(out, "  {key}: {device}");
        }
        let header = [
            "backend",
            "paths",
            "seconds",
            "paths/s",
            "repricings/s",
            "scenario s",
            "revalue s",
            "aggregate s",
            "tail s",
            "transfer s",
            "peak RSS",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for r in &self.runs {
            let mut row = vec![
                format!("{} {}", r.backend, r.precision),
                group_thousands(&r.paths.to_string()),
            ];
            match r.status {
                RunStatus::Skipped => row.push(format!(
                    "skipped (est. {} s)",
                    significant(r.estimated_seconds.unwrap_or(f64::NAN))
                )),
                RunStatus::Measured => {
                    let na = || "n/a".to_string();
                    row.push(r.seconds.map(significant).unwrap_or_else(na));
                    row.push(r.paths_per_second.map(si).unwrap_or_else(na));
                    row.push(r.repricings_per_second.map(si).unwrap_or_else(na));
                    match r.stage_seconds {
                        Some(s) => {
                            for x in [s.scenario, s.revalue, s.aggregate, s.tail, s.transfer] {
                                row.push(significant(x));
                            }
                        }
                        None => row.extend((0..5).map(|_| na())),
                    }
                    row.push(r.peak_rss_bytes.map(mib).unwrap_or_else(na));
                }
            }
            rows.push(row);
        }
        let mut widths = vec![0; header.len()];
        for row in &rows {
            // A skipped row's note spans the columns after it and sets no width.
            let sized = if row.len() == header.len() {
                row.len()
            } else {
                row.len() - 1
            };
            for (w, cell) in widths.iter_mut().zip(&row[..sized]) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for (i, row) in rows.iter().enumerate() {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                let pad = widths[c].saturating_sub(cell.chars().count());
                if c == 0 {
                    line += &format!("{cell}{}", " ".repeat(pad));
                } else if row.len() < header.len() && c == row.len() - 1 {
                    line += &format!("  {cell}");
                } else {
                    line += &format!("  {}{cell}", " ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
            if i == 0 {
                let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
                let _ = writeln!(out, "{}", "-".repeat(total));
            }
        }
        out
    }
}

/// Three significant digits, no exponent for the magnitudes of seconds.
fn significant(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let decimals = (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

/// A rate with an SI prefix and three significant digits: `640 M`, `1.25 G`.
fn si(x: f64) -> String {
    let (scaled, prefix) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|&(scale, _)| x.abs() >= scale)
        .map(|(scale, p)| (x / scale, p))
        .unwrap_or((x, ""));
    format!("{} {prefix}", significant(scaled))
        .trim_end()
        .to_string()
}

/// Bytes as MiB.
fn mib(bytes: u64) -> String {
    format!("{} MiB", significant(bytes as f64 / (1u64 << 20) as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(group_thousands("10000000"), "10,000,000");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(significant(0.012345), "0.0123");
        assert_eq!(significant(8.9), "8.90");
        assert_eq!(significant(246.4), "246");
        assert_eq!(significant(12_345.6), "12346");
        assert_eq!(si(6.4e8), "640 M");
        assert_eq!(si(1.25e9), "1.25 G");
        assert_eq!(si(512.0), "512");
        assert_eq!(mib(12 << 20), "12.0 MiB");
    }

    #[test]
    fn bad_values_name_their_flag() {
        let cases = [
            (
                BenchConfig {
                    options: 0,
                    ..BenchConfig::default()
                },
                "--options",
            ),
            (
                BenchConfig {
                    paths: vec![1000, 0],
                    ..BenchConfig::default()
                },
                "--paths",
            ),
            (
                BenchConfig {
                    budget_seconds: -1.0,
                    ..BenchConfig::default()
                },
                "--budget-seconds",
            ),
            (
                BenchConfig {
                    steps: 0,
                    ..BenchConfig::default()
                },
                "--steps",
            ),
        ];
        for (config, flag) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(err.exit_code(), crate::error::EXIT_DATA);
            assert!(err.to_string().contains(flag), "{err}");
        }
        assert!(BenchConfig::default().validate().is_ok());
    }
}
