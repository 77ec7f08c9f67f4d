//! The bodies of `tailrisk serve`'s requests (SPEC §13), read by the same JSON reader as the
//! input files: duplicate keys, unknown fields, non-finite or out-of-range numbers are errors
//! naming the field and the value (settled detail S11). `file` is the request (`POST
//! /v1/whatif`), so an error reads like a file's.
//!
//! A market update is merged into the market document it changes and the result is read by
//! [`super::parse_market`], so the market a server holds is always one a file could hold
//! ([`MarketDocument::text`] is that file).

use serde::Deserialize;
use serde_json::Value;

use super::bounds::{Entries, Object, present};
use super::json::{Path, Source};
use super::portfolio::{PositionFields, position};
use crate::error::{Error, Result};
use crate::instrument::is_asset_symbol;
use crate::market::Market;
use crate::portfolio::{Account, Position};

/// The id of an ad-hoc book that does not name one (S3).
pub const ADHOC_ID: &str = "adhoc";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct MarginFields {
    #[serde(default, deserialize_with = "present")]
    id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    margin_currency: Option<String>,
    positions: Vec<Object<PositionFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct WhatifFields {
    account: String,
    add: Vec<Object<PositionFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct TradesFields {
    #[serde(default, deserialize_with = "present")]
    trade_id: Option<String>,
    add: Vec<Object<PositionFields>>,
}

/// `POST /v1/whatif`: the account and the positions to add.
#[derive(Clone, Debug)]
pub struct WhatifRequest {
    pub account: String,
    pub add: Vec<Position>,
}

/// `POST /v1/accounts/{id}/trades`: the positions to add, and the client's id of the trade.
#[derive(Clone, Debug)]
pub struct TradesRequest {
    pub trade_id: Option<String>,
    pub add: Vec<Position>,
}

/// `POST /v1/margin`: `{ "id"?, "margin_currency"?, "positions": [ … ] }` as one account
/// (`id` defaults to [`ADHOC_ID`], the currency to USD).
pub fn parse_margin_request(text: &str, file: &str) -> Result<Account> {
    let src = Source::new(text, file, "an object")?;
    let Object(fields) = src.parse::<Object<MarginFields>>()?;
    let root = Path::root();
    let id = fields.id.unwrap_or_else(|| ADHOC_ID.to_string());
    if id.trim().is_empty() {
        return Err(src.fail(&root.key("id"), "an account id must not be empty"));
    }
    let margin_currency = match fields.margin_currency {
        Some(c) if !is_asset_symbol(&c) => {
            return Err(src.fail(
                &root.key("margin_currency"),
                "must be USD or an asset symbol (uppercase letters and digits)",
            ));
        }
        Some(c) => c,
        None => "USD".to_string(),
    };
    let positions = positions(&src, &root.key("positions"), fields.positions)?;
    Ok(Account {
        id,
        margin_currency,
        positions,
        origin: crate::portfolio::Origin {
            file: file.to_string(),
            field: "margin_currency".into(),
        },
    })
}

/// `POST /v1/whatif`: `{ "account": ID, "add": [ { "instrument", "quantity" } ] }`.
pub fn parse_whatif_request(text: &str, file: &str) -> Result<WhatifRequest> {
    let src = Source::new(text, file, "an object")?;
    let Object(fields) = src.parse::<Object<WhatifFields>>()?;
    let add = positions(&src, &Path::root().key("add"), fields.add)?;
    non_empty(&src, &add)?;
    Ok(WhatifRequest {
        account: fields.account,
        add,
    })
}

/// `POST /v1/accounts/{id}/trades`: `{ "trade_id"?, "add": [ … ] }`.
pub fn parse_trades_request(text: &str, file: &str) -> Result<TradesRequest> {
    let src = Source::new(text, file, "an object")?;
    let Object(fields) = src.parse::<Object<TradesFields>>()?;
    if let Some(id) = &fields.trade_id
        && id.trim().is_empty()
    {
        return Err(src.fail(
            &Path::root().key("trade_id"),
            "a trade id must not be empty",
        ));
    }
    let add = positions(&src, &Path::root().key("add"), fields.add)?;
    non_empty(&src, &add)?;
    Ok(TradesRequest {
        trade_id: fields.trade_id,
        add,
    })
}

fn positions(src: &Source, at: &Path, rows: Vec<Object<PositionFields>>) -> Result<Vec<Position>> {
    rows.into_iter()
        .enumerate()
        .map(|(i, Object(p))| position(src, &at.index(i), p))
        .collect()
}

fn non_empty(src: &Source, add: &[Position]) -> Result<()> {
    if add.is_empty() {
        return Err(src.fail(&Path::root().key("add"), "needs at least one position"));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct DocumentFields {
    as_of: String,
    assets: Entries<Entries<Value>>,
    #[serde(default, deserialize_with = "present")]
    correlation: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct UpdateFields {
    #[serde(default, deserialize_with = "present")]
    as_of: Option<String>,
    #[serde(default, deserialize_with = "present")]
    assets: Option<Entries<Object<AssetUpdate>>>,
    #[serde(default, deserialize_with = "present")]
    correlation: Option<Value>,
}

/// The fields of an asset a market update may replace (S9).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct AssetUpdate {
    #[serde(default, deserialize_with = "present")]
    spot: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    rate: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    vol: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    adv_usd: Option<Value>,
}

/// A market snapshot as a document: its assets and their fields in file order, each value as
/// written (numbers read exactly and written back in the shortest form that reads back to
/// the same `f64`).
#[derive(Clone, Debug)]
pub struct MarketDocument {
    as_of: String,
    assets: Vec<(String, Vec<(String, Value)>)>,
    correlation: Option<Value>,
}

impl MarketDocument {
    /// The document of a market file that [`super::parse_market`] accepted.
    pub fn read(text: &str, file: &str) -> Result<Self> {
        let src = Source::new(text, file, "an object")?;
        let Object(d) = src.parse::<Object<DocumentFields>>()?;
        Ok(MarketDocument {
            as_of: d.as_of,
            assets: d.assets.0.into_iter().map(|(k, v)| (k, v.0)).collect(),
            correlation: d.correlation,
        })
    }

    /// This document with the update `text` (`{ "as_of"?, "assets"?: { SYM: { "spot"?,
    /// "rate"?, "vol"?, "adv_usd"? } }, "correlation"? }`) applied: fields named replace,
    /// others stay; an asset the market does not have is an error. The result is validated as
    /// a market file ([`super::parse_market`]) and returned with its market.
    pub fn updated(&self, text: &str, file: &str) -> Result<(MarketDocument, Market)> {
        let src = Source::new(text, file, "an object")?;
        let Object(u) = src.parse::<Object<UpdateFields>>()?;
        let mut next = self.clone();
        if let Some(as_of) = u.as_of {
            next.as_of = as_of;
        }
        let assets_at = Path::root().key("assets");
        for (symbol, Object(update)) in u.assets.map(|a| a.0).unwrap_or_default() {
            let Some((_, fields)) = next.assets.iter_mut().find(|(s, _)| *s == symbol) else {
                return Err(Error::input(
                    file,
                    assets_at.key(&symbol).to_string(),
                    format!("{symbol:?}"),
                    "not an asset of the market (an update cannot add assets)",
                ));
            };
            let named = [
                ("spot", update.spot),
                ("rate", update.rate),
                ("vol", update.vol),
                ("adv_usd", update.adv_usd),
            ];
            for (key, value) in named {
                let Some(value) = value else { continue };
                match fields.iter_mut().find(|(k, _)| k == key) {
                    Some((_, old)) => *old = value,
                    None => fields.push((key.to_string(), value)),
                }
            }
        }
        if let Some(c) = u.correlation {
            next.correlation = Some(c);
        }
        let market = super::parse_market(&next.text(), file)?;
        Ok((next, market))
    }

    /// The `as_of` an update sets, when it sets a valid one (for the checks that must come
    /// before the resulting market's; an invalid one is [`MarketDocument::updated`]'s error).
    pub fn updated_as_of(text: &str) -> Option<crate::time::Timestamp> {
        let v = serde_json::from_str::<Value>(text).ok()?;
        crate::time::parse_rfc3339(v.get("as_of")?.as_str()?)
    }

    /// Whether `text` (an update) replaces the correlation block.
    pub fn sets_correlation(text: &str) -> bool {
        serde_json::from_str::<Value>(text)
            .ok()
            .is_some_and(|v| v.get("correlation").is_some())
    }

    /// The document as a market file.
    pub fn text(&self) -> String {
        let quote = |s: &str| Value::String(s.to_string()).to_string();
        let assets: Vec<String> = self
            .assets
            .iter()
            .map(|(symbol, fields)| {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}: {v}", quote(k)))
                    .collect();
                format!("    {}: {{ {} }}", quote(symbol), fields.join(", "))
            })
            .collect();
        let mut text = format!(
            "{{\n  \"as_of\": {},\n  \"assets\": {{\n{}\n  }}",
            quote(&self.as_of),
            assets.join(",\n")
        );
        if let Some(c) = &self.correlation {
            text += &format!(",\n  \"correlation\": {c}");
        }
        text + "\n}\n"
    }
}
