//! The converge report as a table for people: per account and confidence, one row per path
//! count (VaR, ES, their intervals' relative half-widths, seconds), then the paths each
//! precision of ES needs.

use std::fmt::Write;

use super::{ConvergeReport, Point};
use crate::report::{group_thousands, money};

impl ConvergeReport {
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tailrisk {} converge — seed {}, {} backend ({}, {}), variance reduction {}",
            self.version,
            self.seed,
            self.backend,
            self.device,
            self.precision,
            self.variance_reduction
        );
        let Some(first) = self.points.first() else {
            return out;
        };
        for (a, account) in first.accounts.iter().enumerate() {
            for (c, m) in account.measures.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "\n{} ({}), {} %",
                    account.id,
                    account.currency.name(),
                    m.confidence * 100.0
                );
                let _ = writeln!(
                    out,
                    "{:>12}  {:>18}  {:>8}  {:>18}  {:>8}  {:>9}",
                    "paths", "VaR", "±95 %", "ES", "±95 %", "seconds"
                );
                for point in &self.points {
                    row(&mut out, point, a, c);
                }
            }
        }
        let _ = writeln!(
            out,
            "\nPaths for a relative 95 % half-width of ES (from the largest count, ∝ 1/√N):"
        );
        for n in &self.needed {
            let targets: Vec<String> = n
                .targets
                .iter()
                .map(|t| {
                    let paths = t
                        .paths
                        .map_or("—".into(), |p| group_thousands(&p.to_string()));
                    format!("{} %: {paths}", t.es_relative_half_width * 100.0)
                })
                .collect();
            let _ = writeln!(
                out,
                "  {} at {} %: {}",
                n.id,
                n.confidence * 100.0,
                targets.join(", ")
            );
        }
        out
    }
}

/// One path count's row for account `a`, confidence `c`.
fn row(out: &mut String, point: &Point, a: usize, c: usize) {
    let m = &point.accounts[a].measures[c];
    let percent = |r: Option<f64>| r.map_or("—".into(), |r| format!("{:.2} %", r * 100.0));
    let _ = writeln!(
        out,
        "{:>12}  {:>18}  {:>8}  {:>18}  {:>8}  {:>9.3}",
        group_thousands(&point.paths.to_string()),
        money(m.var),
        percent(m.var_relative_half_width),
        money(m.es),
        percent(m.es_relative_half_width),
        point.seconds
    );
}
