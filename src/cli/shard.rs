//! `tailrisk run --shard I/N --shard-file F` and `tailrisk merge F…` (SPEC §14).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::args::{CommonArgs, Format};
use super::commands::{on_backend, warned};
use super::output::{write_bytes, write_output};
use crate::error::{Error, Result};
use crate::shard::file::encode;
use crate::shard::merge::read_shard;
use crate::shard::{ShardSpec, merge, run_shard};

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
    let shards = args
        .files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(|e| Error::unreadable(path, e))?;
            read_shard(&path.display().to_string(), &bytes)
        })
        .collect::<Result<Vec<_>>>()?;
    let report = merge(shards)?;
    let text = match args.format {
        Format::Json => report.to_json() + "\n",
        Format::Table => report.to_table(),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
