//! Price history (SPEC §9 `--history`): a CSV of daily closes, header `date,SYM,…`.
//!
//! Rules, in the order they are checked: the header starts with `date` and names each column
//! once; every simulated asset has a column; each row has the header's number of cells; dates
//! are `YYYY-MM-DD` and strictly increasing over the whole file; rows dated after the UTC
//! calendar date of the market's `as_of` are then ignored (no look-ahead); in the remaining
//! rows a simulated asset's cell is empty (not trading yet) or a positive price. Columns the
//! market does not simulate are not read. Rows that do not price every simulated asset are
//! dropped; returns are taken between consecutive remaining rows (settled details 1–3).

use chrono::NaiveDate;

use super::json;
use super::records::{Record, Records};
use crate::error::{Error, Result};

/// Fewest returns a calibration accepts (SPEC §9).
pub const MIN_RETURNS: usize = 60;

/// Days between the last return and the market's `as_of` from which a calibration warns that
/// its history is stale (the figures are those of the history's end, not of today).
pub const STALE_DAYS: i64 = 5;

/// Daily log returns of the simulated assets.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// The simulated assets, in the market's order; `returns[t][a]` is asset `symbols[a]`.
    pub symbols: Vec<String>,
    /// `dates[t]` is d_{t+1}, the date of return t + 1 (the later of its two rows).
    pub dates: Vec<NaiveDate>,
    /// r_t = ln(P_t / P_{t−1}) per asset, t = 1..n in date order (`returns[t − 1]`).
    pub returns: Vec<Vec<f64>>,
    /// The closes of the rows the returns are taken between: `closes[t][a]` = P_t of asset
    /// `symbols[a]`, t = 0..n (so r_t = ln(closes\[t\] / closes\[t − 1\])); the backtest's
    /// replay reads them.
    pub closes: Vec<Vec<f64>>,
    /// Returns taken across more than one calendar day (used unscaled).
    pub gaps: usize,
    /// The file, for messages.
    pub file: String,
}

impl History {
    /// The warning the caller shows when some returns span a gap (the library prints nothing).
    pub fn gap_warning(&self) -> Option<String> {
        (self.gaps > 0).then(|| {
            format!(
                "{}: {} return(s) span more than one day (gaps between priced rows); each is \
                 used unscaled as one day",
                self.file, self.gaps
            )
        })
    }

    /// The warning the caller shows when the last return is [`STALE_DAYS`] or more days
    /// before the market's `as_of` date.
    pub fn stale_warning(&self, as_of_date: NaiveDate) -> Option<String> {
        let last = *self.dates.last()?;
        let behind = (as_of_date - last).num_days();
        (behind >= STALE_DAYS).then(|| {
            format!(
                "{}: the last return is dated {last}, {behind} days before the market's as_of \
                 {as_of_date}: the calibration is that of the history's end",
                self.file
            )
        })
    }
}

/// One data row as read: its line, date, and the cells of the simulated columns.
struct Row {
    line: u64,
    date: NaiveDate,
    cells: Vec<String>,
}

/// Reads a history for the simulated assets `symbols`, keeping rows dated on or before
/// `as_of_date` (module docs). Errors name the file, the line and column, and the value.
pub fn parse_history(
    text: &str,
    file: &str,
    symbols: &[String],
    as_of_date: NaiveDate,
) -> Result<History> {
    let mut records = Records::new(text, file);
    let header = loop {
        match records.next_record()? {
            None => {
                return Err(Error::input(
                    file,
                    "(file)",
                    "(empty)",
                    "expected the header date,SYM,…",
                ));
            }
            Some(r) if r.is_blank() => {}
            Some(r) => break r,
        }
    };
    let columns = simulated_columns(&header, file, symbols)?;
    let mut rows = Vec::new();
    let mut previous: Option<NaiveDate> = None;
    while let Some(record) = records.next_record()? {
        if record.is_blank() {
            continue;
        }
        let line = record.line as u64;
        if record.cells.len() != header.cells.len() {
            return Err(Error::input(
                file,
                format!("line {line}"),
                record.shown(),
                format!(
                    "expected {} cells as in the header, found {}",
                    header.cells.len(),
                    record.cells.len()
                ),
            ));
        }
        let date = parse_date(&record.cells[0], file, line, previous)?;
        previous = Some(date);
        if date > as_of_date {
            continue;
        }
        let cells = columns
            .iter()
            .map(|&c| record.cells.get(c).cloned().unwrap_or_default())
            .collect();
        rows.push(Row { line, date, cells });
    }
    returns(&rows, file, symbols, &columns)
}

/// The column of each simulated asset; the header must start with `date` and name each
/// column once.
fn simulated_columns(header: &Record, file: &str, symbols: &[String]) -> Result<Vec<usize>> {
    let line = header.line;
    let header_cells = &header.cells;
    let shown = || header.shown();
    if !header_cells
        .first()
        .is_some_and(|c| c.eq_ignore_ascii_case("date"))
    {
        return Err(Error::input(
            file,
            format!("line {line}, column 1"),
            shown(),
            "expected the header date,SYM,…",
        ));
    }
    for (i, name) in header_cells.iter().enumerate().skip(1) {
        if name.is_empty() || header_cells.iter().take(i).any(|n| n == name) {
            return Err(Error::input(
                file,
                format!("line {line}, column {}", i + 1),
                json::shown(name),
                "each column needs a distinct, non-empty asset symbol",
            ));
        }
    }
    symbols
        .iter()
        .map(|s| {
            header_cells.iter().position(|n| n == s).ok_or_else(|| {
                Error::input(
                    file,
                    format!("line {line}"),
                    shown(),
                    format!("no column for the simulated asset {s}"),
                )
            })
        })
        .collect()
}

/// A `YYYY-MM-DD` date later than the previous row's.
fn parse_date(cell: &str, file: &str, line: u64, previous: Option<NaiveDate>) -> Result<NaiveDate> {
    let at = format!("line {line}, column 1 (date)");
    let date = NaiveDate::parse_from_str(cell, "%Y-%m-%d")
        .ok()
        .filter(|_| cell.len() == 10)
        .ok_or_else(|| Error::input(file, &at, json::shown(cell), "expected a date YYYY-MM-DD"))?;
    match previous {
        Some(p) if date == p => Err(Error::input(
            file,
            at,
            cell,
            "duplicate date: each date may appear once",
        )),
        Some(p) if date < p => Err(Error::input(
            file,
            at,
            cell,
            format!("dates must be strictly increasing (the row before is {p})"),
        )),
        _ => Ok(date),
    }
}

/// Checks the prices and takes returns between consecutive rows that price every asset.
fn returns(rows: &[Row], file: &str, symbols: &[String], columns: &[usize]) -> Result<History> {
    let mut priced: Vec<(NaiveDate, u64, Vec<f64>)> = Vec::new();
    for row in rows {
        let mut prices = Vec::with_capacity(symbols.len());
        for ((cell, symbol), &column) in row.cells.iter().zip(symbols).zip(columns) {
            if cell.is_empty() {
                continue;
            }
            let fail = |why: &str| {
                Error::input(
                    file,
                    format!("line {}, column {} ({symbol})", row.line, column + 1),
                    json::shown(cell),
                    why,
                )
            };
            match cell.parse::<f64>() {
                // Normal, not merely positive: a subnormal close (below 2.2e-308) has no
                // finite log return against any ordinary price.
                Ok(p) if p.is_normal() && p > 0.0 => prices.push(p),
                Ok(_) => {
                    return Err(fail(
                        "a price must be a positive number (at least 2.2e-308)",
                    ));
                }
                Err(_) => {
                    return Err(fail(
                        "a price must be a number (or empty before the asset trades)",
                    ));
                }
            }
        }
        if prices.len() == symbols.len() {
            priced.push((row.date, row.line, prices));
        }
    }
    let mut history = History {
        symbols: symbols.to_vec(),
        dates: Vec::new(),
        returns: Vec::new(),
        closes: priced.iter().map(|(_, _, p)| p.clone()).collect(),
        gaps: 0,
        file: file.to_string(),
    };
    for pair in priced.windows(2) {
        let ((d0, _, p0), (d1, line, p1)) = (&pair[0], &pair[1]);
        history.dates.push(*d1);
        let mut r = Vec::with_capacity(symbols.len());
        for (((a, b), symbol), &column) in p0.iter().zip(p1).zip(symbols).zip(columns) {
            // P_t/P_{t−1} over- or underflows when the closes are ~1e308 apart.
            let log_return = (b / a).ln();
            if !log_return.is_finite() {
                return Err(Error::input(
                    file,
                    format!("line {line}, column {} ({symbol})", column + 1),
                    json::shown(&b.to_string()),
                    format!(
                        "the return from the previous priced row's close {a:e} is ln({b:e}/{a:e}) = \
                         {log_return}, not a finite number"
                    ),
                ));
            }
            r.push(log_return);
        }
        history.returns.push(r);
        if (*d1 - *d0).num_days() > 1 {
            history.gaps += 1;
        }
    }
    if history.returns.len() < MIN_RETURNS {
        return Err(Error::input(
            file,
            "(file)",
            format!("{} returns", history.returns.len()),
            format!(
                "needs at least {MIN_RETURNS} daily returns between rows on or before the market's as_of \
                 that price every simulated asset ({})",
                symbols.join(", ")
            ),
        ));
    }
    Ok(history)
}
