//! `tailrisk import deribit` (SPEC §15): the flags, reading the responses, printing the
//! notices on stderr and writing the outputs atomically once they validate: both together
//! or neither. Two outputs that are the same file, or an output that is an input, are a
//! usage error (exit 2) before anything is read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::write_files;
use crate::error::{Error, Result};
use crate::import::deribit::{Document, Notes, Request, import_noting};

/// `tailrisk import`.
#[derive(Clone, Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub exchange: Exchange,
}

/// The exchanges `tailrisk import` reads.
#[derive(Clone, Debug, Subcommand)]
pub enum Exchange {
    /// Deribit API responses as saved (`{"jsonrpc", "result"}` or the bare result array).
    Deribit(DeribitArgs),
}

/// `tailrisk import deribit`.
#[derive(Clone, Debug, Args)]
pub struct DeribitArgs {
    /// A saved `public/get_book_summary_by_currency` response (options and futures); repeat
    /// for several currencies or kinds.
    #[arg(long = "book-summary", value_name = "FILE", required = true)]
    pub book_summary: Vec<PathBuf>,
    /// A saved `private/get_positions` response; repeat for several (one account).
    #[arg(long, value_name = "FILE", requires = "portfolio_out")]
    pub positions: Vec<PathBuf>,
    /// Where to write the market snapshot.
    #[arg(long, value_name = "FILE")]
    pub market_out: PathBuf,
    /// Where to write the positions (needs --positions).
    #[arg(long, value_name = "FILE", requires = "positions")]
    pub portfolio_out: Option<PathBuf>,
    /// The id of the imported account.
    #[arg(long, default_value = "deribit")]
    pub account_id: String,
    /// The imported account's margin currency (USD, USDC = USD, or an imported asset).
    #[arg(long, default_value = "USD")]
    pub margin_currency: String,
    /// A correlation object {symbols, matrix}; this or --history is required when more
    /// than one asset is imported.
    #[arg(long, value_name = "FILE", conflicts_with = "history")]
    pub correlation: Option<PathBuf>,
    /// A price history (date,SYM,… daily closes): the market's correlation is its EWMA
    /// correlation (SPEC §9) over the imported assets.
    #[arg(long, value_name = "H")]
    pub history: Option<PathBuf>,
    /// List unusable position rows on stderr and leave them out, instead of failing.
    #[arg(long)]
    pub skip_unusable: bool,
}

/// Runs `tailrisk import …`.
pub fn execute(args: &ImportArgs) -> Result<ExitCode> {
    let Exchange::Deribit(args) = &args.exchange;
    check_outputs(args)?;
    let read = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| document(p))
            .collect::<Result<Vec<_>>>()
    };
    let request = Request {
        book_summaries: read(&args.book_summary)?,
        positions: read(&args.positions)?,
        correlation: args.correlation.as_deref().map(document).transpose()?,
        history: args.history.as_deref().map(document).transpose()?,
        account_id: args.account_id.clone(),
        margin_currency: args.margin_currency.clone(),
        skip_unusable: args.skip_unusable,
    };
    // The notices are shown whether or not the import succeeds: one may be the reason of
    // its error (an asset not imported, then named by --correlation).
    let mut notes = Notes::default();
    let imported = import_noting(&request, &mut notes);
    for notice in &notes.0 {
        eprintln!(
            "tailrisk: import: {}",
            crate::error::terminal_safe(&notice.to_string())
        );
    }
    let imported = imported?;
    let market_file = args.market_out.display().to_string();
    let portfolio_file = args
        .portfolio_out
        .as_ref()
        .map_or(String::new(), |p| p.display().to_string());
    imported.validate(&market_file, &portfolio_file)?;
    let mut outputs: Vec<(&Path, &[u8])> = vec![(&args.market_out, imported.market.as_bytes())];
    if let (Some(path), Some(text)) = (&args.portfolio_out, &imported.portfolio) {
        outputs.push((path, text.as_bytes()));
    }
    write_files(&outputs)?;
    Ok(ExitCode::SUCCESS)
}

/// The outputs are two different files, and neither is one of the inputs (else one would
/// overwrite the other, or the input, with exit 0): a usage error naming both flags.
fn check_outputs(args: &DeribitArgs) -> Result<()> {
    let mut outputs = vec![("--market-out", args.market_out.as_path())];
    if let Some(p) = &args.portfolio_out {
        outputs.push(("--portfolio-out", p.as_path()));
    }
    if let [(a, a_path), (b, b_path)] = outputs[..]
        && same_file(a_path, b_path)
    {
        return Err(Error::Usage(format!(
            "{a} {} and {b} {} are the same file: the outputs must be two different files",
            a_path.display(),
            b_path.display()
        )));
    }
    let inputs = [
        ("--book-summary", &args.book_summary[..]),
        ("--positions", &args.positions[..]),
        ("--correlation", args.correlation.as_slice()),
        ("--history", args.history.as_slice()),
    ];
    for (out_flag, out) in &outputs {
        for (in_flag, files) in &inputs {
            if let Some(input) = files.iter().find(|input| same_file(out, input)) {
                return Err(Error::Usage(format!(
                    "{out_flag} {} is the {in_flag} input {}: an output must not replace an \
                     input",
                    out.display(),
                    input.display()
                )));
            }
        }
    }
    Ok(())
}

/// Whether writing `a` would replace the file `b` (or the reverse): the same inode when both
/// exist, else the same path once resolved ([`resolved`]). A device or FIFO (`/dev/null`) is
/// written through, not replaced, so it may be named twice.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        if !x.is_file() || !y.is_file() {
            return false;
        }
        if (x.dev(), x.ino()) == (y.dev(), y.ino()) {
            return true;
        }
    }
    resolved(a) == resolved(b)
}

/// The file `path` names: canonical when it exists (links followed, as the writer follows
/// them), else its canonical parent directory joined with its name, else the path made
/// absolute.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let parent = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

fn document(path: &Path) -> Result<Document> {
    Ok(Document {
        file: path.display().to_string(),
        text: crate::input::read(path)?,
    })
}
