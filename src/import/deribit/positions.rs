//! `private/get_positions` → one SPEC §2 account (D1, D2, D11, D12).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;
use serde_json::value::RawValue;

use super::responses::{PositionRow, parse_row, read_rows};
use super::{Document, Notes};
use crate::error::{Error, Result};
use crate::input::json::{Path, Source};
use crate::instrument::{InstrumentKind, parse_deribit};

/// The portfolio file as written.
#[derive(Serialize)]
pub struct PortfolioOut {
    pub accounts: Vec<AccountOut>,
}

#[derive(Serialize)]
pub struct AccountOut {
    pub id: String,
    pub margin_currency: String,
    pub positions: Vec<PositionOut>,
}

#[derive(Serialize)]
pub struct PositionOut {
    pub instrument: String,
    pub quantity: f64,
}

/// What a position must match: the imported market's assets and as_of.
pub struct Known<'a> {
    pub assets: &'a [String],
    pub as_of_ms: i64,
}

/// Every row of every positions file, in order, as one account. quantity = `size` (D1:
/// Deribit already gives USD for inverse futures and perpetuals, coins for options and
/// `_USDC` contracts, the units of SPEC §2 for the same names). A response with no rows is
/// noted. An instrument that appears twice (two subaccounts, or twice in one file) stays
/// twice, with a notice naming both places: the book sums them.
pub fn import_positions(
    files: &[Document],
    account: AccountOut,
    known: &Known,
    skip_unusable: bool,
    notes: &mut Notes,
) -> Result<PortfolioOut> {
    let mut account = account;
    let mut seen: HashMap<String, String> = HashMap::new();
    for doc in files {
        let src = Source::new(&doc.text, &doc.file, "a positions response")?;
        let rows = read_rows::<&RawValue>(&src)?;
        if rows.testnet {
            notes.push(
                &doc.file,
                "testnet",
                "the response is from Deribit's testnet",
            );
        }
        if rows.rows.is_empty() {
            notes.push(
                &doc.file,
                &rows.at.to_string(),
                "the response holds no positions: nothing is imported from this file",
            );
        }
        for (i, raw) in rows.rows.into_iter().enumerate() {
            let at = rows.at.index(i);
            let row = Row {
                src: &src,
                at: &at,
                raw,
            };
            let Some(position) = row.position(known, skip_unusable, notes)? else {
                continue;
            };
            note_repeat(&mut seen, src.file, &at, &position.instrument, notes);
            account.positions.push(position);
        }
    }
    Ok(PortfolioOut {
        accounts: vec![account],
    })
}

/// Notes an instrument already read elsewhere, naming both places; `seen` maps each
/// instrument to where it was first read (`file: result[i]`).
fn note_repeat(
    seen: &mut HashMap<String, String>,
    file: &str,
    at: &Path,
    instrument: &str,
    notes: &mut Notes,
) {
    match seen.entry(instrument.to_string()) {
        Entry::Occupied(first) => notes.push(
            file,
            &at.key("instrument_name").to_string(),
            format!(
                "{instrument} is also at {}: both rows are kept, the book sums them",
                first.get()
            ),
        ),
        Entry::Vacant(slot) => {
            slot.insert(format!("{file}: {at}"));
        }
    }
}

/// One row of a positions response: its file, where it is, its text.
struct Row<'a, 'r> {
    src: &'r Source<'a>,
    at: &'r Path,
    raw: &'a RawValue,
}

impl Row<'_, '_> {
    /// The row's position; `None` when it holds none (size 0, noted) or cannot be used and
    /// `skip_unusable` is set (listed with the reason). An unusable row (of the wrong shape:
    /// no `instrument_name`, no numeric `size`; or not a position of the imported book) is
    /// an input error naming it otherwise (D12).
    fn position(
        &self,
        known: &Known,
        skip_unusable: bool,
        notes: &mut Notes,
    ) -> Result<Option<PositionOut>> {
        let (src, at) = (self.src, self.at);
        let row: PositionRow = match parse_row(src, at, self.raw, "a position object") {
            Ok(row) => row,
            Err(Error::Input {
                field,
                value,
                message,
                ..
            }) if skip_unusable => {
                notes.push(
                    src.file,
                    &field,
                    format!("skipped: {message} (got {value})"),
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if !signed_size(src, at, &row)? {
            notes.push(
                src.file,
                &at.to_string(),
                format!("{} skipped: no position (size 0)", row.instrument_name),
            );
            return Ok(None);
        }
        match unusable(&row, known) {
            None => Ok(Some(PositionOut {
                instrument: row.instrument_name,
                quantity: row.size.get(),
            })),
            Some(why) if skip_unusable => {
                let field = at.key("instrument_name").to_string();
                notes.push(src.file, &field, format!("skipped: {why}"));
                Ok(None)
            }
            Some(why) => Err(src.fail(&at.key("instrument_name"), why)),
        }
    }
}

/// D2: `size` is signed and agrees with `direction` (`buy` > 0, `sell` < 0, `zero` = 0);
/// whether the row holds a position (size ≠ 0).
fn signed_size(src: &Source, at: &Path, row: &PositionRow) -> Result<bool> {
    let size = row.size.get();
    let agrees = match row.direction.as_str() {
        "buy" => size >= 0.0,
        "sell" => size <= 0.0,
        "zero" => size == 0.0,
        _ => return Err(src.fail(&at.key("direction"), "must be buy, sell or zero")),
    };
    if !agrees {
        return Err(src.fail(
            &at.key("size"),
            format!(
                "the sign of size disagrees with direction {:?} (size is signed: negative = \
                 short)",
                row.direction
            ),
        ));
    }
    Ok(size != 0.0)
}

/// Why a row cannot be a position of the imported book (D12), if it cannot.
fn unusable(row: &PositionRow, known: &Known) -> Option<String> {
    let name = &row.instrument_name;
    let spec = match parse_deribit(name) {
        Ok(spec) => spec,
        Err(why) => {
            return Some(format!(
                "{name:?} is not an instrument tailrisk models: {why}"
            ));
        }
    };
    let kind_agrees = match (row.kind.as_deref(), spec.kind) {
        (None, InstrumentKind::Spot) => false,
        (None, _) => true,
        (Some("option"), InstrumentKind::Option) => true,
        (Some("future"), InstrumentKind::Future | InstrumentKind::Perpetual) => true,
        _ => false,
    };
    if !kind_agrees {
        let kind = row.kind.as_deref().unwrap_or("(none)");
        return Some(format!(
            "{name:?} of kind {kind:?} is not an option, future or perpetual"
        ));
    }
    if !known.assets.contains(&spec.underlying) {
        return Some(format!(
            "{name:?}: {} is not in the imported market (no usable book summary)",
            spec.underlying
        ));
    }
    if spec.expiry.is_some_and(|t| t <= known.as_of_ms) {
        return Some(format!("{name:?} has expired at the market's as_of"));
    }
    None
}
