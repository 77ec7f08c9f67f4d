//! `tailrisk run --shard I/N --shard-file F` and `tailrisk merge F…` (SPEC §14).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::args::{CommonArgs, Format};
use super::commands::{on_backend, warned};
use super::output::{write_bytes, write_output};
use super::report::write_page;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::report::html::{AccountExtras, DetailChoice, RunPage, run_page};
use crate::shard::file::encode;
use crate::shard::merge::read_shard;
use crate::shard::{Merged, ShardSpec, merge_with_extras, run_shard};

/// `tailrisk run`: the common flags, and the shard a run may be (H7: only `run` has them).
#[derive(Clone, Debug, Default, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Simulate only shard I of N: paths [⌊I·P/N⌋, ⌊(I+1)·P/N⌋) of the P paths; writes
    /// --shard-file instead of a report (merge the N files with `tailrisk merge`).
    #[arg(
        long,
        value_name = "I/N",
        requires = "shard_file",
        conflicts_with_all = ["output", "report", "report_accounts", "report_account"],
        allow_hyphen_values = true
    )]
    pub shard: Option<ShardSpec>,
    /// Where `--shard` writes its shard file (replaced whole, or left untouched on failure).
    #[arg(long, value_name = "FILE", requires = "shard")]
    pub shard_file: Option<PathBuf>,
}

/// `tailrisk merge`.
#[derive(Clone, Debug, Args)]
pub struct MergeArgs {
    /// The shard files of one run, in any order: every shard 0..N once.
    #[arg(required = true, value_name = "SHARD_FILE")]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout (replaced whole, or left untouched on
    /// failure).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the HTML report of the whole run to FILE: the page `run --report` writes.
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

/// Runs one shard and writes its file; stdout stays empty (H7).
pub fn run_shard_command(args: &RunArgs) -> Result<ExitCode> {
    let (Some(spec), Some(path)) = (args.shard, args.shard_file.as_ref()) else {
        // clap makes each of the two flags require the other.
        return Err(Error::input(
            "command line",
            "--shard",
            "",
            "needs --shard-file",
        ));
    };
    if args.common.variance_reduction != super::args::VarianceReduction::None {
        return Err(Error::Usage(
            "--variance-reduction is does not apply to --shard (shards merge plain tails)".into(),
        ));
    }
    super::collide::distinct_outputs(
        &[("--shard-file", Some(path.as_path()))],
        &args.common.input_files(),
    )?;
    let file = warned(on_backend(&args.common, |inputs, backend, progress| {
        let shard = spec.check(inputs.config.paths)?;
        let run = run_shard(inputs, shard, backend, progress)?;
        Ok((run.file, run.warnings))
    })?);
    write_bytes(path, &encode(&file))?;
    let h = &file.header;
    eprintln!(
        "tailrisk: shard {}/{} (paths {}..{} of {}) written to {}",
        h.index,
        h.shards,
        h.first_path,
        h.end_path,
        h.paths,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads every shard file, merges them and writes the report as `--format` asks.
pub fn merge_command(args: &MergeArgs) -> Result<ExitCode> {
    let inputs: Vec<(&str, Option<&std::path::Path>)> = args
        .files
        .iter()
        .map(|f| ("shard", Some(f.as_path())))
        .collect();
    super::collide::distinct_outputs(
        &[
            ("--output", args.output.as_deref()),
            ("--report", args.report.as_deref()),
        ],
        &inputs,
    )?;
    let shards = args
        .files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|e| Error::unreadable(path, e))?;
            read_shard(&path.display().to_string(), &bytes)
        })
        .collect::<Result<Vec<_>>>()?;
    let Merged { report, extras } = merge_with_extras(shards)?;
    // Rendered before anything is written (an unknown --report-account fails first, as on
    // `run`), written after the report.
    let html = match &args.report {
        Some(_) => Some(merge_page(args, &report, &extras)?),
        None => None,
    };
    let json = report.to_json();
    let text = match args.format {
        Format::Json => json + "\n",
        Format::Table => report.to_table(),
    };
    write_output(args.output.as_deref(), &text)?;
    if let (Some(path), Some(html)) = (&args.report, html) {
        write_page(path, &html)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The page of the merged run: `run --report`'s renderer on the merged report and extras.
fn merge_page(args: &MergeArgs, report: &Report, extras: &[AccountExtras]) -> Result<String> {
    let json = report.to_json();
    run_page(&RunPage {
        report,
        json: &json,
        extras,
        detail: &DetailChoice {
            top: args.report_accounts.unwrap_or(DetailChoice::default().top),
            named: args.report_account.clone(),
        },
    })
}
