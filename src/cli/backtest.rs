//! `tailrisk backtest` (SPEC §11): the flags, reading the inputs as `run` does, a progress
//! bar over the days on stderr, and the report as a table or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{BackendChoice, CommonArgs, Format, MethodChoice, PrecisionChoice};
use super::commands::{load_inputs, select_backend, with_threads};
use super::output::write_output;
use super::report::write_page;
use crate::backtest::{BacktestInputs, DEFAULT_PATHS, backtest};
use crate::error::{Error, Result};
use crate::input;
use crate::model::historical::HistoricalMethod;
use crate::report::html::backtest_page;

/// `tailrisk backtest`.
#[derive(Clone, Debug, Args)]
pub struct BacktestArgs {
    /// Daily closes (CSV, header date,SYM,…): the days replayed and every calibration.
    #[arg(long, value_name = "FILE")]
    pub history: PathBuf,
    /// Market snapshot (JSON): the assets, and the spots, rates and expiries the book's
    /// moneyness and times to expiry are taken from.
    #[arg(long, value_name = "FILE")]
    pub market: PathBuf,
    /// Positions (JSON, or CSV with a .csv extension).
    #[arg(long, value_name = "FILE")]
    pub portfolio: PathBuf,
    /// Run configuration (JSON): calibration, margin (confidence, APC tool), dynamics,
    /// stress. Its horizon, steps and confidence list do not apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Named stress scenarios (JSON), replacing the built-in set.
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<PathBuf>,
    /// Forecasts by Monte Carlo (mc) or on the days before each forecast, as they were
    /// (hs) or rescaled to that day's vol (fhs).
    #[arg(long, value_enum, default_value_t = MethodChoice::Mc)]
    pub method: MethodChoice,
    /// Burn-in returns (≥ 60): the first backtest day is return window + 1.
    #[arg(long, default_value_t = 250)]
    pub window: usize,
    /// Monte Carlo paths a day (default 20,000).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Philox seed (the same draws every day).
    #[arg(long)]
    pub seed: Option<u64>,
    /// α of VaR, ES and the exceptions (default: the margin confidence).
    #[arg(long, allow_negative_numbers = true)]
    pub confidence: Option<f64>,
    /// First day (d_t, YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub from: Option<NaiveDate>,
    /// Last day (d_t, YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub to: Option<NaiveDate>,
    /// Paths per chunk (default: sized from the book and the device).
    #[arg(long)]
    pub chunk_paths: Option<u32>,
    /// Repair a non-PSD correlation matrix to the nearest correlation matrix.
    #[arg(long)]
    pub repair_correlation: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Arithmetic of the CPU backend: f64 (default) or f32 (SIMD kernels).
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
    /// Also write the backtest as one self-contained HTML page (SPEC §12): VaR/ES against the
    /// realised loss with the exceptions marked, IM over time, the test table.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// A `YYYY-MM-DD` flag value (malformed: a usage error, exit 2).
fn parse_date(text: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .ok_or_else(|| format!("expected a date YYYY-MM-DD, got {text:?}"))
}

impl BacktestArgs {
    /// The flags `run` shares, for its input loading and backend selection.
    fn common(&self) -> CommonArgs {
        CommonArgs {
            market: Some(self.market.clone()),
            portfolio: Some(self.portfolio.clone()),
            config: self.config.clone(),
            scenarios: self.scenarios.clone(),
            paths: Some(self.paths.unwrap_or(DEFAULT_PATHS)),
            seed: self.seed,
            chunk_paths: self.chunk_paths,
            repair_correlation: self.repair_correlation,
            backend: self.backend,
            precision: self.precision,
            format: self.format,
            output: self.output.clone(),
            threads: self.threads,
            ..CommonArgs::default()
        }
    }
}

/// Reads the inputs and the history, and runs the backtest with a progress bar over the days.
pub fn execute(args: &BacktestArgs) -> Result<ExitCode> {
    let common = args.common();
    super::collide::distinct_outputs(
        &[("--report", args.report.as_deref())],
        &[
            ("--output", args.output.as_deref()),
            ("--history", Some(args.history.as_path())),
        ],
    )?;
    let mut run = load_inputs(&common)?;
    let config = &mut run.config;
    if config.horizon_days != 1.0 || config.steps != 1 {
        eprintln!(
            "tailrisk: warning: a backtest forecasts one day in one step: the configuration's \
             horizon_days {} and steps {} do not apply",
            config.horizon_days, config.steps
        );
    }
    config.horizon_days = 1.0;
    config.steps = 1;
    let confidence = args.confidence.unwrap_or(config.margin.confidence);
    config.confidence = vec![confidence];
    let method = match args.method {
        MethodChoice::Mc => None,
        MethodChoice::Hs => Some(HistoricalMethod::Hs),
        MethodChoice::Fhs => Some(HistoricalMethod::Fhs),
    };
    if method.is_some() && (args.paths.is_some() || args.seed.is_some()) {
        eprintln!(
            "tailrisk: warning: --paths and --seed do not apply to --method hs|fhs: the \
             scenarios are the history's days"
        );
    }
    let history = input::load_history(&args.history, &run.market)?;
    if let Some(w) = history.gap_warning() {
        crate::error::warn(w);
    }
    let inputs = BacktestInputs {
        run,
        history,
        method,
        window: args.window,
        confidence,
        from: args.from,
        to: args.to,
    };
    let days = inputs.days()?;
    let backend = select_backend(&common)?;
    let report = with_threads(args.threads, || {
        super::fallback::with_fallback(&common, backend.as_ref(), |backend| {
            let bar = progress_bar(days.len() as u64);
            let report = backtest(&inputs, backend, &|done| bar.set_position(done));
            bar.finish_and_clear();
            report
        })
    })?;
    for w in &report.warnings {
        crate::error::warn(w);
    }
    let json = report.to_json();
    // The page is made before anything is written, from the JSON it embeds (R2).
    let page = match &args.report {
        Some(_) => {
            let value = serde_json::from_str(&json).map_err(|e| {
                Error::Verification(format!("internal: the backtest's JSON does not parse: {e}"))
            })?;
            Some(backtest_page(&value, &json)?)
        }
        None => None,
    };
    let text = match args.format {
        Format::Json => json + "\n",
        Format::Table => report.to_table(),
    };
    write_output(args.output.as_deref(), &text)?;
    if let (Some(path), Some(page)) = (&args.report, page) {
        write_page(path, &page)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar over the days on stderr, drawn only when stderr is a terminal.
fn progress_bar(days: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(days), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} backtesting [{bar:40}] {pos}/{len} days ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
