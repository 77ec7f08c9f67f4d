//! The run configuration (SPEC §2 `--config`).

use super::json::{self, At, Fields};
use crate::config::{DynamicsInput, MarginConfig, RunConfig, StressConfig};
use crate::error::Result;

const TOP_FIELDS: [&str; 11] = [
    "horizon_days",
    "steps",
    "paths",
    "seed",
    "confidence",
    "student_t_dof",
    "dynamics",
    "margin",
    "stress",
    "repair_correlation",
    "chunk_paths",
];
const DYNAMICS_FIELDS: [&str; 7] = [
    "spot_vol",
    "vol_of_vol",
    "vol_mean_reversion",
    "spot_vol_corr",
    "jump_intensity",
    "jump_mean",
    "jump_std",
];
const OPEN_UNIT: &str = "between 0 and 1 (exclusive)";

/// Validates a run configuration. Every field is optional and takes its
/// [`RunConfig::default`] value when absent, as does every field of `margin`, `stress` and
/// each asset's `dynamics`. Whether the dynamics' assets are in the market is checked when
/// the book is compiled.
pub fn parse_config(text: &str, file: &str) -> Result<RunConfig> {
    let doc = json::parse(text, file)?;
    let top = doc.root().object(&TOP_FIELDS)?;
    let mut config = RunConfig::default();

    if let Some(at) = top.get("horizon_days") {
        config.horizon_days = at.number_where(|v| v > 0.0, "a positive number of days")?;
    }
    if let Some(at) = top.get("steps") {
        config.steps = u32_in(&at, 1, u32::MAX)?;
    }
    if let Some(at) = top.get("paths") {
        config.paths = at.integer(1, u64::from(u32::MAX))?;
    }
    if let Some(at) = top.get("seed") {
        config.seed = at.integer(0, u64::MAX)?;
    }
    if let Some(at) = top.get("confidence") {
        let levels = at.numbers_where(|v| v > 0.0 && v < 1.0, OPEN_UNIT)?;
        if levels.is_empty() {
            return Err(at.fail("needs at least one confidence level"));
        }
        config.confidence = levels;
    }
    if let Some(at) = top.get("student_t_dof") {
        config.student_t_dof = if at.is_null() {
            None
        } else {
            Some(u32_in(&at, 3, u32::MAX)?)
        };
    }
    if let Some(at) = top.get("dynamics") {
        for (asset, at) in at.map()?.iter() {
            config
                .dynamics
                .insert(asset.to_string(), dynamics(&at.object(&DYNAMICS_FIELDS)?)?);
        }
    }
    if let Some(at) = top.get("margin") {
        config.margin = margin(&at.object(&["confidence", "mm_ratio"])?)?;
    }
    if let Some(at) = top.get("stress") {
        config.stress = stress(&at.object(&[
            "price_range",
            "price_points",
            "vol_moves",
            "extended_moves",
            "extended_vol_moves",
        ])?)?;
    }
    if let Some(at) = top.get("repair_correlation") {
        config.repair_correlation = at.boolean()?;
    }
    if let Some(at) = top.get("chunk_paths") {
        config.chunk_paths = if at.is_null() {
            None
        } else {
            Some(u32_in(&at, 1, u32::MAX)?)
        };
    }
    Ok(config)
}

fn u32_in(at: &At, min: u32, max: u32) -> Result<u32> {
    let n = at.integer(u64::from(min), u64::from(max))?;
    // In range by the check above.
    Ok(u32::try_from(n).unwrap_or(max))
}

fn dynamics(fields: &Fields) -> Result<DynamicsInput> {
    let mut d = DynamicsInput::default();
    let non_negative = |key: &str, slot: &mut f64| -> Result<()> {
        if let Some(at) = fields.get(key) {
            *slot = at.number_where(|v| v >= 0.0, "zero or positive")?;
        }
        Ok(())
    };
    non_negative("vol_of_vol", &mut d.vol_of_vol)?;
    non_negative("vol_mean_reversion", &mut d.vol_mean_reversion)?;
    non_negative("jump_intensity", &mut d.jump_intensity)?;
    non_negative("jump_std", &mut d.jump_std)?;
    if let Some(at) = fields.get("spot_vol") {
        d.spot_vol = if at.is_null() {
            None
        } else {
            Some(at.number_where(|v| v > 0.0, "a positive number")?)
        };
    }
    if let Some(at) = fields.get("spot_vol_corr") {
        d.spot_vol_corr = at.number_where(|v| (-1.0..=1.0).contains(&v), "in [-1, 1]")?;
    }
    if let Some(at) = fields.get("jump_mean") {
        d.jump_mean = at.number()?;
    }
    Ok(d)
}

fn margin(fields: &Fields) -> Result<MarginConfig> {
    let mut m = MarginConfig::default();
    if let Some(at) = fields.get("confidence") {
        m.confidence = at.number_where(|v| v > 0.0 && v < 1.0, OPEN_UNIT)?;
    }
    if let Some(at) = fields.get("mm_ratio") {
        m.mm_ratio = at.number_where(|v| v > 0.0 && v <= 1.0, "in (0, 1]")?;
    }
    Ok(m)
}

fn stress(fields: &Fields) -> Result<StressConfig> {
    let mut s = StressConfig::default();
    let above_minus_one = |v: f64| v > -1.0;
    if let Some(at) = fields.get("price_range") {
        s.price_range = at.number_where(|v| v > 0.0 && v < 1.0, OPEN_UNIT)?;
    }
    if let Some(at) = fields.get("price_points") {
        let n = u32_in(&at, 3, u32::MAX)?;
        if n % 2 == 0 {
            return Err(at.fail("must be odd, so that the grid includes no move"));
        }
        s.price_points = n;
    }
    if let Some(at) = fields.get("vol_moves") {
        s.vol_moves = at.numbers_where(above_minus_one, "greater than -1")?;
        if s.vol_moves.is_empty() {
            return Err(at.fail("needs at least one vol move (0 for none)"));
        }
    }
    if let Some(at) = fields.get("extended_moves") {
        s.extended_moves =
            at.numbers_where(|v| v > -1.0 && v != 0.0, "greater than -1 and not 0")?;
    }
    if let Some(at) = fields.get("extended_vol_moves") {
        s.extended_vol_moves = at.numbers_where(above_minus_one, "greater than -1")?;
    }
    Ok(s)
}
