//! `tailrisk converge`: the inputs of `run` at the path counts 10³, 10⁴, … up to `--paths`
//! (10⁷ by default), as a table or JSON, with an SVG plot on `--plot` (`crate::converge`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::{CommonArgs, Format, MethodChoice};
use super::commands::{load_inputs, select_backend, with_threads};
use super::output::write_output;
use crate::converge::{DEFAULT_MAX_PATHS, converge, path_counts, plot::plot};
use crate::error::{Error, Result};

/// `tailrisk converge`.
#[derive(Clone, Debug, Args)]
pub struct ConvergeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write the convergence plot (SVG: ES and the relative half-width of its interval over
    /// the path count) to FILE (replaced whole, or left untouched on failure).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

pub fn execute(args: &ConvergeArgs) -> Result<ExitCode> {
    let common = &args.common;
    super::report::reject(common, "converge")?;
    if common.method != MethodChoice::Mc {
        return Err(Error::Usage(
            "`tailrisk converge` studies Monte Carlo paths; --method hs|fhs has one scenario \
             per historical day"
                .into(),
        ));
    }
    let inputs = load_inputs(common)?;
    // `--paths` (checked by load_inputs) is the largest count; the configuration's is not.
    let max = match common.paths {
        Some(_) => inputs.config.paths,
        None => DEFAULT_MAX_PATHS,
    };
    let counts = path_counts(max);
    let backend = select_backend(common)?;
    let report = with_threads(common.threads, || {
        super::fallback::with_fallback(common, backend.as_ref(), |backend| {
            let bar = progress_bar(&counts);
            let done = |i: usize| bar.set_position(counts[..=i].iter().sum());
            let report = converge(&inputs, &counts, backend, &done);
            bar.finish_and_clear();
            report
        })
    })?;
    if let Some(path) = &args.plot {
        let svg = plot(&report).map_err(|why| Error::Output {
            file: path.display().to_string(),
            source: std::io::Error::other(format!("the plot could not be drawn: {why}")),
        })?;
        write_output(Some(path), &svg)?;
    }
    let text = match common.format {
        Format::Json => report.to_json() + "\n",
        Format::Table => report.to_table(),
    };
    write_output(common.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// A bar over the paths of every count together.
fn progress_bar(counts: &[u64]) -> ProgressBar {
    let total = counts.iter().sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} converge [{bar:40}] {pos}/{len} paths ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
