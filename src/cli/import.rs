//! `tailrisk import deribit` (SPEC §15): the flags, reading the responses, printing the
//! notices on stderr and writing the outputs atomically once they validate: both together
//! or neither. Two outputs that are the same file, or an output that is an input, are a
//! usage error (exit 2) before anything is read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::write_files;
use crate::error::Result;
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
fn check_outputs<'a>(args: &'a DeribitArgs) -> Result<()> {
    let outputs = [
        ("--market-out", Some(args.market_out.as_path())),
        ("--portfolio-out", args.portfolio_out.as_deref()),
    ];
    let files = |flag: &'static str, files: &'a [PathBuf]| {
        files.iter().map(move |f| (flag, Some(f.as_path())))
    };
    let mut inputs: Vec<(&str, Option<&Path>)> = files("--book-summary", &args.book_summary)
        .chain(files("--positions", &args.positions))
        .collect();
    inputs.push(("--correlation", args.correlation.as_deref()));
    inputs.push(("--history", args.history.as_deref()));
    super::collide::distinct_outputs(&outputs, &inputs)
}

fn document(path: &Path) -> Result<Document> {
    Ok(Document {
        file: path.display().to_string(),
        text: crate::input::read(path)?,
    })
}
