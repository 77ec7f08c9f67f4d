//! Positions (SPEC §2 `--portfolio`): JSON accounts, or CSV rows `account,instrument,quantity`;
//! and the `--add INSTRUMENT:QUANTITY` values of `whatif`.

use std::collections::HashMap;

use super::json::{self, At};
use crate::error::{Error, Result};
use crate::instrument::{
    InstrumentKind, InstrumentSpec, Right, Settlement, is_asset_symbol, parse_deribit,
};
use crate::portfolio::{Account, Origin, Portfolio, Position};

/// The margin currency of an account that does not name one, and of every CSV account.
const USD: &str = "USD";
/// The CSV header, exactly (each name trimmed).
const CSV_HEADER: [&str; 3] = ["account", "instrument", "quantity"];
const INSTRUMENT_FIELDS: [&str; 7] = [
    "kind",
    "underlying",
    "right",
    "strike",
    "expiry",
    "settlement",
    "multiplier",
];

/// Validates positions written as JSON:
/// `{"accounts": [{"id", "margin_currency", "positions": [{"instrument", "quantity"}]}]}`.
/// An instrument is a Deribit name (the position's label) or an explicit object (labelled
/// with [`InstrumentSpec::canonical_name`]).
pub fn parse_portfolio_json(text: &str, file: &str) -> Result<Portfolio> {
    let doc = json::parse(text, file)?;
    let top = doc.root().object(&["accounts"])?;
    let accounts_at = top.require("accounts")?;
    let items = accounts_at.array()?;
    if items.is_empty() {
        return Err(accounts_at.fail("no accounts"));
    }
    let mut accounts: Vec<Account> = Vec::with_capacity(items.len());
    // Account id → the path where it was first given.
    let mut id_paths: HashMap<&str, String> = HashMap::with_capacity(items.len());
    for item in &items {
        let fields = item.object(&["id", "margin_currency", "positions"])?;
        let id_at = fields.require("id")?;
        let id = id_at.string()?;
        if id.trim().is_empty() {
            return Err(id_at.fail("an account id must not be empty"));
        }
        if let Some(first) = id_paths.get(id) {
            return Err(id_at.fail(format!("duplicate account id (also at {first})")));
        }
        let margin_currency = match fields.get("margin_currency") {
            Some(at) => {
                let currency = at.string()?;
                if !is_asset_symbol(currency) {
                    return Err(
                        at.fail("must be USD or an asset symbol (uppercase letters and digits)")
                    );
                }
                currency.to_string()
            }
            None => USD.to_string(),
        };
        let positions = fields
            .require("positions")?
            .array()?
            .iter()
            .map(|at| position(at, file))
            .collect::<Result<Vec<_>>>()?;
        id_paths.insert(id, id_at.path());
        accounts.push(Account {
            id: id.to_string(),
            margin_currency,
            positions,
        });
    }
    Ok(Portfolio { accounts })
}

fn position(at: &At, file: &str) -> Result<Position> {
    let fields = at.object(&["instrument", "quantity"])?;
    let instrument_at = fields.require("instrument")?;
    let (label, instrument) = if let Some(name) = instrument_at.as_str() {
        let spec = parse_deribit(name).map_err(|why| instrument_at.fail(why))?;
        (name.to_string(), spec)
    } else if instrument_at.is_object() {
        let spec = explicit_instrument(&instrument_at)?;
        (spec.canonical_name(), spec)
    } else {
        return Err(
            instrument_at.fail("expected a Deribit instrument name or an instrument object")
        );
    };
    let quantity = fields.require("quantity")?.number()?;
    Ok(Position {
        label,
        instrument,
        quantity,
        origin: Origin {
            file: file.to_string(),
            field: instrument_at.path(),
        },
    })
}

/// `{kind, underlying, right, strike, expiry, settlement, multiplier}`, with only the fields
/// that apply to the kind.
fn explicit_instrument(at: &At) -> Result<InstrumentSpec> {
    let fields = at.object(&INSTRUMENT_FIELDS)?;
    let kind_at = fields.require("kind")?;
    let (kind, applies): (InstrumentKind, &[&str]) = match kind_at.string()? {
        "spot" => (InstrumentKind::Spot, &["kind", "underlying", "multiplier"]),
        "perpetual" => (
            InstrumentKind::Perpetual,
            &["kind", "underlying", "settlement", "multiplier"],
        ),
        "future" => (
            InstrumentKind::Future,
            &["kind", "underlying", "expiry", "settlement", "multiplier"],
        ),
        "option" => (InstrumentKind::Option, &INSTRUMENT_FIELDS),
        _ => return Err(kind_at.fail("must be spot, perpetual, future or option")),
    };
    if let Some((key, field)) = fields.iter().find(|(key, _)| !applies.contains(key)) {
        return Err(field.fail(format!(
            "`{key}` does not apply to a {} instrument",
            kind_at.string()?
        )));
    }

    let underlying_at = fields.require("underlying")?;
    let underlying = underlying_at.string()?;
    if !is_asset_symbol(underlying) {
        return Err(underlying_at.fail("must be an asset symbol (uppercase letters and digits)"));
    }
    let right = match fields.get("right") {
        None if kind == InstrumentKind::Option => return Err(fields.missing("right")),
        None => None,
        Some(at) => match at.string()? {
            "call" => Some(Right::Call),
            "put" => Some(Right::Put),
            _ => return Err(at.fail("must be call or put")),
        },
    };
    let strike = match fields.get("strike") {
        None if kind == InstrumentKind::Option => return Err(fields.missing("strike")),
        None => None,
        Some(at) => Some(at.number_where(|v| v > 0.0, "a positive number")?),
    };
    let expiry = match fields.get("expiry") {
        None if matches!(kind, InstrumentKind::Option | InstrumentKind::Future) => {
            return Err(fields.missing("expiry"));
        }
        None => None,
        Some(at) => Some(at.timestamp()?),
    };
    let settlement = match fields.get("settlement") {
        None => Settlement::Linear,
        Some(at) => match at.string()? {
            "inverse" => Settlement::Inverse,
            "linear" => Settlement::Linear,
            _ => return Err(at.fail("must be inverse or linear")),
        },
    };
    let multiplier = match fields.get("multiplier") {
        None => 1.0,
        Some(at) => at.number_where(|v| v > 0.0, "a positive number")?,
    };
    Ok(InstrumentSpec {
        kind,
        underlying: underlying.to_string(),
        right,
        strike,
        expiry,
        settlement,
        multiplier,
    })
}

/// Validates positions written as CSV: the header `account,instrument,quantity` (in any
/// letter case), then one row
/// per position with a Deribit name. Cells are trimmed, blank lines skipped. Rows of one
/// account need not be adjacent; accounts keep the order of their first row and have margin
/// currency USD.
pub fn parse_portfolio_csv(text: &str, file: &str) -> Result<Portfolio> {
    let mut header_seen = false;
    let mut accounts: Vec<Account> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for Row { line, cells } in csv_rows(json::strip_bom(text), file)? {
        if cells.len() == 1 && cells[0].is_empty() {
            continue;
        }
        let row = || json::shown(&cells.join(","));
        if !header_seen {
            let header_matches = cells.len() == CSV_HEADER.len()
                && cells
                    .iter()
                    .zip(CSV_HEADER)
                    .all(|(cell, name)| cell.eq_ignore_ascii_case(name));
            if !header_matches {
                return Err(Error::input(
                    file,
                    format!("line {line}"),
                    row(),
                    "expected the header account,instrument,quantity",
                ));
            }
            header_seen = true;
            continue;
        }
        let [account, name, quantity] = &cells[..] else {
            return Err(Error::input(
                file,
                format!("line {line}"),
                row(),
                format!(
                    "expected 3 columns (account,instrument,quantity), found {}",
                    cells.len()
                ),
            ));
        };
        let cell_error = |column: &str, value: &str, message: String| {
            Error::input(
                file,
                format!("line {line}, {column}"),
                json::shown(value),
                message,
            )
        };
        if account.is_empty() {
            return Err(cell_error(
                "account",
                account,
                "an account id must not be empty".into(),
            ));
        }
        let instrument = parse_deribit(name).map_err(|why| cell_error("instrument", name, why))?;
        let quantity = parse_quantity(quantity)
            .map_err(|why| cell_error("quantity", quantity, why.to_string()))?;
        let position = Position {
            label: name.to_string(),
            instrument,
            quantity,
            origin: Origin {
                file: file.to_string(),
                field: format!("line {line}, instrument"),
            },
        };
        match index_of.get(account.as_str()) {
            Some(&i) => accounts[i].positions.push(position),
            None => {
                index_of.insert(account.clone(), accounts.len());
                accounts.push(Account {
                    id: account.clone(),
                    margin_currency: USD.to_string(),
                    positions: vec![position],
                });
            }
        }
    }
    if !header_seen {
        return Err(Error::input(
            file,
            "(file)",
            "(empty)",
            "the file is empty (expected the header account,instrument,quantity)",
        ));
    }
    if accounts.is_empty() {
        return Err(Error::input(
            file,
            "(file)",
            "a header and no rows",
            "no accounts",
        ));
    }
    Ok(Portfolio { accounts })
}

/// One CSV record: the line it starts on and its cells, unquoted and trimmed.
struct Row {
    line: usize,
    cells: Vec<String>,
}

/// Splits CSV text into records (RFC 4180: `,` between cells, `"` quotes with `""` for a
/// quote inside, CR, LF or CRLF between records). Written here rather than with the `csv`
/// crate so that every record knows its line exactly, blank lines included.
fn csv_rows(text: &str, file: &str) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut cells = Vec::new();
        loop {
            let mut cell = String::new();
            while let Some(' ' | '\t') = chars.peek() {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => {
                            return Err(Error::input(
                                file,
                                format!("line {start}"),
                                json::shown(&format!("\"{cell}")),
                                "unterminated quoted cell",
                            ));
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            cell.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            cell.push(c);
                        }
                    }
                }
                while let Some(' ' | '\t') = chars.peek() {
                    chars.next();
                }
                if let Some(&c) = chars.peek().filter(|c| !matches!(c, ',' | '\n' | '\r')) {
                    return Err(Error::input(
                        file,
                        format!("line {line}"),
                        json::shown(&format!("\"{cell}\"{c}")),
                        "unexpected text after a quoted cell",
                    ));
                }
            } else {
                while let Some(&c) = chars.peek().filter(|c| !matches!(c, ',' | '\n' | '\r')) {
                    cell.push(c);
                    chars.next();
                }
            }
            cells.push(cell.trim().to_string());
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    chars.next_if_eq(&'\n');
                    line += 1;
                }
                Some('\n') => line += 1,
                _ => {}
            }
            break;
        }
        rows.push(Row { line: start, cells });
    }
    Ok(rows)
}

/// A finite decimal quantity, as written in a CSV cell or on the command line.
fn parse_quantity(text: &str) -> std::result::Result<f64, &'static str> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("must be a finite number"),
        Err(_) => Err("must be a number"),
    }
}

/// A `whatif --add` value `INSTRUMENT:QUANTITY` (e.g. `BTC-25DEC26-100000-C:-5`): the label
/// (the name as written), the instrument and the signed quantity. Split at the last `:`.
/// Errors name `flag` as the file.
pub fn parse_added_position(arg: &str, flag: &str) -> Result<(String, InstrumentSpec, f64)> {
    let Some((name, quantity)) = arg.rsplit_once(':') else {
        return Err(Error::input(
            flag,
            "INSTRUMENT:QUANTITY",
            json::shown(arg),
            "expected INSTRUMENT:QUANTITY, e.g. BTC-25DEC26-100000-C:-5",
        ));
    };
    let (name, quantity) = (name.trim(), quantity.trim());
    let spec = parse_deribit(name)
        .map_err(|why| Error::input(flag, "instrument", json::shown(name), why))?;
    let quantity = parse_quantity(quantity)
        .map_err(|why| Error::input(flag, "quantity", json::shown(quantity), why))?;
    Ok((name.to_string(), spec, quantity))
}
