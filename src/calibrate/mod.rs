//! Calibration of the Monte Carlo to a price history (SPEC §9): EWMA covariance, long-run
//! and stressed vol, Student-t ν, and the anti-procyclicality tool's `vol_used`. Pure
//! mathematics on a parsed [`History`]; [`apply`] turns run inputs into calibrated ones.
//!
//! With returns r_t (vectors over the simulated assets), t = 1..n, and m = min(n, seed):
//!
//! ```text
//! Σ₀ = (1/m) Σ_{t=1..m} r_t r_tᵀ          (uncentred)
//! Σ_t = λ Σ_{t−1} + (1 − λ) r_t r_tᵀ,      t = 1..n  (the seed returns enter both)
//! ewma_vol_a     = sqrt(365 Σ_n[a,a]),      ρ_ab = Σ_n[a,b] / sqrt(Σ_n[a,a] Σ_n[b,b])
//! long_run_vol_a = sqrt(365/W Σ_{t=n−W+1..n} r²_{t,a}),   W = min(n, ⌊365·lookback_years⌋)
//! stressed_vol_a = max_{max(n−W+1, m) ≤ t ≤ n} sqrt(365 Σ_t[a,a])  (earliest t on ties)
//! ```

mod student_t;
mod table;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::config::{ApcTool, CalibrationConfig, RunConfig};
use crate::error::{Error, Result};
use crate::input::History;
use crate::market::CorrelationInput;
use crate::run::RunInputs;
use crate::time::{Timestamp, format_rfc3339};

use crate::model::historical::HistoricalMethod;
use crate::run::HistoricalScenarios;

pub use student_t::{fit_student_t, normal_log_likelihood, student_t_log_likelihood};

/// Days in the model's year: daily variances are annualised by it.
const DAYS_PER_YEAR: f64 = 365.0;

/// The calibration of SPEC §9, in the field order of its JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The market's `as_of`, RFC 3339.
    pub as_of: String,
    /// d_1, the date of the first return.
    pub first: String,
    /// d_n, the date of the last return.
    pub last: String,
    /// n.
    pub returns: usize,
    pub lambda: f64,
    /// m as used: min(n, `calibration.seed_returns`).
    pub seed_returns: usize,
    #[serde(
        serialize_with = "assets_by_symbol",
        deserialize_with = "assets_from_symbols"
    )]
    pub assets: Vec<AssetCalibration>,
    pub correlation: CalibratedCorrelation,
    /// ν of the model: the fitted one (`None` when the normal fits strictly better), or the
    /// configuration's when it sets `student_t_dof` (SPEC §9: a configured ν is kept;
    /// [`DofChoice`]).
    pub student_t_dof: Option<u32>,
    pub apc: Option<ApcTool>,
}

/// One asset's calibrated vols (annualised fractions).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssetCalibration {
    #[serde(skip)]
    pub symbol: String,
    pub ewma_vol: f64,
    pub long_run_vol: f64,
    pub stressed_vol: f64,
    pub stressed_date: String,
    /// What the Monte Carlo uses as `spot_vol`, after the APC tool.
    pub vol_used: f64,
}

/// The correlation of Σ_n, in the simulated assets' order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibratedCorrelation {
    pub symbols: Vec<String>,
    pub matrix: Vec<Vec<f64>>,
}

/// `"assets": {"BTC": {...}, "ETH": {...}}` in the simulated order (not sorted).
fn assets_by_symbol<S: Serializer>(assets: &[AssetCalibration], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(assets.len()))?;
    for a in assets {
        map.serialize_entry(&a.symbol, a)?;
    }
    map.end()
}

/// The inverse of [`assets_by_symbol`] (shard files read a calibration back): the map's
/// entries in the order written, each given its symbol.
fn assets_from_symbols<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<AssetCalibration>, D::Error> {
    struct InOrder;
    impl<'de> Visitor<'de> for InOrder {
        type Value = Vec<AssetCalibration>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map from asset symbol to its calibration")
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut assets = Vec::new();
            while let Some((symbol, asset)) = map.next_entry::<String, AssetCalibration>()? {
                assets.push(AssetCalibration { symbol, ..asset });
            }
            Ok(assets)
        }
    }
    d.deserialize_map(InOrder)
}

/// The EWMA recursion over a history.
#[derive(Clone, Debug, PartialEq)]
pub struct Ewma {
    /// m, the seed returns used.
    pub seed_returns: usize,
    /// `variances[t][a]` = Σ_t\[a,a\] (daily), t = 0..=n.
    pub variances: Vec<Vec<f64>>,
    /// Σ_n, row-major A×A.
    pub last: Vec<f64>,
}

/// Runs the EWMA recursion (module docs) with decay `lambda` and `seed` seed returns.
pub fn ewma(history: &History, lambda: f64, seed: usize) -> Ewma {
    let assets = history.symbols.len();
    let n = history.returns.len();
    let m = seed.clamp(1, n.max(1));
    let mut sigma = vec![0.0; assets * assets];
    for r in &history.returns[..m.min(n)] {
        add_outer(&mut sigma, r, 1.0 / m as f64);
    }
    let diagonal = |s: &[f64]| (0..assets).map(|a| s[a * assets + a]).collect::<Vec<_>>();
    let mut variances = Vec::with_capacity(n + 1);
    variances.push(diagonal(&sigma));
    for r in &history.returns {
        sigma.iter_mut().for_each(|x| *x *= lambda);
        add_outer(&mut sigma, r, 1.0 - lambda);
        variances.push(diagonal(&sigma));
    }
    Ewma {
        seed_returns: m,
        variances,
        last: sigma,
    }
}

/// sigma += w · r rᵀ.
fn add_outer(sigma: &mut [f64], r: &[f64], w: f64) {
    let k = r.len();
    for i in 0..k {
        for j in 0..k {
            sigma[i * k + j] += w * r[i] * r[j];
        }
    }
}

/// The history's n days as scenarios (SPEC §10) for `method`: the returns, the EWMA daily
/// vols σ₀..σ_n of the recursion the calibration ran, and each asset's `vol_used`.
pub fn historical_scenarios(
    history: &History,
    params: &CalibrationConfig,
    calibration: &Calibration,
    method: HistoricalMethod,
) -> HistoricalScenarios {
    let seed = usize::try_from(params.seed_returns).unwrap_or(usize::MAX);
    let e = ewma(history, params.lambda, seed);
    HistoricalScenarios {
        method,
        symbols: history.symbols.clone(),
        returns: history.returns.clone(),
        sigma: e
            .variances
            .iter()
            .map(|day| day.iter().map(|v| v.sqrt()).collect())
            .collect(),
        vol_used: calibration.assets.iter().map(|a| a.vol_used).collect(),
        dates: history
            .dates
            .iter()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect(),
        file: history.file.clone(),
    }
}

/// Where ν comes from (SPEC §9, settled detail 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DofChoice {
    /// Fitted to the history's standardised returns.
    Fitted,
    /// The configuration's `student_t_dof`, kept as given (`None`: normal shocks).
    Configured(Option<u32>),
}

impl DofChoice {
    /// Fitted unless the configuration file set `student_t_dof` (`null` included).
    pub fn of(config: &RunConfig) -> Self {
        if config.student_t_dof_given {
            DofChoice::Configured(config.student_t_dof)
        } else {
            DofChoice::Fitted
        }
    }
}

/// Calibrates a history (SPEC §9, settled details 2–6); `as_of` is the market's.
///
/// An asset whose EWMA variance Σ_n(a,a) is 0 (every return through d_n is 0: a price that
/// never moved) has no correlation, ρ = Σ_n(a,b)/(σ_a σ_b) being 0/0: an input error naming
/// the history and the asset, not a NaN in the model.
pub fn calibrate(
    history: &History,
    params: &CalibrationConfig,
    apc: Option<ApcTool>,
    dof: DofChoice,
    as_of: Timestamp,
) -> Result<Calibration> {
    let n = history.returns.len();
    let k = history.symbols.len();
    let seed = usize::try_from(params.seed_returns).unwrap_or(usize::MAX);
    let e = ewma(history, params.lambda, seed);
    let m = e.seed_returns;
    let last_date = history.dates[n - 1];
    for (a, symbol) in history.symbols.iter().enumerate() {
        if e.last[a * k + a] <= 0.0 {
            return Err(Error::input(
                &history.file,
                format!("column {symbol}"),
                format!("EWMA variance 0 at {last_date}"),
                format!(
                    "{symbol}'s returns through {last_date} are all 0 (its close never moves), \
                     so its vol is 0 and its correlation with the other assets is 0/0: a \
                     calibrated asset needs a price that moves"
                ),
            ));
        }
    }
    // ⌊365·years⌋ ≥ 1 by the configuration's bound, n ≥ 60 by the history's.
    let window = ((DAYS_PER_YEAR * params.lookback_years).floor() as usize).min(n);
    let date = |t: usize| history.dates[t - 1].format("%Y-%m-%d").to_string();
    let assets = (0..k)
        .map(|a| {
            let ewma_vol = (DAYS_PER_YEAR * e.last[a * k + a]).sqrt();
            let sum_sq: f64 = history.returns[n - window..]
                .iter()
                .map(|r| r[a] * r[a])
                .sum();
            let long_run_vol = (DAYS_PER_YEAR * sum_sq / window as f64).sqrt();
            let (mut stressed_t, mut stressed_var) = (0, f64::NEG_INFINITY);
            for t in (n + 1 - window).max(m)..=n {
                if e.variances[t][a] > stressed_var {
                    (stressed_t, stressed_var) = (t, e.variances[t][a]);
                }
            }
            let stressed_vol = (DAYS_PER_YEAR * stressed_var).sqrt();
            AssetCalibration {
                symbol: history.symbols[a].clone(),
                ewma_vol,
                long_run_vol,
                stressed_vol,
                stressed_date: date(stressed_t),
                vol_used: vol_used(apc, ewma_vol, long_run_vol, stressed_vol),
            }
        })
        .collect();
    Ok(Calibration {
        as_of: format_rfc3339(as_of),
        first: date(1),
        last: date(n),
        returns: n,
        lambda: params.lambda,
        seed_returns: m,
        assets,
        correlation: correlation(&history.symbols, &e.last),
        student_t_dof: match dof {
            DofChoice::Fitted => fit_student_t(&standardised(history, &e)?),
            DofChoice::Configured(nu) => nu,
        },
        apc,
    })
}

/// vol_used of the APC tool (SPEC §9).
pub fn vol_used(apc: Option<ApcTool>, ewma_vol: f64, long_run_vol: f64, stressed_vol: f64) -> f64 {
    match apc {
        None | Some(ApcTool::Buffer { .. }) => ewma_vol,
        Some(ApcTool::Floor) => ewma_vol.max(long_run_vol),
        Some(ApcTool::StressedWeight { weight: w }) => {
            ((1.0 - w) * ewma_vol * ewma_vol + w * stressed_vol * stressed_vol).sqrt()
        }
    }
}

/// ρ_ab = Σ[a,b] / (σ_a σ_b), unit diagonal, clamped to [−1, 1] against rounding.
fn correlation(symbols: &[String], sigma: &[f64]) -> CalibratedCorrelation {
    let k = symbols.len();
    let matrix = (0..k)
        .map(|a| {
            (0..k)
                .map(|b| {
                    if a == b {
                        1.0
                    } else {
                        // Σ[a,b] from the upper triangle, so that ρ is exactly symmetric.
                        let (i, j) = (a.min(b), a.max(b));
                        let s = sigma[a * k + a].sqrt() * sigma[b * k + b].sqrt();
                        (sigma[i * k + j] / s).clamp(-1.0, 1.0)
                    }
                })
                .collect()
        })
        .collect();
    CalibratedCorrelation {
        symbols: symbols.to_vec(),
        matrix,
    }
}

/// z_{t,a} = r_{t,a} / σ_{t−1,a}, t = m+1..n, pooled over assets. A zero σ_{t−1,a} (every
/// return of the asset through d_{t−1} is 0, as when its close stands still for the seed
/// returns and after) leaves z undefined (r/0 or 0/0): an input error naming the asset and
/// the date, not a z left out of the fit.
fn standardised(history: &History, e: &Ewma) -> Result<Vec<f64>> {
    let m = e.seed_returns;
    let mut z = Vec::new();
    for t in m + 1..=history.returns.len() {
        for (a, r) in history.returns[t - 1].iter().enumerate() {
            let var = e.variances[t - 1][a];
            if var <= 0.0 {
                let symbol = &history.symbols[a];
                let date = history.dates[t - 1];
                return Err(Error::input(
                    &history.file,
                    format!("column {symbol}, return of {date}"),
                    "EWMA vol 0 the day before",
                    format!(
                        "fitting student_t_dof divides each return by the EWMA vol of the day \
                         before, and {symbol}'s is 0 there (its close has not moved yet): \
                         raise calibration.seed_returns, start the history later, or set \
                         student_t_dof in the configuration"
                    ),
                ));
            }
            z.push(r / var.sqrt());
        }
    }
    Ok(z)
}

/// The run inputs a calibration makes (SPEC §9): each simulated asset's `spot_vol` is its
/// `vol_used` (its other dynamics as configured), the calibrated correlation replaces the
/// market's, ν is the fitted one unless the configuration set `student_t_dof`, and the
/// configuration records the calibration for the report's `run.calibration`.
pub fn apply(mut inputs: RunInputs, calibration: Calibration) -> RunInputs {
    for a in &calibration.assets {
        let d = inputs.config.dynamics.entry(a.symbol.clone()).or_default();
        d.spot_vol = Some(a.vol_used);
    }
    let c = &calibration.correlation;
    inputs.market.correlation = Some(CorrelationInput {
        symbols: c.symbols.clone(),
        matrix: c.matrix.iter().flatten().copied().collect(),
    });
    inputs.config.student_t_dof = calibration.student_t_dof;
    inputs.config.calibrated = Some(calibration);
    inputs
}
