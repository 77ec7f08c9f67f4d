//! What each command does: load inputs (or the embedded sample), pick a backend, run, print.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{
    BackendChoice, BenchArgs, BenchBackend, CalibrateArgs, Cli, Command, CommonArgs, Format,
    MethodChoice, PrecisionChoice, VarianceReduction,
};
use super::output::write_output;
use super::report as html_report;
use crate::bench::{BenchConfig, BenchRun, RunStatus, bench};
use crate::book::SourceFiles;
use crate::config::RunConfig;
use crate::engine::Backend;
use crate::engine::cpu::{CpuBackend, Precision};
use crate::error::{Error, Result};
use crate::input;
use crate::input::bounds::{AtLeastOne, Num, OpenUnit, Paths, PositiveDays, Threads, flag};
use crate::model::historical::HistoricalMethod;
use crate::portfolio::Origin;
use crate::report::stress_report;
use crate::run::{RunInputs, evaluate, evaluate_with_distributions};
use crate::stress::ScenarioSet;
use crate::verify::verify;
use crate::whatif::{AddedPosition, what_if};

/// The sample inputs compiled into the binary (`data/`).
pub mod sample {
    pub const MARKET: &str = include_str!("../../data/market.json");
    pub const PORTFOLIO: &str = include_str!("../../data/portfolio.json");
    pub const CONFIG: &str = include_str!("../../data/config.json");
    pub const MARKET_NAME: &str = "<embedded data/market.json>";
    pub const PORTFOLIO_NAME: &str = "<embedded data/portfolio.json>";
    pub const CONFIG_NAME: &str = "<embedded data/config.json>";
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(run) if run.shard.is_some() => super::shard::run_shard_command(&run),
        Command::Run(super::shard::RunArgs { common: args, .. }) => {
            let (report, html) = warned(on_backend(&args, |inputs, backend, progress| {
                if args.report.is_none() {
                    let ev = evaluate(inputs, backend, progress)?;
                    let report = crate::report::report(&ev, &inputs.config, backend);
                    return Ok(((report, None), ev.warnings));
                }
                let (ev, distributions) = evaluate_with_distributions(inputs, backend, progress)?;
                let report = crate::report::report(&ev, &inputs.config, backend);
                let html =
                    html_report::run_html(&args, &ev, distributions, inputs, backend, &report)?;
                Ok(((report, Some(html)), ev.warnings))
            })?);
            let code = emit(&args, report.to_json(), || report.to_table())?;
            written_report(&args, html.as_deref())?;
            Ok(code)
        }
        Command::Stress(args) => {
            let report = on_backend(&args, |inputs, backend, progress| {
                evaluate(inputs, backend, progress)
                    .map(|ev| (stress_report(&ev, inputs, backend), ev.warnings))
            })?;
            let report = warned(report);
            let html = match args.report {
                Some(_) => Some(html_report::stress_html(&args, &report)?),
                None => None,
            };
            let code = emit(&args, report.to_json(), || report.to_table())?;
            written_report(&args, html.as_deref())?;
            Ok(code)
        }
        Command::Verify(args) => {
            html_report::reject(&args, "verify")?;
            if args.variance_reduction == VarianceReduction::Is {
                return Err(Error::Usage(
                    "--variance-reduction is does not apply to `tailrisk verify` (it compares \
                     the backends' plain stages)"
                        .into(),
                ));
            }
            let inputs = load_inputs(&args)?;
            let gpu = crate::engine::select::any_gpu()?;
            let cpu = CpuBackend::new();
            let book = inputs.compile()?;
            let report = with_threads(args.threads, || {
                verify(&book, &inputs.config, &cpu, gpu.as_ref())
            })?;
            let json = crate::report::pretty_json(&report);
            emit(&args, json, || report.to_table())?;
            Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(crate::error::EXIT_FAILURE)
            })
        }
        Command::Whatif(args) => {
            html_report::reject(&args.common, "whatif")?;
            let added = args
                .add
                .iter()
                .map(|arg| {
                    input::parse_added_position(arg, "--add").map(
                        |(label, instrument, quantity)| AddedPosition {
                            label,
                            instrument,
                            quantity,
                            origin: Origin {
                                file: "command line".into(),
                                field: format!("--add {arg}"),
                            },
                        },
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let answer = on_backend(&args.common, |inputs, backend, progress| {
                if !inputs
                    .portfolio
                    .accounts
                    .iter()
                    .any(|a| a.id == args.account)
                {
                    return Err(Error::input(
                        "command line",
                        "--account",
                        &args.account,
                        "no such account in the portfolio",
                    ));
                }
                what_if(inputs, &args.account, &added, backend, progress)
            })?;
            for w in &answer.warnings {
                crate::error::warn(w);
            }
            emit(&args.common, answer.to_json(), || answer.to_table())
        }
        Command::Devices => {
            let text = super::devices::describe_adapters();
            write_output(None, &text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => bench_command(&args),
        Command::Import(args) => super::import::execute(&args),
        Command::Merge(args) => super::shard::merge_command(&args),
        Command::Calibrate(args) => calibrate_command(&args),
        Command::Backtest(args) => super::backtest::execute(&args),
        Command::Serve(args) => super::serve::execute(&args),
        Command::Converge(args) => super::converge::execute(&args),
    }
}

/// `tailrisk calibrate`: the calibration of SPEC §9 as a table or JSON; warnings on stderr.
fn calibrate_command(args: &CalibrateArgs) -> Result<ExitCode> {
    let market = input::load_market(&args.market)?;
    let config = match &args.config {
        Some(path) => input::load_config(path)?,
        None => RunConfig::default(),
    };
    let calibration = calibrated(&market, &config, &args.history)?;
    let text = match args.format {
        Format::Json => crate::report::pretty_json(&calibration) + "\n",
        Format::Table => calibration.to_table(),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a history and calibrates it for `market` under `config`, printing the gap and
/// EMIR-minimum warnings on stderr.
fn calibrated(
    market: &crate::market::Market,
    config: &RunConfig,
    history: &std::path::Path,
) -> Result<crate::calibrate::Calibration> {
    let history = input::load_history(history, market)?;
    calibration_of(&history, market, config)
}

/// The calibration of a read history, printing the gap and EMIR-minimum warnings on stderr.
fn calibration_of(
    history: &crate::input::History,
    market: &crate::market::Market,
    config: &RunConfig,
) -> Result<crate::calibrate::Calibration> {
    let warnings = history
        .gap_warning()
        .into_iter()
        .chain(history.stale_warning(market.as_of_date()))
        .chain(config.margin.apc.and_then(|t| t.warning()));
    for w in warnings {
        crate::error::warn(w);
    }
    crate::calibrate::calibrate(
        history,
        &config.calibration,
        config.margin.apc,
        crate::calibrate::DofChoice::of(config),
        market.as_of,
    )
}

/// `tailrisk bench`: the backends of `--backend`, each run logged on stderr as it ends.
fn bench_command(args: &BenchArgs) -> Result<ExitCode> {
    let config = BenchConfig {
        options: args.options,
        assets: args.assets,
        accounts: args.accounts,
        steps: args.steps,
        paths: args.paths.clone(),
        seed: args.seed,
        budget_seconds: args.budget_seconds,
        stage_split: !args.no_stage_split,
    };
    config.validate()?;
    if let Some(choice) = args.precision.filter(|&p| p != PrecisionChoice::F32)
        && args.backend == BenchBackend::Gpu
    {
        return Err(Error::input(
            "command line",
            "--precision",
            choice.precision().name(),
            "the GPU backend computes in f32 (--precision selects the CPU's runs)",
        ));
    }
    if let Some(threads) = args.threads {
        flag("--threads", threads, Threads::check(threads as u64))?;
    }
    let log = |run: &BenchRun| {
        let what = match (run.status, run.seconds) {
            (RunStatus::Measured, Some(s)) => format!("{s:.3} s"),
            _ => format!(
                "skipped (est. {:.0} s)",
                run.estimated_seconds.unwrap_or(f64::NAN)
            ),
        };
        eprintln!(
            "tailrisk: bench {} {} {} paths: {what}",
            run.backend, run.precision, run.paths
        );
    };
    let report = with_threads(args.threads, || -> Result<_> {
        let mut report = match args.backend {
            BenchBackend::All | BenchBackend::Cpu => {
                let cpus: Vec<CpuBackend> = match args.precision {
                    None => [Precision::F64, Precision::F64Reference, Precision::F32]
                        .map(CpuBackend::with_precision)
                        .to_vec(),
                    Some(choice) => vec![CpuBackend::with_precision(choice.precision())],
                };
                let backends: Vec<&dyn Backend> = cpus.iter().map(|b| b as &dyn Backend).collect();
                Some(bench(&config, &backends, &mut |r| log(r))?)
            }
            BenchBackend::Gpu => None,
        };
        // Opened after the CPU runs, so that the driver's memory is not in their peak RSS.
        let gpu = match args.backend {
            BenchBackend::Gpu => Some(crate::engine::select::any_gpu()?),
            BenchBackend::All => match crate::engine::select::any_gpu() {
                Ok(gpu) => Some(gpu),
                Err(why) => {
                    eprintln!("tailrisk: bench: no GPU ({why}); measured the CPU only");
                    None
                }
            },
            BenchBackend::Cpu => None,
        };
        if let Some(gpu) = gpu {
            let gpu_report = bench(&config, &[gpu.as_ref()], &mut |r| log(r))?;
            match &mut report {
                Some(report) => report.runs.extend(gpu_report.runs),
                None => report = Some(gpu_report),
            }
        }
        report.ok_or_else(|| Error::BackendUnavailable("no backend to measure".into()))
    })?;
    let text = match args.format {
        Format::Json => report.to_json() + "\n",
        Format::Table => report.to_table(),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Loads the inputs, picks the backend, and runs `work` on the `--threads` pool with a
/// progress bar over the paths; under `--backend auto`, a GPU failure reruns `work` on the
/// CPU ([`super::fallback`]).
pub(super) fn on_backend<T: Send>(
    args: &CommonArgs,
    work: impl Fn(&RunInputs, &dyn Backend, &(dyn Fn(u64) + Sync)) -> Result<T> + Send + Sync,
) -> Result<T> {
    let inputs = load_inputs(args)?;
    let backend = select_backend(args)?;
    with_threads(args.threads, || {
        super::fallback::with_fallback(args, backend.as_ref(), |backend| {
            let bar = progress_bar(inputs.config.paths);
            let result = work(&inputs, backend, &|done| bar.set_position(done));
            bar.finish_and_clear();
            result
        })
    })
}

/// Writes the HTML page of `--report`, when there is one.
fn written_report(args: &CommonArgs, html: Option<&str>) -> Result<()> {
    match (&args.report, html) {
        (Some(path), Some(html)) => html_report::write_page(path, html),
        _ => Ok(()),
    }
}

/// Prints a result's warnings on stderr and returns the result.
pub(super) fn warned<T>((value, warnings): (T, Vec<String>)) -> T {
    for w in warnings {
        crate::error::warn(w);
    }
    value
}

/// Writes a result as `--format` asks, to `--output` or stdout.
fn emit(args: &CommonArgs, json: String, table: impl FnOnce() -> String) -> Result<ExitCode> {
    let text = match args.format {
        Format::Json => json + "\n",
        Format::Table => table(),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads market, portfolio and configuration, falling back to the embedded sample, and
/// applies the flags on top of the configuration.
pub fn load_inputs(args: &CommonArgs) -> Result<RunInputs> {
    // A usage error comes before any file is read (`run` checks it again for other callers).
    if args.variance_reduction == VarianceReduction::Is && args.method != MethodChoice::Mc {
        return Err(crate::run::importance_not_historical());
    }
    super::collide::distinct_outputs(
        &[
            ("--output", args.output.as_deref()),
            ("--report", args.report.as_deref()),
        ],
        &args.input_files(),
    )?;
    let (market, market_file) = match &args.market {
        Some(path) => (input::load_market(path)?, path.display().to_string()),
        None => (
            input::parse_market(sample::MARKET, sample::MARKET_NAME)?,
            sample::MARKET_NAME.to_string(),
        ),
    };
    let portfolio = match &args.portfolio {
        Some(path) => input::load_portfolio(path)?,
        None => input::parse_portfolio_json(sample::PORTFOLIO, sample::PORTFOLIO_NAME)?,
    };
    let (mut config, config_file) = match (&args.config, &args.market) {
        (Some(path), _) => (input::load_config(path)?, path.display().to_string()),
        (None, None) => (
            input::parse_config(sample::CONFIG, sample::CONFIG_NAME)?,
            sample::CONFIG_NAME.to_string(),
        ),
        (None, Some(_)) => (RunConfig::default(), "<default configuration>".to_string()),
    };
    let configured = (config.paths, config.steps, config.seed);
    apply_flags(args, &mut config)?;
    if args.method != MethodChoice::Mc {
        // SPEC §10: hs and fhs ignore --paths, --steps and --seed (with the warning below),
        // so the report is the one without them, not one naming values that never ran.
        (config.paths, config.steps, config.seed) = configured;
    }
    let scenarios = match &args.scenarios {
        Some(path) => ScenarioSet::load(path)?,
        None => ScenarioSet::built_in(),
    };
    let inputs = RunInputs {
        market,
        portfolio,
        config,
        files: SourceFiles {
            market: market_file,
            config: config_file,
        },
        scenarios,
        historical: None,
    };
    let method = match args.method {
        MethodChoice::Mc => None,
        MethodChoice::Hs => Some(HistoricalMethod::Hs),
        MethodChoice::Fhs => Some(HistoricalMethod::Fhs),
    };
    match (&args.history, method) {
        (Some(path), method) => {
            let history = input::load_history(path, &inputs.market)?;
            let calibration = calibration_of(&history, &inputs.market, &inputs.config)?;
            let historical = method.map(|m| {
                if args.paths.is_some() || args.steps.is_some() || args.seed.is_some() {
                    eprintln!(
                        "tailrisk: warning: --paths, --steps and --seed do not apply to \
                         --method {}: the scenarios are the history's days",
                        if m == HistoricalMethod::Hs {
                            "hs"
                        } else {
                            "fhs"
                        }
                    );
                }
                crate::calibrate::historical_scenarios(
                    &history,
                    &inputs.config.calibration,
                    &calibration,
                    m,
                )
            });
            let mut inputs = crate::calibrate::apply(inputs, calibration);
            inputs.historical = historical;
            Ok(inputs)
        }
        (None, Some(_)) => Err(Error::input(
            "command line",
            "--method",
            if args.method == MethodChoice::Hs {
                "hs"
            } else {
                "fhs"
            },
            "needs --history FILE: its days are the scenarios",
        )),
        (None, None) => {
            if let Some(w) = inputs.config.margin.apc.and_then(|t| t.warning()) {
                crate::error::warn(w);
            }
            Ok(inputs)
        }
    }
}

/// Flags override the configuration; values that parse but are invalid exit 65, checked
/// by the same bounds as the configuration file's fields.
fn apply_flags(args: &CommonArgs, config: &mut RunConfig) -> Result<()> {
    if let Some(paths) = args.paths {
        config.paths = flag("--paths", paths, Paths::check(paths))?;
    }
    config.sized_by_flags = args.paths.is_some() || args.confidence.is_some();
    config.importance_sampling = args.variance_reduction == VarianceReduction::Is;
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(h) = args.horizon_days {
        config.horizon_days = flag("--horizon-days", h, Num::<PositiveDays>::check(h))?;
    }
    if let Some(steps) = args.steps {
        flag("--steps", steps, AtLeastOne::check(u64::from(steps)))?;
        config.steps = steps;
    }
    if let Some(levels) = &args.confidence {
        for &c in levels {
            flag("--confidence", c, Num::<OpenUnit>::check(c))?;
        }
        if levels.is_empty() {
            return flag("--confidence", "", Err("needs at least one level".into()));
        }
        config.confidence = levels.clone();
    }
    if let Some(chunk) = args.chunk_paths {
        flag("--chunk-paths", chunk, AtLeastOne::check(u64::from(chunk)))?;
        config.chunk_paths = Some(chunk);
    }
    if args.repair_correlation {
        config.repair_correlation = true;
    }
    if let Some(threads) = args.threads {
        flag("--threads", threads, Threads::check(threads as u64))?;
    }
    Ok(())
}

/// The backend of `--backend` and `--precision`, announced on stderr.
pub fn select_backend(args: &CommonArgs) -> Result<Box<dyn Backend>> {
    let precision = args.precision.unwrap_or_default().precision();
    let cpu = || -> Box<dyn Backend> { Box::new(CpuBackend::with_precision(precision)) };
    let backend: Box<dyn Backend> = match args.backend {
        BackendChoice::Cpu => cpu(),
        BackendChoice::Gpu if args.precision.is_some_and(|p| p != PrecisionChoice::F32) => {
            return Err(Error::input(
                "command line",
                "--precision",
                precision.name(),
                "the GPU backend computes in f32; use --precision f32 or --backend cpu",
            ));
        }
        BackendChoice::Gpu => crate::engine::select::any_gpu()?,
        BackendChoice::Auto => match crate::engine::select::hardware_gpu() {
            Ok(g) => g,
            Err(Error::Gpu(why)) => {
                // A device that exists but failed (docs/reference.md §7.4): loudly.
                eprintln!("tailrisk: warning: GPU FAILURE: {why}; using the CPU backend");
                cpu()
            }
            Err(why) => {
                eprintln!("tailrisk: no hardware GPU ({why}); using the CPU backend");
                cpu()
            }
        },
    };
    // On the --threads pool, so that the CPU's device names the threads the run uses.
    let info = with_threads(args.threads, || backend.info());
    eprintln!(
        "tailrisk: {} backend on {} ({})",
        info.backend, info.device, info.precision
    );
    Ok(backend)
}

/// Runs `f` on a rayon pool of `threads` workers, or the global pool.
pub(super) fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> T {
    match threads.and_then(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().ok()) {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress_bar(paths: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(paths), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} simulating [{bar:40}] {pos}/{len} paths ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
