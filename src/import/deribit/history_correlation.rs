//! D9 `--history H`: the imported market's correlation is the EWMA correlation of a price
//! history (SPEC §9), calibrated exactly as `tailrisk calibrate` does it over the imported
//! assets in the market's order (sorted, D14), with the default `calibration` parameters
//! (λ = 0.94, 30 seed returns): import takes no configuration, and a run given the same
//! `--history` recalibrates with its own configuration anyway.
//!
//! The history's rules are §9's: every imported asset needs a column (else an input error
//! naming it), rows dated after the UTC calendar date of as_of are ignored, fewer than 60
//! returns is an input error. SPEC sets no staleness rule; a history whose last return is
//! more than 5 days before as_of is noted, not refused.

use super::Notes;
use super::market::CorrelationOut;
use crate::calibrate::{DofChoice, calibrate};
use crate::config::CalibrationConfig;
use crate::error::{Error, Result};
use crate::input::parse_history;

use super::Document;

/// A history ending this many days or more before as_of is noted as stale.
const STALE_DAYS: i64 = 5;

/// The EWMA correlation of `history` over `symbols` (module docs); `as_of_ms` is the
/// imported market's as_of.
pub fn calibrated(
    history: &Document,
    symbols: &[String],
    as_of_ms: i64,
    notes: &mut Notes,
) -> Result<CorrelationOut> {
    let as_of = chrono::DateTime::from_timestamp_millis(as_of_ms).ok_or_else(|| {
        Error::input(
            &history.file,
            "as_of",
            as_of_ms.to_string(),
            "the imported as_of is not a representable date",
        )
    })?;
    let parsed = parse_history(&history.text, &history.file, symbols, as_of.date_naive())?;
    if let Some(warning) = parsed.gap_warning() {
        notes.push(&history.file, "date", warning);
    }
    if let Some(last) = parsed.dates.last() {
        let behind = (as_of.date_naive() - *last).num_days();
        if behind >= STALE_DAYS {
            notes.push(
                &history.file,
                "date",
                format!(
                    "the last return used is dated {last}, {behind} days before the imported \
                     as_of {}: the correlation is that of the history's end",
                    as_of.date_naive()
                ),
            );
        }
    }
    let c = calibrate(
        &parsed,
        &CalibrationConfig::default(),
        None,
        DofChoice::Configured(None),
        as_of.timestamp_millis(),
    )?;
    notes.push(
        &history.file,
        "correlation",
        format!(
            "EWMA correlation (λ = {}) over {} returns, {} to {}",
            c.lambda, c.returns, c.first, c.last
        ),
    );
    Ok(CorrelationOut {
        symbols: c.correlation.symbols,
        matrix: c.correlation.matrix,
    })
}
