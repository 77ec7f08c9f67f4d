//! Reading and validating the input files of SPEC §2. Every error names the file, the field
//! (JSON path or CSV line and column) and the value, and exits 65 (66 when unreadable).
//!
//! - [`load_market`] / [`parse_market`]: the market snapshot (`--market`);
//! - [`load_portfolio`] / [`parse_portfolio_json`] / [`parse_portfolio_csv`]: positions
//!   (`--portfolio`), instruments by Deribit name or as explicit objects;
//! - [`load_config`] / [`parse_config`]: the run configuration (`--config`);
//! - [`parse_added_position`]: a `--add INSTRUMENT:QUANTITY` value of `whatif`;
//! - [`load_history`] / [`parse_history`]: daily closes (`--history`, SPEC §9).
//!
//! What needs more than one file (an instrument's underlying is in the market, its expiry
//! after `as_of`, the correlation covers the book, a margin currency is simulated) is
//! checked when the book is compiled, with the [`crate::portfolio::Origin`] recorded here.

pub mod bounds;
mod config;
pub mod history;
pub(crate) mod json;
mod market;
mod portfolio;
mod records;
pub mod requests;

use std::path::Path;

use crate::error::{Error, Result};

pub use config::parse_config;
pub use history::{History, parse_history};
pub use market::{parse_correlation, parse_market};
pub use portfolio::{parse_added_position, parse_portfolio_csv, parse_portfolio_json};

use crate::config::RunConfig;
use crate::market::Market;
use crate::portfolio::Portfolio;

/// Reads and validates a market snapshot.
pub fn load_market(path: &Path) -> Result<Market> {
    parse_market(&read(path)?, &path.display().to_string())
}

/// Reads and validates positions: CSV when the file name ends in `.csv` (any case), JSON
/// otherwise.
pub fn load_portfolio(path: &Path) -> Result<Portfolio> {
    let text = read(path)?;
    let file = path.display().to_string();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        parse_portfolio_csv(&text, &file)
    } else {
        parse_portfolio_json(&text, &file)
    }
}

/// Reads and validates a run configuration; absent fields take [`RunConfig::default`].
pub fn load_config(path: &Path) -> Result<RunConfig> {
    parse_config(&read(path)?, &path.display().to_string())
}

/// Reads a price history for the assets `market` simulates with a history
/// ([`Market::history_symbols`]), keeping rows dated on or before the UTC calendar date of
/// its `as_of` (SPEC §9, settled details 1–3).
pub fn load_history(path: &Path, market: &Market) -> Result<History> {
    parse_history(
        &read(path)?,
        &path.display().to_string(),
        &market.history_symbols(),
        market.as_of_date(),
    )
}

/// The text of a file: [`Error::unreadable`] when it cannot be read, an input error when it
/// is not UTF-8.
pub(crate) fn read(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::unreadable(path, e))?;
    text_of(bytes, &path.display().to_string())
}

/// The text of the bytes of input file `file`, as `read` takes it: an input error naming
/// the line, column and bytes when it is not UTF-8. The byte-level entry point of every
/// text parser (the fuzz targets in `fuzz/` start here).
pub fn text_of(bytes: Vec<u8>, file: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let prefix = String::from_utf8_lossy(&bytes[..valid]);
        let (line, column) = json::line_column(&prefix, prefix.len());
        let bad: Vec<String> = bytes[valid..]
            .iter()
            .take(4)
            .map(|b| format!("{b:#04x}"))
            .collect();
        Error::input(
            file,
            format!("line {line}, column {column}"),
            format!("bytes {}", bad.join(" ")),
            "the file is not UTF-8 text",
        )
    })
}
