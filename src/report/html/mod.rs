//! HTML reports (SPEC §12 and its settled details R1–R10): one self-contained file per
//! report, inline CSS and inline SVG charts (plotters' SVG backend), no script needed to see
//! anything, no request of any kind when opened. The page is rendered from the same report
//! as the JSON, which it embeds in `<script type="application/json" id="tailrisk-report">`
//! ([`escape::script_json`]). Every input string is escaped ([`escape::text`]); every figure
//! is the JSON's, rounded to 6 significant digits and marked with its JSON pointer
//! ([`numbers`]). Nothing on the page depends on the clock.
//!
//! - [`run_page`]: `run --report` (and `merge --report`): from a [`crate::report::Report`]
//!   and, per account, its loss distribution and full stress grid ([`AccountExtras`]);
//! - [`stress_page`]: `stress --report`, from a [`crate::report::StressCommandReport`];
//! - [`backtest_page`]: `backtest --report`, from the backtest JSON of SPEC §11 alone.

pub mod backtest;
pub mod charts;
pub mod escape;
pub mod heatmap;
pub mod numbers;
pub mod page;
pub mod sections;
pub mod stress;

pub use backtest::backtest_page;
pub use page::{AccountExtras, RunPage, run_page};
pub use stress::stress_page;

use crate::error::{Error, Result};

/// Which accounts get detailed figures (R6): the `top` with the largest IM, plus `named`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetailChoice {
    pub top: usize,
    pub named: Vec<String>,
}

impl Default for DetailChoice {
    /// `--report-accounts 50`, no `--report-account`.
    fn default() -> Self {
        Self {
            top: 50,
            named: Vec::new(),
        }
    }
}

impl DetailChoice {
    /// Indices of the detailed accounts, largest IM first (ties: report order), then the
    /// named ones not already in; an unknown name is an input error naming the flag.
    pub fn pick(&self, accounts: &[(&str, f64)]) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..accounts.len()).collect();
        order.sort_by(|&a, &b| accounts[b].1.total_cmp(&accounts[a].1).then(a.cmp(&b)));
        order.truncate(self.top);
        for name in &self.named {
            let i = accounts
                .iter()
                .position(|(id, _)| id == name)
                .ok_or_else(|| {
                    Error::input(
                        "command line",
                        "--report-account",
                        name,
                        "no such account in the portfolio",
                    )
                })?;
            if !order.contains(&i) {
                order.push(i);
            }
        }
        Ok(order)
    }
}

/// The stylesheet of every page (inline, R1).
const STYLE: &str = "\
body{font-family:sans-serif;margin:24px;color:#1b1b1b;max-width:1200px}\
h1{font-size:22px}h2{font-size:19px;border-bottom:1px solid #ccc;padding-top:12px}\
h3{font-size:15px;margin-bottom:4px}\
table{border-collapse:collapse;margin:6px 0 14px}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}\
th{background:#f2f2f2}td.l,th.l{text-align:left}\
tr.mark td{font-weight:bold;background:#fff4e0}\
svg{display:block;max-width:100%;height:auto}\
.note{color:#555;font-size:13px}.error{color:#b00}\
.var{color:#e67800;font-weight:bold}.es{color:#c80028;font-weight:bold}";

/// A whole page: head with the inline style, `body` (already escaped HTML), and the
/// report's JSON embedded verbatim (up to [`escape::script_json`]) with the newline that ends
/// it on stdout, so the element's text is exactly what `--format json` writes.
pub fn document(title: &str, body: &str, json: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n\
         <script type=\"application/json\" id=\"tailrisk-report\">{}\n</script>\n\
         </body>\n</html>\n",
        escape::text(title),
        escape::script_json(json)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_largest_margins_then_the_named() {
        let accounts = [("a", 1.0), ("b", 5.0), ("c", 3.0), ("d", 5.0)];
        let choice = DetailChoice {
            top: 2,
            named: vec!["a".into(), "d".into()],
        };
        assert_eq!(choice.pick(&accounts).unwrap(), vec![1, 3, 0]);
        let unknown = DetailChoice {
            top: 1,
            named: vec!["zz".into()],
        };
        assert!(unknown.pick(&accounts).is_err());
    }
}
