//! The market snapshot (SPEC §2 `--market`).

use super::json::{self, At};
use crate::error::Result;
use crate::instrument::is_asset_symbol;
use crate::market::surface::GridSurface;
use crate::market::{AssetQuote, CorrelationInput, Market, VolSurface};
use crate::time::{Timestamp, format_rfc3339, year_fraction};

/// Largest asymmetry |a_ij − a_ji| and deviation of a diagonal entry from 1 accepted in a
/// correlation matrix.
const CORRELATION_TOLERANCE: f64 = 1e-12;

/// Validates a market snapshot. Assets keep the order of the file. Grid expiries become
/// times to expiry in years from `as_of`. The correlation matrix is kept as written, except
/// that its diagonal is set to exactly 1; whether it is positive semi-definite, and whether
/// it covers the book, is checked when the book is compiled.
pub fn parse_market(text: &str, file: &str) -> Result<Market> {
    let doc = json::parse(text, file)?;
    let top = doc.root().object(&["as_of", "assets", "correlation"])?;
    let as_of = top.require("as_of")?.timestamp()?;

    let assets_at = top.require("assets")?;
    let entries = assets_at.map()?;
    if entries.is_empty() {
        return Err(assets_at.fail("no assets: the market needs at least one"));
    }
    let assets = entries
        .iter()
        .map(|(symbol, at)| asset(symbol, &at, as_of))
        .collect::<Result<Vec<_>>>()?;

    // Without a correlation block only one asset can be simulated; which one, and whether
    // the positions allow it, is decided when the book is compiled.
    let correlation = match top.get("correlation") {
        Some(at) => Some(correlation(&at, &assets)?),
        None => None,
    };
    Ok(Market {
        as_of,
        assets,
        correlation,
    })
}

fn asset(symbol: &str, at: &At, as_of: Timestamp) -> Result<AssetQuote> {
    if !is_asset_symbol(symbol) {
        return Err(at.fail_showing(
            &format!("{symbol:?}"),
            format!(
                "asset symbol {symbol:?} must be uppercase letters and digits, as in Deribit names"
            ),
        ));
    }
    let fields = at.object(&["spot", "rate", "vol", "adv_usd"])?;
    let spot = fields
        .require("spot")?
        .number_where(|v| v > 0.0, "a positive number")?;
    let rate = match fields.get("rate") {
        Some(at) => at.number()?,
        None => 0.0,
    };
    let surface = surface(&fields.require("vol")?, as_of)?;
    let adv_usd = fields
        .get("adv_usd")
        .map(|at| at.number_where(|v| v > 0.0, "a positive number"))
        .transpose()?;
    Ok(AssetQuote {
        symbol: symbol.to_string(),
        spot,
        rate,
        surface,
        adv_usd,
    })
}

/// A flat vol or a grid `{expiries, log_moneyness, implied_vols}`.
fn surface(at: &At, as_of: Timestamp) -> Result<VolSurface> {
    if at.is_number() {
        let vol = at.number_where(|v| v > 0.0, "a positive number")?;
        return Ok(VolSurface::Flat(vol));
    }
    if !at.is_object() {
        return Err(at.fail(
            "expected a positive number (flat vol) or a grid object \
             {expiries, log_moneyness, implied_vols}",
        ));
    }
    let fields = at.object(&["expiries", "log_moneyness", "implied_vols"])?;

    let expiries_at = fields.require("expiries")?;
    let expiry_items = expiries_at.array()?;
    if expiry_items.is_empty() {
        return Err(expiries_at.fail("needs at least one expiry"));
    }
    let mut taus = Vec::with_capacity(expiry_items.len());
    let mut previous: Option<Timestamp> = None;
    for item in &expiry_items {
        let t = item.timestamp()?;
        if t <= as_of {
            return Err(item.fail(format!(
                "expiry must be after as_of ({})",
                format_rfc3339(as_of)
            )));
        }
        if let Some(p) = previous.filter(|&p| t <= p) {
            return Err(item.fail(format!(
                "expiries must be strictly increasing (the one before is {})",
                format_rfc3339(p)
            )));
        }
        previous = Some(t);
        taus.push(year_fraction(as_of, t));
    }

    let knots_at = fields.require("log_moneyness")?;
    let knot_items = knots_at.array()?;
    if knot_items.is_empty() {
        return Err(knots_at.fail("needs at least one knot"));
    }
    let mut log_moneyness = Vec::with_capacity(knot_items.len());
    for item in &knot_items {
        let k = item.number()?;
        if let Some(&p) = log_moneyness.last().filter(|&&p| k <= p) {
            return Err(item.fail(format!(
                "log_moneyness must be strictly increasing (the knot before is {p})"
            )));
        }
        log_moneyness.push(k);
    }

    let rows_at = fields.require("implied_vols")?;
    let rows = rows_at.array()?;
    if rows.len() != taus.len() {
        return Err(rows_at.fail(format!(
            "has {} rows, expected one per expiry ({})",
            rows.len(),
            taus.len()
        )));
    }
    let mut vols = Vec::with_capacity(taus.len() * log_moneyness.len());
    for row_at in &rows {
        let row = row_at.array()?;
        if row.len() != log_moneyness.len() {
            return Err(row_at.fail(format!(
                "has {} vols, expected one per log_moneyness knot ({})",
                row.len(),
                log_moneyness.len()
            )));
        }
        for item in &row {
            vols.push(item.number_where(|v| v > 0.0, "a positive number")?);
        }
    }
    Ok(VolSurface::Grid(GridSurface {
        taus,
        log_moneyness,
        vols,
    }))
}

fn correlation(at: &At, assets: &[AssetQuote]) -> Result<CorrelationInput> {
    let fields = at.object(&["symbols", "matrix"])?;
    let symbols_at = fields.require("symbols")?;
    let items = symbols_at.array()?;
    if items.is_empty() {
        return Err(symbols_at.fail("needs at least one symbol"));
    }
    let mut symbols: Vec<String> = Vec::with_capacity(items.len());
    for item in &items {
        let symbol = item.string()?;
        if !assets.iter().any(|a| a.symbol == symbol) {
            return Err(item.fail("not an asset of the market"));
        }
        if symbols.iter().any(|s| s == symbol) {
            return Err(item.fail("symbol listed twice"));
        }
        symbols.push(symbol.to_string());
    }

    let n = symbols.len();
    let matrix_at = fields.require("matrix")?;
    let rows = matrix_at.array()?;
    if rows.len() != n {
        return Err(matrix_at.fail(format!(
            "has {} rows, expected {n} (one per symbol)",
            rows.len()
        )));
    }
    let mut cells: Vec<Vec<At>> = Vec::with_capacity(n);
    let mut matrix = Vec::with_capacity(n * n);
    for row_at in &rows {
        let row = row_at.array()?;
        if row.len() != n {
            return Err(row_at.fail(format!(
                "has {} entries, expected {n} (one per symbol)",
                row.len()
            )));
        }
        for item in &row {
            matrix.push(item.number()?);
        }
        cells.push(row);
    }
    for (i, row) in cells.iter().enumerate() {
        for (j, item) in row.iter().enumerate() {
            let a = matrix[i * n + j];
            if i == j {
                if (a - 1.0).abs() > CORRELATION_TOLERANCE {
                    return Err(item.fail("a diagonal entry must be 1"));
                }
                matrix[i * n + j] = 1.0;
            } else if !(-1.0..=1.0).contains(&a) {
                return Err(item.fail("a correlation must be in [-1, 1]"));
            } else if j < i && (a - matrix[j * n + i]).abs() > CORRELATION_TOLERANCE {
                return Err(item.fail(format!(
                    "the matrix must be symmetric, but matrix[{j}][{i}] is {}",
                    matrix[j * n + i]
                )));
            }
        }
    }
    Ok(CorrelationInput { symbols, matrix })
}
