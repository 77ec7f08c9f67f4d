//! The readable form of a backtest: per account its tests and its exception days (the full
//! daily series is in the JSON).

use std::fmt::Write as _;

use super::{AccountBacktest, BacktestReport, BacktestSummary};
use crate::report::money;

impl BacktestReport {
    /// Tables for people: the run, then per account the tests and the exception days.
    pub fn to_table(&self) -> String {
        let r = &self.run;
        let mut out = String::new();
        let scenarios = if r.method == "mc" {
            format!("{} paths a day, seed {}", r.paths, r.seed)
        } else {
            format!("the days before each forecast ({} on the last)", r.paths)
        };
        let _ = writeln!(
            out,
            "tailrisk {} backtest — {} at {}, window {}, {scenarios}, {} backend ({}, {}), {:.2} s",
            r.version,
            r.method,
            r.confidence,
            r.window,
            r.backend,
            r.device,
            r.precision,
            r.seconds
        );
        for account in &self.accounts {
            account_table(&mut out, account);
        }
        out
    }
}

/// The verdict of a test at the 5 % level.
fn verdict(p: f64) -> &'static str {
    if p < 0.05 {
        "rejected at 5 %"
    } else {
        "not rejected"
    }
}

fn optional(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.digits$}"))
}

/// A fraction as a percentage with one decimal, or `n/a`.
fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{:.1} %", 100.0 * v))
}

fn account_table(out: &mut String, a: &AccountBacktest) {
    let (first, last) = (&a.days[0].date, &a.days[a.days.len() - 1].date);
    let _ = writeln!(
        out,
        "\naccount {} ({}), {first} .. {last}",
        a.id, a.currency
    );
    for (name, value) in summary_rows(&a.summary) {
        let _ = writeln!(out, "  {name:<29} {value}");
    }
    let exceptions: Vec<_> = a.days.iter().filter(|d| d.exception).collect();
    if exceptions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<12} {:>16} {:>16} {:>16} {:>16}",
        "exception", "loss", "VaR", "ES", "IM"
    );
    for d in exceptions {
        let _ = writeln!(
            out,
            "  {:<12} {:>16} {:>16} {:>16} {:>16}",
            d.date,
            money(d.loss),
            money(d.var),
            money(d.es),
            money(d.initial)
        );
    }
}

/// The tests of a summary as (name, result) lines.
fn summary_rows(s: &BacktestSummary) -> [(String, String); 8] {
    [
        (
            "exceptions".to_string(),
            format!(
                "{} of {} days (expected {:.2})",
                s.exceptions, s.days, s.expected
            ),
        ),
        (
            "Kupiec POF".into(),
            format!(
                "LR {:.3}, p {:.4}: {}",
                s.kupiec.lr,
                s.kupiec.p_value,
                verdict(s.kupiec.p_value)
            ),
        ),
        (
            "Christoffersen independence".into(),
            format!(
                "LR {:.3}, p {:.4}: {}",
                s.christoffersen.lr_ind,
                s.christoffersen.p_ind,
                verdict(s.christoffersen.p_ind)
            ),
        ),
        (
            "conditional coverage".into(),
            format!(
                "LR {:.3}, p {:.4}: {}",
                s.christoffersen.lr_cc,
                s.christoffersen.p_cc,
                verdict(s.christoffersen.p_cc)
            ),
        ),
        (
            "traffic light".into(),
            format!(
                "{} ({} exceptions in the last {} days)",
                s.traffic_light.zone.as_str(),
                s.traffic_light.exceptions_250,
                s.days.min(super::stats::TRAFFIC_LIGHT_DAYS)
            ),
        ),
        (
            "ES test Z2".into(),
            format!("{} (below 0: ES too low)", optional(s.es_test.z2, 3)),
        ),
        (
            "IM peak / trough".into(),
            optional(s.procyclicality.peak_to_trough, 2),
        ),
        (
            "IM largest rise".into(),
            format!(
                "5 days {}, 30 days {}",
                percent(s.procyclicality.max_increase_5d),
                percent(s.procyclicality.max_increase_30d)
            ),
        ),
    ]
}
