//! The market snapshot of SPEC §2: spots, rates, implied-vol surfaces, correlation.

pub mod correlation;
pub mod surface;

pub use correlation::CorrelationRoot;
pub use surface::{Side, VolSurface};

use crate::time::Timestamp;

/// A validated market snapshot.
#[derive(Clone, Debug)]
pub struct Market {
    pub as_of: Timestamp,
    /// In the order of the file.
    pub assets: Vec<AssetQuote>,
    /// `None` when the file has no `correlation` block: then a book may refer to one asset
    /// only, which alone is simulated.
    pub correlation: Option<CorrelationInput>,
}

/// One asset of the snapshot.
#[derive(Clone, Debug)]
pub struct AssetQuote {
    pub symbol: String,
    pub spot: f64,
    /// Continuously compounded carry and discount rate.
    pub rate: f64,
    pub surface: VolSurface,
    /// Average daily traded value in USD (liquidity add-on).
    pub adv_usd: Option<f64>,
}

/// The correlation block as given (symmetric, unit diagonal, entries in [−1, 1]; PSD is
/// checked when the book is compiled).
#[derive(Clone, Debug)]
pub struct CorrelationInput {
    pub symbols: Vec<String>,
    /// Row-major n×n.
    pub matrix: Vec<f64>,
}

impl Market {
    pub fn asset(&self, symbol: &str) -> Option<&AssetQuote> {
        self.assets.iter().find(|a| a.symbol == symbol)
    }

    /// The UTC calendar date of `as_of`: history rows on or before it count (SPEC §9,
    /// settled detail 1).
    pub fn as_of_date(&self) -> chrono::NaiveDate {
        chrono::DateTime::from_timestamp_millis(self.as_of)
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// The assets simulated with a price history (SPEC §9, settled detail 2):
    /// `correlation.symbols` in that order, or without a correlation block every asset in
    /// file order.
    pub fn history_symbols(&self) -> Vec<String> {
        match &self.correlation {
            Some(c) => c.symbols.clone(),
            None => self.assets.iter().map(|a| a.symbol.clone()).collect(),
        }
    }
}
