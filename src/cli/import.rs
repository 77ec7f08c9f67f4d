//! `tailrisk import deribit` (SPEC §15): the flags, reading the responses, printing the
//! notices on stderr and writing the outputs atomically once they validate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::output::write_output;
use crate::error::Result;
use crate::import::deribit::{Document, Request, import};

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
    let imported = import(&request)?;
    for notice in &imported.notes {
        eprintln!("tailrisk: import: {notice}");
    }
    let market_file = args.market_out.display().to_string();
    let portfolio_file = args
        .portfolio_out
        .as_ref()
        .map_or(String::new(), |p| p.display().to_string());
    imported.validate(&market_file, &portfolio_file)?;
    write_output(Some(&args.market_out), &imported.market)?;
    if let (Some(path), Some(text)) = (&args.portfolio_out, &imported.portfolio) {
        write_output(Some(path), text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn document(path: &Path) -> Result<Document> {
    Ok(Document {
        file: path.display().to_string(),
        text: crate::input::read(path)?,
    })
}
