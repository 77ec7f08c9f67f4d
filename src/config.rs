//! The run configuration (SPEC §2 `--config`): every field has a default, flags override it.

use std::collections::BTreeMap;

/// A validated run configuration. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RunConfig {
    /// Risk horizon in calendar days (> 0). Default 1.
    pub horizon_days: f64,
    /// Time steps per path (≥ 1). Default 1.
    pub steps: u32,
    /// Monte Carlo paths (1 ..= 2³²−1, the Philox counter word). Default 1 000 000.
    pub paths: u64,
    /// Philox key. Default 42.
    pub seed: u64,
    /// Confidence levels in (0, 1) for VaR/ES. Default [0.99, 0.995].
    pub confidence: Vec<f64>,
    /// Degrees of freedom ν ≥ 3 of the multivariate Student-t shocks; `None` = normal.
    pub student_t_dof: Option<u32>,
    /// Whether the configuration file set `student_t_dof` (`null` included): a history
    /// calibration's fitted ν replaces it only when not (SPEC §9, settled detail 5).
    pub student_t_dof_given: bool,
    /// Whether flags set `paths` or `confidence`: errors about the path count or the tail's
    /// size then name the command line, not the configuration file.
    pub sized_by_flags: bool,
    /// EWMA calibration parameters of `--history` (SPEC §9).
    pub calibration: CalibrationConfig,
    /// The calibration these inputs were adjusted with (`--history`), reported as
    /// `run.calibration`; set by [`crate::calibrate::apply`], never read from a file.
    pub calibrated: Option<crate::calibrate::Calibration>,
    /// Per-asset dynamics; missing assets and fields take the zero defaults.
    pub dynamics: BTreeMap<String, DynamicsInput>,
    pub margin: MarginConfig,
    pub stress: StressConfig,
    /// Repair a non-PSD correlation matrix to the nearest correlation matrix (Higham 2002)
    /// instead of rejecting it. Default false.
    pub repair_correlation: bool,
    /// Paths per chunk; `None` sizes chunks from the book and the device.
    pub chunk_paths: Option<u32>,
    /// `--variance-reduction is`: importance sampling of the tail (methodology §16.2).
    pub importance_sampling: bool,
}

/// Dynamics of one asset (SPEC §3). All default to zero, `spot_vol` to the asset's surface
/// at k = 0, τ = 30 days.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DynamicsInput {
    pub spot_vol: Option<f64>,
    pub vol_of_vol: f64,
    pub vol_mean_reversion: f64,
    pub spot_vol_corr: f64,
    pub jump_intensity: f64,
    pub jump_mean: f64,
    pub jump_std: f64,
}

/// Margin parameters (SPEC §6).
#[derive(Clone, Debug, PartialEq)]
pub struct MarginConfig {
    /// Confidence of the ES that enters initial margin. Default 0.99.
    pub confidence: f64,
    /// Maintenance margin as a fraction of initial margin. Default 0.75.
    pub mm_ratio: f64,
    /// Anti-procyclicality tool (SPEC §9, EMIR RTS 153/2013 art. 28). Default none.
    pub apc: Option<ApcTool>,
}

/// An anti-procyclicality tool (`margin.apc`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum ApcTool {
    /// vol_used = max(ewma_vol, long_run_vol).
    Floor,
    /// vol_used² = (1 − w)·ewma_vol² + w·stressed_vol², w in [0, 1].
    StressedWeight { weight: f64 },
    /// vol_used = ewma_vol, and IM = IM₀·(1 + buffer), buffer in [0, 1].
    Buffer { buffer: f64 },
}

/// EMIR's minimum weight or buffer (RTS 153/2013 art. 28(1)(a), (b)).
pub const EMIR_MINIMUM: f64 = 0.25;

impl ApcTool {
    /// The warning a caller shows for a weight or buffer below [`EMIR_MINIMUM`] (allowed).
    pub fn warning(&self) -> Option<String> {
        let (field, v) = match *self {
            ApcTool::Floor => return None,
            ApcTool::StressedWeight { weight } => ("weight", weight),
            ApcTool::Buffer { buffer } => ("buffer", buffer),
        };
        (v < EMIR_MINIMUM)
            .then(|| format!("margin.apc.{field} {v} is below EMIR's minimum of {EMIR_MINIMUM}"))
    }

    /// The buffer of the buffer tool; `None` for the others.
    pub fn buffer(&self) -> Option<f64> {
        match *self {
            ApcTool::Buffer { buffer } => Some(buffer),
            _ => None,
        }
    }
}

/// EWMA calibration parameters (SPEC §9 `calibration`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CalibrationConfig {
    /// Decay λ, 0 < λ < 1. Default 0.94 (RiskMetrics daily).
    pub lambda: f64,
    /// Returns m that seed Σ₀ (≥ 1; at most n are used). Default 30.
    pub seed_returns: u64,
    /// Long-run and stressed window in years (> 0): W = min(n, ⌊365·years⌋). Default 10.
    pub lookback_years: f64,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        Self {
            lambda: 0.94,
            seed_returns: 30,
            lookback_years: 10.0,
        }
    }
}

/// Grid stress parameters (SPEC §5), Deribit-like defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct StressConfig {
    /// Largest relative price move of the regular grid. Default 0.16.
    pub price_range: f64,
    /// Points of the regular price grid, from −range to +range (odd, ≥ 3). Default 9.
    pub price_points: u32,
    /// Vol-level moves v (Y = 1 + v) of the regular grid. Default [−0.25, 0, 0.5].
    pub vol_moves: Vec<f64>,
    /// Extended relative price moves. Default [−0.66, −0.33, 0.5, 1, 2, 5].
    pub extended_moves: Vec<f64>,
    /// Vol-level moves under which each extended move is applied. Default [0, 0.5].
    pub extended_vol_moves: Vec<f64>,
}

impl Default for MarginConfig {
    fn default() -> Self {
        Self {
            confidence: 0.99,
            mm_ratio: 0.75,
            apc: None,
        }
    }
}

impl Default for StressConfig {
    fn default() -> Self {
        Self {
            price_range: 0.16,
            price_points: 9,
            vol_moves: vec![-0.25, 0.0, 0.5],
            extended_moves: vec![-0.66, -0.33, 0.5, 1.0, 2.0, 5.0],
            extended_vol_moves: vec![0.0, 0.5],
        }
    }
}

impl RunConfig {
    /// What errors about the path count or the tail name: the command line when flags set
    /// them, else `file` (the configuration's).
    pub fn sizing_source<'a>(&self, file: &'a str) -> &'a str {
        if self.sized_by_flags {
            "command line"
        } else {
            file
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            horizon_days: 1.0,
            steps: 1,
            paths: 1_000_000,
            seed: 42,
            confidence: vec![0.99, 0.995],
            student_t_dof: None,
            student_t_dof_given: false,
            sized_by_flags: false,
            calibration: CalibrationConfig::default(),
            calibrated: None,
            dynamics: BTreeMap::new(),
            margin: MarginConfig::default(),
            stress: StressConfig::default(),
            repair_correlation: false,
            chunk_paths: None,
            importance_sampling: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented defaults (README, methodology §12): SPEC §2's run and Deribit's grid.
    #[test]
    fn defaults_are_the_documented_ones() {
        let c = RunConfig::default();
        assert_eq!(
            (c.horizon_days, c.steps, c.paths, c.seed),
            (1.0, 1, 1_000_000, 42)
        );
        assert_eq!(c.confidence, vec![0.99, 0.995]);
        assert_eq!(c.student_t_dof, None);
        assert!(c.dynamics.is_empty() && !c.repair_correlation && c.chunk_paths.is_none());
        assert_eq!((c.margin.confidence, c.margin.mm_ratio), (0.99, 0.75));
        assert_eq!(c.margin.apc, None);
        let cal = c.calibration;
        assert_eq!(
            (cal.lambda, cal.seed_returns, cal.lookback_years),
            (0.94, 30, 10.0)
        );
        let s = c.stress;
        assert_eq!((s.price_range, s.price_points), (0.16, 9));
        assert_eq!(s.vol_moves, vec![-0.25, 0.0, 0.5]);
        assert_eq!(s.extended_moves, vec![-0.66, -0.33, 0.5, 1.0, 2.0, 5.0]);
        assert_eq!(s.extended_vol_moves, vec![0.0, 0.5]);
    }
}
