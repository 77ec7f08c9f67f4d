//! The report of SPEC §8: serde structures for `--format json` and the readable table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

mod build;
mod format;
pub mod html;

pub use build::{
    account_greeks, account_stress, margin_currency, margin_report, measure_report, repair_report,
    report, run_info, stress_report,
};
pub(crate) use format::group_thousands;
pub use format::{money, pretty_json};

use crate::engine::{BackendKind, Precision};
use crate::margin::Binding;

/// The currency an account's figures are in: `USD`, or the symbol of the coin it is
/// margined in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarginCurrency {
    Usd,
    Coin(String),
}

impl MarginCurrency {
    /// `USD` or the coin's symbol, as reports write it.
    pub fn name(&self) -> &str {
        match self {
            MarginCurrency::Usd => "USD",
            MarginCurrency::Coin(symbol) => symbol,
        }
    }
}

impl std::fmt::Display for MarginCurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for MarginCurrency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The whole output of `tailrisk run`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub run: RunInfo,
    pub accounts: Vec<AccountReport>,
}

/// How the figures were made.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunInfo {
    /// `mc` (Monte Carlo), `hs` or `fhs` (historical days).
    pub method: &'static str,
    /// Present only with `--variance-reduction is`: `"is"` (importance sampling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variance_reduction: Option<&'static str>,
    pub paths: u64,
    pub seed: u64,
    pub horizon_days: f64,
    pub steps: u32,
    pub backend: BackendKind,
    pub device: String,
    pub precision: Precision,
    pub version: String,
    pub seconds: f64,
    /// Present only when the correlation matrix was repaired (SPEC §2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_repair: Option<RepairReport>,
    /// Present only with `--history` (SPEC §9): the calibration the figures use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::calibrate::Calibration>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RepairReport {
    pub method: String,
    pub frobenius_distance: f64,
    pub min_eigenvalue_before: f64,
}

/// The figures of one account, in its currency.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccountReport {
    pub id: String,
    pub currency: MarginCurrency,
    pub measures: Vec<MeasureReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stress: Option<StressReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<MarginReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeks: Option<BTreeMap<String, GreeksReport>>,
    pub components: Vec<ComponentReport>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct MeasureReport {
    pub confidence: f64,
    pub var: f64,
    pub es: f64,
    pub var_ci: [f64; 2],
    pub es_ci: [f64; 2],
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StressReport {
    pub grid_loss: f64,
    pub grid: Vec<GridReport>,
    pub scenarios: Vec<ScenarioReport>,
}

/// The worst grid point of one asset.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GridReport {
    pub asset: String,
    pub loss: f64,
    pub price_move: f64,
    pub vol_move: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ScenarioReport {
    pub name: String,
    pub loss: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MarginReport {
    pub initial: f64,
    pub maintenance: f64,
    pub components: MarginComponents,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MarginComponents {
    pub es: f64,
    pub grid: f64,
    pub scenario: f64,
    pub liquidity: f64,
    pub short_option_minimum: f64,
    /// Present only under the APC buffer tool (SPEC §9): buffer · IM₀.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apc_buffer: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GreeksReport {
    pub delta_usd: f64,
    pub gamma_usd: f64,
    pub vega_usd: f64,
    pub theta_usd: f64,
}

/// Component ES of one position: its mean loss over the account's ES tail.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ComponentReport {
    pub instrument: String,
    pub es: f64,
}

/// The output of `tailrisk stress`: every stress scenario's loss per account, marking the ones
/// that drive margin.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StressCommandReport {
    pub run: RunInfo,
    /// `built-in`, or the `--scenarios` file.
    pub scenario_set: String,
    /// The named scenarios as applied: the relative spot and vol move of each shocked asset.
    pub scenarios: Vec<ScenarioDefinition>,
    pub accounts: Vec<AccountStressReport>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ScenarioDefinition {
    pub name: String,
    pub shocks: BTreeMap<String, ShockReport>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct ShockReport {
    pub spot: f64,
    pub vol: f64,
}

/// Every stress loss of one account, in its currency.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccountStressReport {
    pub id: String,
    pub currency: MarginCurrency,
    pub margin: MarginReport,
    /// The term that sets initial margin: `es`, `grid`, `scenario`, `short_option_minimum` or
    /// `none` (IM = 0).
    pub binding: Binding,
    pub grid_loss: f64,
    /// Every grid point of the assets the account holds (and its margin coin).
    pub grid: Vec<GridPointReport>,
    pub scenarios: Vec<NamedLossReport>,
}

/// One grid point's loss.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GridPointReport {
    pub asset: String,
    pub price_move: f64,
    pub vol_move: f64,
    pub extended: bool,
    /// The fraction of the loss that counts (1, or price_range/|price_move| when extended).
    pub fraction: f64,
    pub loss: f64,
    /// fraction × loss.
    pub counted_loss: f64,
    /// The worst counted loss of its asset (enters the grid loss when positive).
    pub worst: bool,
    /// Worst of its asset, positive, and the grid loss sets initial margin.
    pub drives_margin: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NamedLossReport {
    pub name: String,
    pub loss: f64,
    /// The worst named scenario of the account.
    pub worst: bool,
    /// Worst, and the named-scenario term sets initial margin.
    pub drives_margin: bool,
}

impl StressCommandReport {
    /// JSON, one object.
    pub fn to_json(&self) -> String {
        pretty_json(self)
    }

    /// Tables for people: per account its margin, each asset's grid as a price × vol matrix
    /// (extended moves with the fraction that counts), and the named scenarios. `*` marks the
    /// worst point of an asset and the worst named scenario, `!` one that sets initial margin.
    pub fn to_table(&self) -> String {
        let r = &self.run;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tailrisk {} stress — horizon {} d, {} paths for ES, {} backend ({}, {}), {:.2} s; \
             named scenarios: {}",
            r.version,
            r.horizon_days,
            r.paths,
            r.backend,
            r.device,
            r.precision,
            r.seconds,
            self.scenario_set
        );
        for s in &self.scenarios {
            let shocks: Vec<String> = s
                .shocks
                .iter()
                .map(|(a, x)| format!("{a} {:+.0}%/vol {:+.0}%", x.spot * 100.0, x.vol * 100.0))
                .collect();
            let _ = writeln!(out, "  {:<30} {}", s.name, shocks.join(", "));
        }
        let _ = writeln!(
            out,
            "  (* worst of its asset or set, ! sets initial margin)"
        );
        for a in &self.accounts {
            let m = &a.margin;
            let c = &m.components;
            let _ = writeln!(out, "\naccount {} ({})", a.id, a.currency);
            let _ = writeln!(
                out,
                "  initial margin {}  maintenance {}  set by {}",
                money(m.initial),
                money(m.maintenance),
                a.binding
            );
            let _ = writeln!(
                out,
                "  ES {}  grid {}  scenario {}  liquidity {}  short-option minimum {}",
                money(c.es),
                money(c.grid),
                money(c.scenario),
                money(c.liquidity),
                money(c.short_option_minimum)
            );
            let mut assets: Vec<&str> = Vec::new();
            for p in &a.grid {
                if !assets.contains(&p.asset.as_str()) {
                    assets.push(&p.asset);
                }
            }
            for asset in assets {
                for extended in [false, true] {
                    let points: Vec<&GridPointReport> = a
                        .grid
                        .iter()
                        .filter(|p| p.asset == asset && p.extended == extended)
                        .collect();
                    grid_table(&mut out, asset, extended, &points);
                }
            }
            if !a.scenarios.is_empty() {
                let _ = writeln!(out, "  named scenarios");
                for s in &a.scenarios {
                    let _ = writeln!(
                        out,
                        "    {:<30} {:>18}{}",
                        s.name,
                        money(s.loss),
                        mark(s.worst, s.drives_margin)
                    );
                }
            }
        }
        out
    }
}

fn mark(worst: bool, drives: bool) -> &'static str {
    match (worst, drives) {
        (_, true) => " !",
        (true, false) => " *",
        _ => "  ",
    }
}

/// One asset's regular or extended grid as a matrix: rows price moves, columns vol moves.
fn grid_table(out: &mut String, asset: &str, extended: bool, points: &[&GridPointReport]) {
    if points.is_empty() {
        return;
    }
    let mut rows: Vec<f64> = Vec::new();
    let mut cols: Vec<f64> = Vec::new();
    for p in points {
        if !rows.contains(&p.price_move) {
            rows.push(p.price_move);
        }
        if !cols.contains(&p.vol_move) {
            cols.push(p.vol_move);
        }
    }
    let title = if extended {
        "extended moves, counted loss (fraction × loss)"
    } else {
        "grid loss"
    };
    let _ = write!(out, "  {asset} {title}\n    {:>14}", "price \\ vol");
    for v in &cols {
        let _ = write!(out, " {:>20}", format!("{:+.0}%", v * 100.0));
    }
    let _ = writeln!(out);
    for m in rows {
        let label = match points.iter().find(|p| p.price_move == m) {
            Some(p) if extended => format!("{:+.0}% ×{:.3}", m * 100.0, p.fraction),
            _ => format!("{:+.1}%", m * 100.0),
        };
        let _ = write!(out, "    {label:>14}");
        for &v in &cols {
            match points.iter().find(|p| p.price_move == m && p.vol_move == v) {
                Some(p) => {
                    let _ = write!(
                        out,
                        " {:>18}{}",
                        money(p.counted_loss),
                        mark(p.worst, p.drives_margin)
                    );
                }
                None => {
                    let _ = write!(out, " {:>20}", "");
                }
            }
        }
        let _ = writeln!(out);
    }
}

impl Report {
    /// The JSON of SPEC §8.
    pub fn to_json(&self) -> String {
        pretty_json(self)
    }

    /// A readable table for people.
    pub fn to_table(&self) -> String {
        let r = &self.run;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "tailrisk {} — {} paths, seed {}, horizon {} d in {} step(s), {} backend ({}, {}), {:.2} s",
            r.version,
            r.paths,
            r.seed,
            r.horizon_days,
            r.steps,
            r.backend,
            r.device,
            r.precision,
            r.seconds
        );
        if let Some(rep) = &r.correlation_repair {
            let _ = writeln!(
                out,
                "correlation repaired ({}): Frobenius distance {:.4}, smallest eigenvalue before {:.3e}",
                rep.method, rep.frobenius_distance, rep.min_eigenvalue_before
            );
        }
        for a in &self.accounts {
            let _ = writeln!(out, "\naccount {} ({})", a.id, a.currency);
            let _ = writeln!(
                out,
                "  {:>10}  {:>16}  {:>33}  {:>16}  {:>33}",
                "confidence", "VaR", "VaR 95% CI", "ES", "ES 95% CI"
            );
            for m in &a.measures {
                let _ = writeln!(
                    out,
                    "  {:>10}  {:>16}  {:>33}  {:>16}  {:>33}",
                    format!("{:.2}%", m.confidence * 100.0),
                    money(m.var),
                    format!("[{}, {}]", money(m.var_ci[0]), money(m.var_ci[1])),
                    money(m.es),
                    format!("[{}, {}]", money(m.es_ci[0]), money(m.es_ci[1])),
                );
            }
            if let Some(s) = &a.stress {
                let _ = writeln!(out, "  grid stress loss {}", money(s.grid_loss));
                for g in &s.grid {
                    let _ = writeln!(
                        out,
                        "    {:<6} {:>16}  at price {:+.0}%, vol {:+.0}%",
                        g.asset,
                        money(g.loss),
                        g.price_move * 100.0,
                        g.vol_move * 100.0
                    );
                }
                // The first of equal losses, as margin picks it (`AccountStress::worst_named`).
                if let Some(worst) = s
                    .scenarios
                    .iter()
                    .reduce(|best, x| if x.loss > best.loss { x } else { best })
                {
                    let _ = writeln!(
                        out,
                        "  worst named scenario {} ({})",
                        money(worst.loss),
                        worst.name
                    );
                }
            }
            if let Some(m) = &a.margin {
                let c = &m.components;
                let _ = writeln!(
                    out,
                    "  initial margin {}  maintenance {}  (ES {}, grid {}, scenario {}, liquidity {}, short-option minimum {})",
                    money(m.initial),
                    money(m.maintenance),
                    money(c.es),
                    money(c.grid),
                    money(c.scenario),
                    money(c.liquidity),
                    money(c.short_option_minimum)
                );
                if let Some(b) = c.apc_buffer {
                    let _ = writeln!(out, "  including the APC buffer {}", money(b));
                }
            }
            if let Some(greeks) = &a.greeks {
                for (asset, g) in greeks {
                    let _ = writeln!(
                        out,
                        "  {:<6} delta {}  gamma {}  vega {}  theta {}",
                        asset,
                        money(g.delta_usd),
                        money(g.gamma_usd),
                        money(g.vega_usd),
                        money(g.theta_usd)
                    );
                }
            }
            let mut parts: Vec<&ComponentReport> = a.components.iter().collect();
            parts.sort_by(|x, y| y.es.abs().total_cmp(&x.es.abs()));
            if !parts.is_empty() {
                let _ = writeln!(out, "  largest ES components:");
                for c in parts.iter().take(5) {
                    let _ = writeln!(out, "    {:<34} {:>16}", c.instrument, money(c.es));
                }
            }
        }
        out
    }
}
