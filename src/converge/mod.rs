//! `tailrisk converge`: how VaR and ES and their 95 % intervals settle as the path count
//! grows, with the seconds each count takes, and how many paths a given precision needs.
//!
//! Each point is `run` at that path count, same inputs and seed (so the point at N is
//! `tailrisk run --paths N` figure for figure, and the points share their first paths: a
//! study of one stream of draws, not of independent runs). The interval half-width h of an
//! estimate shrinks as 1/√N (SPEC §4: the ES interval is ±1.96·σ_ES with
//! σ_ES² = (Var[L | L ≥ VaR] + α·(ES − VaR)²) / (N·(1 − α)); the VaR interval is that of the
//! order statistics k_lo, k_hi), so from the largest count N_max, the paths a relative
//! half-width ε needs are N_ε = N_max · (h_rel(N_max) / ε)² (docs/methodology.md §16).
//!
//! Plain Monte Carlo only: importance sampling (`--variance-reduction is`) is not yet
//! available (docs/reference.md §10).

pub mod plot;
mod table;

use serde::Serialize;

use crate::engine::{Backend, BackendKind, Precision};
use crate::error::Result;
use crate::report::{MarginCurrency, margin_currency};
use crate::run::{RunInputs, evaluate};

/// The smallest path count of the default list.
pub const FIRST_PATHS: u64 = 1_000;
/// The largest path count when `--paths` is not given.
pub const DEFAULT_MAX_PATHS: u64 = 10_000_000;
/// The relative half-widths the report says the path count of.
pub const TARGET_PRECISIONS: [f64; 3] = [0.05, 0.01, 0.001];

/// The path counts of a study up to `max`: the powers of ten from 10³ below `max`, then
/// `max` itself (`[max]` alone when `max` ≤ 10³).
pub fn path_counts(max: u64) -> Vec<u64> {
    let mut counts = Vec::new();
    let mut n = FIRST_PATHS;
    while n < max {
        counts.push(n);
        n = n.saturating_mul(10);
    }
    counts.push(max);
    counts
}

/// The whole study.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConvergeReport {
    pub version: String,
    pub seed: u64,
    pub backend: BackendKind,
    pub device: String,
    pub precision: Precision,
    /// `none`: plain Monte Carlo.
    pub variance_reduction: String,
    /// One per path count, in increasing order.
    pub points: Vec<Point>,
    /// Per account and confidence, the paths each of [`TARGET_PRECISIONS`] needs, from the
    /// largest count.
    pub needed: Vec<Needed>,
}

/// `run` at one path count.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Point {
    pub paths: u64,
    /// Wall seconds of the run (compile, simulate, stress, Greeks, margin).
    pub seconds: f64,
    pub accounts: Vec<AccountPoint>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AccountPoint {
    pub id: String,
    pub currency: MarginCurrency,
    /// One per `confidence` of the configuration, as `run` reports them.
    pub measures: Vec<PointMeasure>,
}

/// VaR and ES at one confidence with their intervals and half-widths.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PointMeasure {
    pub confidence: f64,
    pub var: f64,
    pub var_ci: [f64; 2],
    pub es: f64,
    pub es_ci: [f64; 2],
    /// Half the interval's width.
    pub var_half_width: f64,
    pub es_half_width: f64,
    /// The half-width over |figure|; `null` when the figure is 0.
    pub var_relative_half_width: Option<f64>,
    pub es_relative_half_width: Option<f64>,
}

/// How many paths a precision of ES needs, for one account and confidence.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Needed {
    pub id: String,
    pub confidence: f64,
    /// At the largest path count.
    pub paths: u64,
    pub es_relative_half_width: Option<f64>,
    pub targets: Vec<NeededPaths>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NeededPaths {
    /// ε: the relative half-width of the 95 % interval of ES.
    pub es_relative_half_width: f64,
    /// N_max · (h_rel / ε)², rounded up; `null` when ES is 0 (no relative precision).
    pub paths: Option<u64>,
}

impl ConvergeReport {
    pub fn to_json(&self) -> String {
        crate::report::pretty_json(self)
    }
}

/// Runs `inputs` at each of `counts` (increasing) on `backend`; `done(i)` after point i.
pub fn converge(
    inputs: &RunInputs,
    counts: &[u64],
    backend: &dyn Backend,
    done: &dyn Fn(usize),
) -> Result<ConvergeReport> {
    let mut points = Vec::with_capacity(counts.len());
    for (i, &paths) in counts.iter().enumerate() {
        let mut at = inputs.clone();
        at.config.paths = paths;
        let ev = evaluate(&at, backend, &|_| {})?;
        let book = &ev.sim.book;
        let accounts = book
            .accounts
            .iter()
            .zip(&ev.sim.accounts)
            .map(|(account, figures)| AccountPoint {
                id: account.id.clone(),
                currency: margin_currency(book, account),
                measures: figures.measures.iter().map(point_measure).collect(),
            })
            .collect();
        points.push(Point {
            paths,
            seconds: ev.seconds,
            accounts,
        });
        done(i);
    }
    let needed = points.last().map(needed).unwrap_or_default();
    let info = backend.info();
    Ok(ConvergeReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        seed: inputs.config.seed,
        backend: info.backend,
        device: info.device,
        precision: info.precision,
        variance_reduction: if inputs.config.importance_sampling {
            "is".into()
        } else {
            "none".into()
        },
        points,
        needed,
    })
}

fn point_measure(m: &crate::risk::Measure) -> PointMeasure {
    let half = |ci: [f64; 2]| 0.5 * (ci[1] - ci[0]);
    let relative = |h: f64, x: f64| (x != 0.0).then(|| h / x.abs());
    let (var_half_width, es_half_width) = (half(m.var_ci), half(m.es_ci));
    PointMeasure {
        confidence: m.confidence,
        var: m.var,
        var_ci: m.var_ci,
        es: m.es,
        es_ci: m.es_ci,
        var_half_width,
        es_half_width,
        var_relative_half_width: relative(var_half_width, m.var),
        es_relative_half_width: relative(es_half_width, m.es),
    }
}

/// The paths each target precision needs, from the point at the largest count: the
/// half-width is ∝ 1/√N, so N_ε = N · (h_rel / ε)².
fn needed(last: &Point) -> Vec<Needed> {
    let mut out = Vec::new();
    for account in &last.accounts {
        for m in &account.measures {
            let targets = TARGET_PRECISIONS
                .iter()
                .map(|&eps| NeededPaths {
                    es_relative_half_width: eps,
                    paths: m
                        .es_relative_half_width
                        .map(|h| (last.paths as f64 * (h / eps).powi(2)).ceil() as u64),
                })
                .collect();
            out.push(Needed {
                id: account.id.clone(),
                confidence: m.confidence,
                paths: last.paths,
                es_relative_half_width: m.es_relative_half_width,
                targets,
            });
        }
    }
    out
}
