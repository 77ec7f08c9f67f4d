//! The market snapshot (SPEC §2 `--market`).

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::bounds::{
    Bounded, Entries, Finite, MAX_EXPIRIES, MAX_KNOTS, Num, Object, Positive, present,
};
use super::json::{Path, Source};
use crate::error::Result;
use crate::instrument::is_asset_symbol;
use crate::market::surface::GridSurface;
use crate::market::{AssetQuote, CorrelationInput, Market, VolSurface};
use crate::time::{Timestamp, format_rfc3339, year_fraction};

/// Largest asymmetry |a_ij − a_ji| and deviation of a diagonal entry from 1 accepted in a
/// correlation matrix.
const CORRELATION_TOLERANCE: f64 = 1e-12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct MarketFile {
    as_of: String,
    assets: Entries<Object<AssetFields>>,
    #[serde(default, deserialize_with = "present")]
    correlation: Option<Object<CorrelationFields>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct AssetFields {
    spot: Num<Positive>,
    #[serde(default, deserialize_with = "present")]
    rate: Option<Num<Finite>>,
    vol: VolInput,
    #[serde(default, deserialize_with = "present")]
    adv_usd: Option<Num<Positive>>,
}

/// A flat vol or a grid object.
enum VolInput {
    Flat(f64),
    Grid(GridFields),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct GridFields {
    expiries: Bounded<String, MAX_EXPIRIES>,
    log_moneyness: Bounded<Num<Finite>, MAX_KNOTS>,
    implied_vols: Bounded<Bounded<Num<Positive>, MAX_KNOTS>, MAX_EXPIRIES>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct CorrelationFields {
    symbols: Vec<String>,
    matrix: Vec<Vec<Num<Finite>>>,
}

impl<'de> Deserialize<'de> for VolInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VolVisitor;
        impl<'de> Visitor<'de> for VolVisitor {
            type Value = VolInput;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a positive number (flat vol) or a grid object \
                     {expiries, log_moneyness, implied_vols}",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<VolInput, E> {
                Num::<Positive>::check(v)
                    .map(VolInput::Flat)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VolInput, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VolInput, E> {
                self.visit_f64(v as f64)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<VolInput, A::Error> {
                GridFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(VolInput::Grid)
            }
        }
        deserializer.deserialize_any(VolVisitor)
    }
}

/// Validates a market snapshot. Assets keep the order of the file. Grid expiries become
/// times to expiry in years from `as_of`. The correlation matrix is kept as written, except
/// that its diagonal is set to exactly 1; whether it is positive semi-definite, and whether
/// it covers the book, is checked when the book is compiled.
pub fn parse_market(text: &str, file: &str) -> Result<Market> {
    let src = Source::new(text, file, "an object")?;
    let Object(m) = src.parse::<Object<MarketFile>>()?;
    let root = Path::root();
    let as_of = timestamp(&src, &root.key("as_of"), &m.as_of)?;
    if m.assets.0.is_empty() {
        return Err(src.fail(
            &root.key("assets"),
            "no assets: the market needs at least one",
        ));
    }
    let assets = m
        .assets
        .0
        .into_iter()
        .map(|(symbol, Object(fields))| {
            asset(
                &src,
                &root.key("assets").key(&symbol),
                symbol,
                fields,
                as_of,
            )
        })
        .collect::<Result<Vec<_>>>()?;

    // Without a correlation block only one asset can be simulated; which one, and whether
    // the positions allow it, is decided when the book is compiled.
    let correlation = match m.correlation {
        Some(Object(c)) => {
            let symbols: Vec<String> = assets.iter().map(|a| a.symbol.clone()).collect();
            Some(correlation(&src, &root.key("correlation"), c, &symbols)?)
        }
        None => None,
    };
    Ok(Market {
        as_of,
        assets,
        correlation,
    })
}

/// An RFC 3339 timestamp written at `at`.
pub(super) fn timestamp(src: &Source, at: &Path, text: &str) -> Result<Timestamp> {
    crate::time::parse_rfc3339(text)
        .ok_or_else(|| src.fail(at, "not an RFC 3339 timestamp (e.g. 2026-11-20T08:00:00Z)"))
}

fn asset(
    src: &Source,
    at: &Path,
    symbol: String,
    fields: AssetFields,
    as_of: Timestamp,
) -> Result<AssetQuote> {
    if !is_asset_symbol(&symbol) {
        return Err(crate::error::Error::input(
            src.file,
            at.to_string(),
            format!("{symbol:?}"),
            format!(
                "asset symbol {symbol:?} must be uppercase letters and digits, as in Deribit names"
            ),
        ));
    }
    if symbol == "USD" {
        // `margin_currency: "USD"` is the dollar, so an asset of that name could never be
        // a coin account's currency, and "USD" in a report would mean two things.
        return Err(crate::error::Error::input(
            src.file,
            at.to_string(),
            "\"USD\"",
            "USD is the margin currency of dollar accounts, not an asset symbol",
        ));
    }
    let surface = match fields.vol {
        VolInput::Flat(vol) => VolSurface::Flat(vol),
        VolInput::Grid(grid) => surface(src, &at.key("vol"), grid, as_of)?,
    };
    Ok(AssetQuote {
        symbol,
        spot: fields.spot.get(),
        rate: fields.rate.map_or(0.0, Num::get),
        surface,
        adv_usd: fields.adv_usd.map(Num::get),
    })
}

/// A grid `{expiries, log_moneyness, implied_vols}`.
fn surface(src: &Source, at: &Path, grid: GridFields, as_of: Timestamp) -> Result<VolSurface> {
    let (expiries, knots) = (grid.expiries.0, grid.log_moneyness.0);
    let rows: Vec<Vec<Num<Positive>>> = grid.implied_vols.0.into_iter().map(|r| r.0).collect();
    let expiries_at = at.key("expiries");
    if expiries.is_empty() {
        return Err(src.fail(&expiries_at, "needs at least one expiry"));
    }
    let mut taus = Vec::with_capacity(expiries.len());
    let mut previous: Option<Timestamp> = None;
    for (i, text) in expiries.iter().enumerate() {
        let item = expiries_at.index(i);
        let t = timestamp(src, &item, text)?;
        if t <= as_of {
            // Equal after truncation: say so, or "…00.0004Z must be after …00Z" reads as a lie.
            let whole = if t == as_of {
                " (timestamps are read to the millisecond)"
            } else {
                ""
            };
            return Err(src.fail(
                &item,
                format!(
                    "expiry must be after as_of ({}){whole}",
                    format_rfc3339(as_of)
                ),
            ));
        }
        if let Some(p) = previous.filter(|&p| t <= p) {
            return Err(src.fail(
                &item,
                format!(
                    "expiries must be strictly increasing (the one before is {})",
                    format_rfc3339(p)
                ),
            ));
        }
        previous = Some(t);
        taus.push(year_fraction(as_of, t));
    }

    let knots_at = at.key("log_moneyness");
    if knots.is_empty() {
        return Err(src.fail(&knots_at, "needs at least one knot"));
    }
    let log_moneyness: Vec<f64> = knots.iter().map(|k| k.get()).collect();
    if let Some(i) = (1..log_moneyness.len()).find(|&i| log_moneyness[i] <= log_moneyness[i - 1]) {
        return Err(src.fail(
            &knots_at.index(i),
            format!(
                "log_moneyness must be strictly increasing (the knot before is {})",
                log_moneyness[i - 1]
            ),
        ));
    }

    let rows_at = at.key("implied_vols");
    if rows.len() != taus.len() {
        return Err(src.fail(
            &rows_at,
            format!(
                "has {} rows, expected one per expiry ({})",
                rows.len(),
                taus.len()
            ),
        ));
    }
    let mut vols = Vec::with_capacity(taus.len() * log_moneyness.len());
    for (i, row) in rows.iter().enumerate() {
        if row.len() != log_moneyness.len() {
            return Err(src.fail(
                &rows_at.index(i),
                format!(
                    "has {} vols, expected one per log_moneyness knot ({})",
                    row.len(),
                    log_moneyness.len()
                ),
            ));
        }
        vols.extend(row.iter().map(|v| v.get()));
    }
    Ok(VolSurface::Grid(GridSurface {
        taus,
        log_moneyness,
        vols,
    }))
}

/// A correlation object `{symbols, matrix}` in a file of its own (`import deribit
/// --correlation`), validated as a market's `correlation` block over the assets `symbols`.
pub fn parse_correlation(text: &str, file: &str, symbols: &[String]) -> Result<CorrelationInput> {
    let src = Source::new(text, file, "an object")?;
    let Object(c) = src.parse::<Object<CorrelationFields>>()?;
    correlation(&src, &Path::root(), c, symbols)
}

fn correlation(
    src: &Source,
    at: &Path,
    c: CorrelationFields,
    assets: &[String],
) -> Result<CorrelationInput> {
    let symbols_at = at.key("symbols");
    if c.symbols.is_empty() {
        return Err(src.fail(&symbols_at, "needs at least one symbol"));
    }
    for (i, symbol) in c.symbols.iter().enumerate() {
        if !assets.contains(symbol) {
            return Err(src.fail(&symbols_at.index(i), "not an asset of the market"));
        }
        if c.symbols[..i].contains(symbol) {
            return Err(src.fail(&symbols_at.index(i), "symbol listed twice"));
        }
    }

    let n = c.symbols.len();
    let matrix_at = at.key("matrix");
    if c.matrix.len() != n {
        return Err(src.fail(
            &matrix_at,
            format!("has {} rows, expected {n} (one per symbol)", c.matrix.len()),
        ));
    }
    if let Some(i) = c.matrix.iter().position(|row| row.len() != n) {
        return Err(src.fail(
            &matrix_at.index(i),
            format!(
                "has {} entries, expected {n} (one per symbol)",
                c.matrix[i].len()
            ),
        ));
    }
    let mut matrix: Vec<f64> = c.matrix.iter().flatten().map(|v| v.get()).collect();
    for i in 0..n {
        for j in 0..n {
            let cell = matrix_at.index(i).index(j);
            let a = matrix[i * n + j];
            if i == j {
                if (a - 1.0).abs() > CORRELATION_TOLERANCE {
                    return Err(src.fail(&cell, "a diagonal entry must be 1"));
                }
                matrix[i * n + j] = 1.0;
            } else if !(-1.0..=1.0).contains(&a) {
                return Err(src.fail(&cell, "a correlation must be in [-1, 1]"));
            } else if j < i && (a - matrix[j * n + i]).abs() > CORRELATION_TOLERANCE {
                return Err(src.fail(
                    &cell,
                    format!(
                        "the matrix must be symmetric, but matrix[{j}][{i}] is {}",
                        matrix[j * n + i]
                    ),
                ));
            }
        }
    }
    Ok(CorrelationInput {
        symbols: c.symbols,
        matrix,
    })
}
