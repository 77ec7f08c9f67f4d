//! Sections the run and stress pages share: margin components, the stress grid heat maps and
//! the named scenarios. Every figure from the JSON carries its pointer ([`super::numbers::amount`]).

use std::fmt::Write as _;

use super::escape::text;
use super::numbers::{amount, signed};
use super::{charts, heatmap};
use crate::report::{GridPointReport, MarginReport};

/// The margin components (SPEC §6) as a table and bars; `at` is the margin object's pointer.
pub fn margin(m: &MarginReport, at: &str, currency: &str) -> String {
    let c = &m.components;
    let mut rows: Vec<(&str, &str, f64)> = vec![
        ("ES at the margin confidence", "es", c.es),
        ("stress grid", "grid", c.grid),
        ("worst named scenario", "scenario", c.scenario),
        ("liquidity add-on", "liquidity", c.liquidity),
        (
            "short-option minimum",
            "short_option_minimum",
            c.short_option_minimum,
        ),
    ];
    if let Some(b) = c.apc_buffer {
        rows.push(("APC buffer", "apc_buffer", b));
    }
    let mut out = String::from("<h3>Margin components</h3>\n<table>\n");
    let _ = writeln!(
        out,
        "<tr><th class=\"l\">initial margin</th><td>{}</td></tr>\n\
         <tr><th class=\"l\">maintenance margin</th><td>{}</td></tr>",
        amount(&format!("{at}/initial"), m.initial, currency),
        amount(&format!("{at}/maintenance"), m.maintenance, currency)
    );
    for (label, key, value) in &rows {
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{label}</td><td>{}</td></tr>",
            amount(&format!("{at}/components/{key}"), *value, currency)
        );
    }
    out.push_str("</table>\n");
    let bars: Vec<(String, f64)> = rows.iter().map(|(l, _, v)| (l.to_string(), *v)).collect();
    out.push_str(&charts::bars(&bars, currency));
    out
}

/// One heat map per asset and kind (regular grid, extended moves), in the order the points
/// come (book asset order).
pub fn grid(points: &[GridPointReport], currency: &str) -> String {
    if points.is_empty() {
        return String::new();
    }
    let mut assets: Vec<&str> = Vec::new();
    for p in points {
        if !assets.contains(&p.asset.as_str()) {
            assets.push(&p.asset);
        }
    }
    let mut out = String::from(
        "<h3>Stress grid</h3>\n<p class=\"note\">Rows: vol move; columns: price move. Each \
         cell is the account's loss at that point; extended moves show the loss that counts \
         (× the fraction in the column head) and the raw loss. The framed cell sets the \
         asset's grid loss.</p>\n",
    );
    for asset in assets {
        for extended in [false, true] {
            let part: Vec<&GridPointReport> = points
                .iter()
                .filter(|p| p.asset == asset && p.extended == extended)
                .collect();
            if part.is_empty() {
                continue;
            }
            let what = if extended { "extended moves" } else { "grid" };
            let _ = writeln!(out, "<p class=\"note\">{} {what}</p>", text(asset));
            out.push_str(&heatmap::grid_heatmap(&part, currency));
        }
    }
    out
}

/// A named scenario's result as the pages show it.
pub struct Named<'a> {
    pub name: &'a str,
    pub loss: f64,
    pub worst: bool,
}

/// The named scenarios, the worst marked; `at(j)` is the pointer of scenario j's loss.
pub fn named(list: &[Named], at: impl Fn(usize) -> String, currency: &str) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>Named scenarios</h3>\n<table>\n<tr><th class=\"l\">scenario</th><th>loss</th></tr>\n",
    );
    for (j, s) in list.iter().enumerate() {
        let class = if s.worst { " class=\"mark\"" } else { "" };
        let _ = writeln!(
            out,
            "<tr{class}><td class=\"l\">{}{}</td><td>{}</td></tr>",
            text(s.name),
            if s.worst { " (worst)" } else { "" },
            amount(&at(j), s.loss, currency)
        );
    }
    out.push_str("</table>\n");
    out
}

/// The first of the largest losses (as margin picks the worst named scenario).
pub fn worst_index(losses: impl Iterator<Item = f64>) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, x) in losses.enumerate() {
        if best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

/// A relative move as shown in tables.
pub fn moves(price: f64, vol: f64) -> String {
    format!("price {}, vol {}", signed(price), signed(vol))
}
