//! `tailrisk import deribit` (SPEC §15, D1–D14): saved Deribit API responses →
//! a market snapshot ([`market`], from `public/get_book_summary_by_currency`) and one
//! account of positions ([`positions`], from `private/get_positions`).
//!
//! The library returns the files' text and the notices (rows it could not use, with the
//! reason; the fitted rates); the command prints the notices on stderr. Both outputs are
//! read back by tailrisk's own readers and compiled into a book before they are returned
//! ([`Import::validate`]).

mod history_correlation;
pub mod market;
pub mod positions;
mod responses;
pub mod smile;

use std::fmt;

use crate::book::{Book, SourceFiles};
use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::input;
use crate::market::correlation::{CorrelationError, correlation_root};
use crate::portfolio::Portfolio;
use market::{CorrelationOut, import_market};
use positions::{AccountOut, Known, import_positions};

/// An input file's name and text.
#[derive(Clone, Debug)]
pub struct Document {
    pub file: String,
    pub text: String,
}

/// One notice: a row not used and why, or a figure the import derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub file: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.message)
    }
}

/// The notices of one import, in the order they arose.
#[derive(Clone, Debug, Default)]
pub struct Notes(pub Vec<Notice>);

impl Notes {
    pub fn push(&mut self, file: &str, field: &str, message: impl Into<String>) {
        self.0.push(Notice {
            file: file.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// What to import.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub book_summaries: Vec<Document>,
    pub positions: Vec<Document>,
    /// A SPEC §2 correlation object `{symbols, matrix}` (D9).
    pub correlation: Option<Document>,
    /// A SPEC §9 price history: the correlation is then its EWMA one (D9); at most one of
    /// `correlation` and `history` is given.
    pub history: Option<Document>,
    /// Default `deribit` (D11).
    pub account_id: String,
    /// Default `USD`; `USDC` counts as USD (D7).
    pub margin_currency: String,
    /// List unusable position rows instead of failing on the first (D12).
    pub skip_unusable: bool,
}

/// The imported files' text and the notices.
#[derive(Clone, Debug)]
pub struct Import {
    pub market: String,
    /// Present when positions were given.
    pub portfolio: Option<String>,
    pub notes: Vec<Notice>,
}

/// Imports the responses of `request` (see the module docs).
pub fn import(request: &Request) -> Result<Import> {
    import_noting(request, &mut Notes::default())
}

/// [`import`], its notices written to `notes` as they are found, so that a caller can show
/// those found before a failure too (SPEC §15: rows it cannot use are reported, never
/// silently dropped; the reason an asset is not imported explains a later error).
pub fn import_noting(request: &Request, notes: &mut Notes) -> Result<Import> {
    let (mut market, as_of_ms) = import_market(&request.book_summaries, notes)?;
    let symbols: Vec<String> = market.assets.keys().cloned().collect();
    market.correlation = match &request.history {
        Some(history) => Some(history_correlation::calibrated(
            history, &symbols, as_of_ms, notes,
        )?),
        None => correlation(request.correlation.as_ref(), &symbols)?,
    };
    let portfolio = if request.positions.is_empty() {
        None
    } else {
        let account = AccountOut {
            id: account_id(&request.account_id)?,
            margin_currency: margin_currency(&request.margin_currency, &symbols)?,
            positions: Vec::new(),
        };
        let known = Known {
            assets: &symbols,
            as_of_ms,
        };
        let out = import_positions(
            &request.positions,
            account,
            &known,
            request.skip_unusable,
            notes,
        )?;
        Some(to_json(&out))
    };
    Ok(Import {
        market: to_json(&market),
        portfolio,
        notes: notes.0.clone(),
    })
}

/// Pretty JSON with a final newline: the same data gives the same bytes (D14).
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

fn account_id(id: &str) -> Result<String> {
    if id.trim().is_empty() {
        return Err(Error::input(
            "command line",
            "--account-id",
            format!("{id:?}"),
            "an account id must not be empty",
        ));
    }
    Ok(id.to_string())
}

/// D7: USDC counts as USD; a coin margin currency must be an imported asset (one the
/// imported market simulates), else the flag is named with its value.
fn margin_currency(currency: &str, symbols: &[String]) -> Result<String> {
    match currency {
        "USD" | "USDC" => Ok("USD".into()),
        c if symbols.iter().any(|s| s == c) => Ok(c.to_string()),
        c => Err(Error::input(
            "command line",
            "--margin-currency",
            c,
            format!(
                "must be USD (or USDC) or an imported asset ({})",
                symbols.join(", ")
            ),
        )),
    }
}

/// D9: `--correlation` is required when more than one asset is imported, must cover
/// every imported asset and be positive semi-definite (named as `matrix` of its file).
fn correlation(doc: Option<&Document>, symbols: &[String]) -> Result<Option<CorrelationOut>> {
    let Some(doc) = doc else {
        if symbols.len() > 1 {
            return Err(Error::input(
                "command line",
                "--correlation",
                "(missing)",
                format!(
                    "{} assets were imported ({}): --correlation FILE (a correlation object \
                     {{symbols, matrix}}) or --history H (a price history, whose EWMA \
                     correlation is used) is required",
                    symbols.len(),
                    symbols.join(", ")
                ),
            ));
        }
        return Ok(None);
    };
    let c = input::parse_correlation(&doc.text, &doc.file, symbols)?;
    if let Some(missing) = symbols.iter().find(|s| !c.symbols.contains(s)) {
        return Err(Error::input(
            &doc.file,
            "symbols",
            format!("{:?}", c.symbols),
            format!("does not list {missing}, an imported asset"),
        ));
    }
    let n = c.symbols.len();
    if let Err(CorrelationError::NotPositiveSemiDefinite { min_eigenvalue }) =
        correlation_root(&c.matrix, n, false)
    {
        return Err(Error::input(
            &doc.file,
            "matrix",
            format!("smallest eigenvalue {min_eigenvalue:.3e}"),
            "not positive semi-definite: the market needs a positive semi-definite \
             correlation matrix (import writes the matrix as given)",
        ));
    }
    Ok(Some(CorrelationOut {
        matrix: c.matrix.chunks(n).map(<[f64]>::to_vec).collect(),
        symbols: c.symbols,
    }))
}

impl Import {
    /// D14: the outputs read back as `run` reads them (named as the files they will be
    /// written to) and compiled into a book with the default configuration.
    pub fn validate(&self, market_file: &str, portfolio_file: &str) -> Result<()> {
        let market = input::parse_market(&self.market, market_file)?;
        let portfolio = match &self.portfolio {
            Some(text) => input::parse_portfolio_json(text, portfolio_file)?,
            None => Portfolio::default(),
        };
        let files = SourceFiles {
            market: market_file.to_string(),
            config: "<default configuration>".to_string(),
        };
        Book::compile(&market, &portfolio, &RunConfig::default(), &files).map(|_| ())
    }
}
