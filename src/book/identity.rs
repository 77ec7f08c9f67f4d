//! What a book is made of before its rows are compiled: which assets are simulated (the
//! correlation block's, or the one asset the positions refer to) and when two positions are
//! one instrument (their specification, floats by bit pattern).

use super::SourceFiles;
use crate::error::{Error, Result};
use crate::instrument::{InstrumentKind, InstrumentSpec, Right, Settlement};
use crate::market::Market;
use crate::portfolio::Portfolio;
use crate::time::Timestamp;

/// Identity of an instrument for de-duplication (floats by bit pattern).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct InstrumentKey {
    kind: InstrumentKind,
    underlying: String,
    right: Option<Right>,
    strike: Option<u64>,
    expiry: Option<Timestamp>,
    settlement: Settlement,
    multiplier: u64,
}

impl InstrumentKey {
    pub(super) fn of(spec: &InstrumentSpec) -> Self {
        Self {
            kind: spec.kind,
            underlying: spec.underlying.clone(),
            right: spec.right,
            strike: spec.strike.map(f64::to_bits),
            expiry: spec.expiry,
            settlement: spec.settlement,
            multiplier: spec.multiplier.to_bits(),
        }
    }
}

/// The simulated assets (`correlation.symbols`, in order) and their correlation matrix.
/// Without a correlation block, the one asset the positions and margin currencies refer to
/// (or the market's first asset when they refer to none); referring to two is an error.
pub(super) fn simulated_assets(
    market: &Market,
    portfolio: &Portfolio,
    files: &SourceFiles,
) -> Result<(Vec<String>, Vec<f64>)> {
    match &market.correlation {
        Some(c) => {
            for (i, symbol) in c.symbols.iter().enumerate() {
                if market.asset(symbol).is_none() {
                    return Err(Error::input(
                        &files.market,
                        format!("correlation.symbols[{i}]"),
                        symbol,
                        "not an asset of the market",
                    ));
                }
            }
            Ok((c.symbols.clone(), c.matrix.clone()))
        }
        None => {
            let mut referred: Vec<&str> = Vec::new();
            for account in &portfolio.accounts {
                let symbols = account
                    .positions
                    .iter()
                    .map(|p| p.instrument.underlying.as_str())
                    .chain(
                        (account.margin_currency != "USD")
                            .then_some(account.margin_currency.as_str()),
                    );
                // Unknown assets are reported with their position when instruments resolve.
                for symbol in symbols.filter(|s| market.asset(s).is_some()) {
                    if !referred.contains(&symbol) {
                        referred.push(symbol);
                    }
                }
            }
            match referred.as_slice() {
                [] => Ok((vec![market.assets[0].symbol.clone()], vec![1.0])),
                [one] => Ok((vec![one.to_string()], vec![1.0])),
                several => Err(Error::input(
                    &files.market,
                    "correlation",
                    "(missing)",
                    format!(
                        "the positions refer to {} assets ({}), so the market needs a \
                         correlation block covering them",
                        several.len(),
                        several.join(", ")
                    ),
                )),
            }
        }
    }
}
