//! Positions (SPEC §2 `--portfolio`): JSON accounts, or CSV rows `account,instrument,quantity`;
//! and the `--add INSTRUMENT:QUANTITY` values of `whatif`.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::bounds::{Finite, Num, Object, Positive, present};
use super::json::{self, Path, Source};
use super::records::Records;
use crate::error::{Error, Result};
use crate::instrument::{
    InstrumentKind, InstrumentSpec, Right, Settlement, is_asset_symbol, parse_deribit,
};
use crate::portfolio::{Account, Origin, Portfolio, Position};

/// The margin currency of an account that does not name one, and of every CSV account.
const USD: &str = "USD";
/// The CSV header, exactly (each name trimmed).
const CSV_HEADER: [&str; 3] = ["account", "instrument", "quantity"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct PortfolioFile {
    accounts: Vec<Object<AccountFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct AccountFields {
    id: String,
    #[serde(default, deserialize_with = "present")]
    margin_currency: Option<String>,
    positions: Vec<Object<PositionFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub(super) struct PositionFields {
    instrument: InstrumentInput,
    quantity: Num<Finite>,
}

/// A Deribit name or an explicit instrument object.
enum InstrumentInput {
    Name(String),
    Object(ExplicitFields),
}

/// `{kind, underlying, right, strike, expiry, settlement, multiplier}`: which fields are
/// required depends on the kind, so all are optional here and checked in
/// [`explicit_instrument`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct ExplicitFields {
    #[serde(default, deserialize_with = "present")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "present")]
    underlying: Option<String>,
    #[serde(default, deserialize_with = "present")]
    right: Option<String>,
    #[serde(default, deserialize_with = "present")]
    strike: Option<Num<Positive>>,
    #[serde(default, deserialize_with = "present")]
    expiry: Option<String>,
    #[serde(default, deserialize_with = "present")]
    settlement: Option<String>,
    #[serde(default, deserialize_with = "present")]
    multiplier: Option<Num<Positive>>,
}

impl<'de> Deserialize<'de> for InstrumentInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InstrumentVisitor;
        impl<'de> Visitor<'de> for InstrumentVisitor {
            type Value = InstrumentInput;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Deribit instrument name or an instrument object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<InstrumentInput, E> {
                Ok(InstrumentInput::Name(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<InstrumentInput, A::Error> {
                ExplicitFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(InstrumentInput::Object)
            }
        }
        deserializer.deserialize_any(InstrumentVisitor)
    }
}

/// Validates positions written as JSON:
/// `{"accounts": [{"id", "margin_currency", "positions": [{"instrument", "quantity"}]}]}`.
/// An instrument is a Deribit name (the position's label) or an explicit object (labelled
/// with [`InstrumentSpec::canonical_name`]).
pub fn parse_portfolio_json(text: &str, file: &str) -> Result<Portfolio> {
    let src = Source::new(text, file, "an object")?;
    let Object(p) = src.parse::<Object<PortfolioFile>>()?;
    let accounts_at = Path::root().key("accounts");
    if p.accounts.is_empty() {
        return Err(src.fail(&accounts_at, "no accounts"));
    }
    let mut accounts: Vec<Account> = Vec::with_capacity(p.accounts.len());
    // Account id → the path where it was first given.
    let mut id_paths: HashMap<String, String> = HashMap::with_capacity(p.accounts.len());
    for (i, Object(fields)) in p.accounts.into_iter().enumerate() {
        let at = accounts_at.index(i);
        let id_at = at.key("id");
        if fields.id.trim().is_empty() {
            return Err(src.fail(&id_at, "an account id must not be empty"));
        }
        if let Some(first) = id_paths.get(&fields.id) {
            return Err(src.fail(&id_at, format!("duplicate account id (also at {first})")));
        }
        let margin_currency = match fields.margin_currency {
            Some(currency) if !is_asset_symbol(&currency) => {
                return Err(src.fail(
                    &at.key("margin_currency"),
                    "must be USD or an asset symbol (uppercase letters and digits)",
                ));
            }
            Some(currency) => currency,
            None => USD.to_string(),
        };
        let positions = fields
            .positions
            .into_iter()
            .enumerate()
            .map(|(j, Object(pos))| position(&src, &at.key("positions").index(j), pos))
            .collect::<Result<Vec<_>>>()?;
        id_paths.insert(fields.id.clone(), id_at.to_string());
        accounts.push(Account {
            id: fields.id,
            margin_currency,
            positions,
            origin: Origin {
                file: file.to_string(),
                field: at.key("margin_currency").to_string(),
            },
        });
    }
    Ok(Portfolio { accounts })
}

pub(super) fn position(src: &Source, at: &Path, fields: PositionFields) -> Result<Position> {
    let instrument_at = at.key("instrument");
    let (label, instrument) = match fields.instrument {
        InstrumentInput::Name(name) => {
            let spec = parse_deribit(&name).map_err(|why| src.fail(&instrument_at, why))?;
            (name, spec)
        }
        InstrumentInput::Object(object) => {
            let spec = explicit_instrument(src, &instrument_at, object)?;
            (spec.canonical_name(), spec)
        }
    };
    Ok(Position {
        label,
        instrument,
        quantity: fields.quantity.get(),
        origin: Origin {
            file: src.file.to_string(),
            field: instrument_at.to_string(),
        },
    })
}

/// `{kind, underlying, right, strike, expiry, settlement, multiplier}`, with only the fields
/// that apply to the kind.
fn explicit_instrument(src: &Source, at: &Path, f: ExplicitFields) -> Result<InstrumentSpec> {
    let Some(kind_name) = f.kind.as_deref() else {
        return Err(src.missing(&at.key("kind")));
    };
    let (kind, applies): (InstrumentKind, &[&str]) = match kind_name {
        "spot" => (InstrumentKind::Spot, &["multiplier"]),
        "perpetual" => (InstrumentKind::Perpetual, &["settlement", "multiplier"]),
        "future" => (
            InstrumentKind::Future,
            &["expiry", "settlement", "multiplier"],
        ),
        "option" => (
            InstrumentKind::Option,
            &["right", "strike", "expiry", "settlement", "multiplier"],
        ),
        _ => return Err(src.fail(&at.key("kind"), "must be spot, perpetual, future or option")),
    };
    let given = [
        ("right", f.right.is_some()),
        ("strike", f.strike.is_some()),
        ("expiry", f.expiry.is_some()),
        ("settlement", f.settlement.is_some()),
        ("multiplier", f.multiplier.is_some()),
    ];
    if let Some((key, _)) = given.iter().find(|(k, g)| *g && !applies.contains(k)) {
        return Err(src.fail(
            &at.key(key),
            format!("`{key}` does not apply to a {kind_name} instrument"),
        ));
    }

    let Some(underlying) = f.underlying else {
        return Err(src.missing(&at.key("underlying")));
    };
    if !is_asset_symbol(&underlying) {
        return Err(src.fail(
            &at.key("underlying"),
            "must be an asset symbol (uppercase letters and digits)",
        ));
    }
    let is_option = kind == InstrumentKind::Option;
    let right = match f.right.as_deref() {
        None if is_option => return Err(src.missing(&at.key("right"))),
        None => None,
        Some("call") => Some(Right::Call),
        Some("put") => Some(Right::Put),
        Some(_) => return Err(src.fail(&at.key("right"), "must be call or put")),
    };
    if is_option && f.strike.is_none() {
        return Err(src.missing(&at.key("strike")));
    }
    let expiry = match f.expiry {
        None if matches!(kind, InstrumentKind::Option | InstrumentKind::Future) => {
            return Err(src.missing(&at.key("expiry")));
        }
        None => None,
        Some(text) => Some(super::market::timestamp(src, &at.key("expiry"), &text)?),
    };
    let settlement = match f.settlement.as_deref() {
        None | Some("linear") => Settlement::Linear,
        Some("inverse") => Settlement::Inverse,
        Some(_) => return Err(src.fail(&at.key("settlement"), "must be inverse or linear")),
    };
    Ok(InstrumentSpec {
        kind,
        underlying,
        right,
        strike: f.strike.map(Num::get),
        expiry,
        settlement,
        multiplier: f.multiplier.map_or(1.0, Num::get),
    })
}

/// Validates positions written as CSV: the header `account,instrument,quantity` (in any
/// letter case), then one row per position with a Deribit name. Records are split by the
/// `csv` crate (RFC 4180: `"` quotes with `""` for a quote inside, CR, LF or CRLF between
/// records); cells are trimmed, blank lines skipped. Rows of one account need not be
/// adjacent; accounts keep the order of their first row and have margin currency USD.
pub fn parse_portfolio_csv(text: &str, file: &str) -> Result<Portfolio> {
    let mut records = Records::new(text, file);
    let mut header_seen = false;
    let mut accounts: Vec<Account> = Vec::new();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    while let Some(record) = records.next_record()? {
        if record.is_blank() {
            continue;
        }
        let line = record.line;
        let cells: Vec<&str> = record.cells.iter().map(String::as_str).collect();
        let row = || record.shown();
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
        let [account, name, quantity] = cells[..] else {
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
        match index_of.get(account) {
            Some(&i) => accounts[i].positions.push(position),
            None => {
                index_of.insert(account.to_string(), accounts.len());
                accounts.push(Account {
                    id: account.to_string(),
                    margin_currency: USD.to_string(),
                    positions: vec![position],
                    origin: Origin {
                        file: file.to_string(),
                        field: format!("line {line}, account"),
                    },
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
