//! The run configuration (SPEC §2 `--config`).

use serde::Deserialize;

use super::bounds::{
    AtLeastOne, Correlation, Dof, Entries, ExtendedMove, Finite, LookbackYears, NonNegative, Num,
    Object, OpenUnit, Paths, Positive, PositiveDays, PricePoints, RelativeMove, Seed, UnitInterval,
    UnitRatio, given, present,
};
use super::json::{Path, Source};
use crate::config::{
    ApcTool, CalibrationConfig, DynamicsInput, MarginConfig, RunConfig, StressConfig,
};
use crate::error::Result;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct ConfigFile {
    #[serde(default, deserialize_with = "present")]
    horizon_days: Option<Num<PositiveDays>>,
    #[serde(default, deserialize_with = "present")]
    steps: Option<AtLeastOne>,
    #[serde(default, deserialize_with = "present")]
    paths: Option<Paths>,
    #[serde(default, deserialize_with = "present")]
    seed: Option<Seed>,
    #[serde(default, deserialize_with = "present")]
    confidence: Option<Vec<Num<OpenUnit>>>,
    /// `null` means normal shocks; absent lets a history calibration fit ν.
    #[serde(default, deserialize_with = "given")]
    student_t_dof: Option<Option<Dof>>,
    #[serde(default, deserialize_with = "present")]
    calibration: Option<Object<CalibrationFields>>,
    #[serde(default, deserialize_with = "present")]
    dynamics: Option<Entries<Object<DynamicsFields>>>,
    #[serde(default, deserialize_with = "present")]
    margin: Option<Object<MarginFields>>,
    #[serde(default, deserialize_with = "present")]
    stress: Option<Object<StressFields>>,
    #[serde(default, deserialize_with = "present")]
    repair_correlation: Option<bool>,
    /// `null` lets the backend size chunks.
    #[serde(default)]
    chunk_paths: Option<AtLeastOne>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct DynamicsFields {
    /// `null` means the surface's 30-day at-the-money vol.
    #[serde(default)]
    spot_vol: Option<Num<Positive>>,
    #[serde(default, deserialize_with = "present")]
    vol_of_vol: Option<Num<NonNegative>>,
    #[serde(default, deserialize_with = "present")]
    vol_mean_reversion: Option<Num<NonNegative>>,
    #[serde(default, deserialize_with = "present")]
    spot_vol_corr: Option<Num<Correlation>>,
    #[serde(default, deserialize_with = "present")]
    jump_intensity: Option<Num<NonNegative>>,
    #[serde(default, deserialize_with = "present")]
    jump_mean: Option<Num<Finite>>,
    #[serde(default, deserialize_with = "present")]
    jump_std: Option<Num<NonNegative>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct MarginFields {
    #[serde(default, deserialize_with = "present")]
    confidence: Option<Num<OpenUnit>>,
    #[serde(default, deserialize_with = "present")]
    mm_ratio: Option<Num<UnitRatio>>,
    #[serde(default, deserialize_with = "present")]
    apc: Option<Object<ApcFields>>,
}

/// `{"tool": "floor" | "stressed_weight" | "buffer", "weight": w, "buffer": b}`: which
/// number is required depends on the tool, checked in [`apc`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct ApcFields {
    tool: String,
    #[serde(default, deserialize_with = "present")]
    weight: Option<Num<UnitInterval>>,
    #[serde(default, deserialize_with = "present")]
    buffer: Option<Num<UnitInterval>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct CalibrationFields {
    #[serde(default, deserialize_with = "present")]
    lambda: Option<Num<OpenUnit>>,
    #[serde(default, deserialize_with = "present")]
    seed_returns: Option<AtLeastOne>,
    #[serde(default, deserialize_with = "present")]
    lookback_years: Option<Num<LookbackYears>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
struct StressFields {
    #[serde(default, deserialize_with = "present")]
    price_range: Option<Num<OpenUnit>>,
    #[serde(default, deserialize_with = "present")]
    price_points: Option<PricePoints>,
    #[serde(default, deserialize_with = "present")]
    vol_moves: Option<Vec<Num<RelativeMove>>>,
    #[serde(default, deserialize_with = "present")]
    extended_moves: Option<Vec<Num<ExtendedMove>>>,
    #[serde(default, deserialize_with = "present")]
    extended_vol_moves: Option<Vec<Num<RelativeMove>>>,
}

fn values<B>(items: &[Num<B>]) -> Vec<f64>
where
    B: super::bounds::Bound,
{
    items.iter().map(|v| v.get()).collect()
}

/// Validates a run configuration. Every field is optional and takes its
/// [`RunConfig::default`] value when absent, as does every field of `margin`, `stress` and
/// each asset's `dynamics`. Whether the dynamics' assets are in the market is checked when
/// the book is compiled.
pub fn parse_config(text: &str, file: &str) -> Result<RunConfig> {
    let src = Source::new(text, file, "an object")?;
    let Object(c) = src.parse::<Object<ConfigFile>>()?;
    let root = Path::root();
    let mut config = RunConfig::default();
    if let Some(h) = c.horizon_days {
        config.horizon_days = h.get();
    }
    if let Some(steps) = c.steps {
        config.steps = steps.get_u32();
    }
    if let Some(paths) = c.paths {
        config.paths = paths.get();
    }
    if let Some(seed) = c.seed {
        config.seed = seed.get();
    }
    if let Some(levels) = c.confidence {
        if levels.is_empty() {
            return Err(src.fail(
                &root.key("confidence"),
                "needs at least one confidence level",
            ));
        }
        config.confidence = values(&levels);
    }
    config.student_t_dof_given = c.student_t_dof.is_some();
    config.student_t_dof = c.student_t_dof.flatten().map(Dof::get_u32);
    if let Some(Object(cal)) = c.calibration {
        let d = CalibrationConfig::default();
        config.calibration = CalibrationConfig {
            lambda: cal.lambda.map_or(d.lambda, Num::get),
            seed_returns: cal.seed_returns.map_or(d.seed_returns, AtLeastOne::get),
            lookback_years: cal.lookback_years.map_or(d.lookback_years, Num::get),
        };
    }
    for (asset, Object(d)) in c.dynamics.map(|e| e.0).unwrap_or_default() {
        config.dynamics.insert(asset, dynamics(d));
    }
    if let Some(Object(m)) = c.margin {
        let defaults = MarginConfig::default();
        config.margin = MarginConfig {
            confidence: m.confidence.map_or(defaults.confidence, Num::get),
            mm_ratio: m.mm_ratio.map_or(defaults.mm_ratio, Num::get),
            apc: match m.apc {
                Some(Object(a)) => Some(apc(&src, &root.key("margin").key("apc"), a)?),
                None => None,
            },
        };
    }
    if let Some(Object(s)) = c.stress {
        config.stress = stress(&src, &root.key("stress"), s)?;
    }
    if let Some(repair) = c.repair_correlation {
        config.repair_correlation = repair;
    }
    config.chunk_paths = c.chunk_paths.map(AtLeastOne::get_u32);
    Ok(config)
}

/// The tool of `margin.apc` with the one number it needs (a weight or buffer in [0, 1]).
fn apc(src: &Source, at: &Path, a: ApcFields) -> Result<ApcTool> {
    let extra = |field: &str| {
        src.fail(
            &at.key(field),
            format!("not a field of the {} tool", a.tool),
        )
    };
    let need = |field: &str| src.missing(&at.key(field));
    match a.tool.as_str() {
        "floor" => match (a.weight, a.buffer) {
            (Some(_), _) => Err(extra("weight")),
            (_, Some(_)) => Err(extra("buffer")),
            _ => Ok(ApcTool::Floor),
        },
        "stressed_weight" => match (a.weight, a.buffer) {
            (_, Some(_)) => Err(extra("buffer")),
            (None, _) => Err(need("weight")),
            (Some(w), None) => Ok(ApcTool::StressedWeight { weight: w.get() }),
        },
        "buffer" => match (a.weight, a.buffer) {
            (Some(_), _) => Err(extra("weight")),
            (_, None) => Err(need("buffer")),
            (None, Some(b)) => Ok(ApcTool::Buffer { buffer: b.get() }),
        },
        _ => Err(src.fail(&at.key("tool"), "must be floor, stressed_weight or buffer")),
    }
}

fn dynamics(d: DynamicsFields) -> DynamicsInput {
    let or_zero = |v: Option<Num<NonNegative>>| v.map_or(0.0, Num::get);
    DynamicsInput {
        spot_vol: d.spot_vol.map(Num::get),
        vol_of_vol: or_zero(d.vol_of_vol),
        vol_mean_reversion: or_zero(d.vol_mean_reversion),
        spot_vol_corr: d.spot_vol_corr.map_or(0.0, Num::get),
        jump_intensity: or_zero(d.jump_intensity),
        jump_mean: d.jump_mean.map_or(0.0, Num::get),
        jump_std: or_zero(d.jump_std),
    }
}

fn stress(src: &Source, at: &Path, s: StressFields) -> Result<StressConfig> {
    let mut out = StressConfig::default();
    if let Some(r) = s.price_range {
        out.price_range = r.get();
    }
    if let Some(n) = s.price_points {
        if n.get() % 2 == 0 {
            return Err(src.fail(
                &at.key("price_points"),
                "must be odd, so that the grid includes no move",
            ));
        }
        out.price_points = n.get_u32();
    }
    if let Some(moves) = s.vol_moves {
        if moves.is_empty() {
            return Err(src.fail(
                &at.key("vol_moves"),
                "needs at least one vol move (0 for none)",
            ));
        }
        out.vol_moves = values(&moves);
    }
    let given_extended = s.extended_moves.is_some();
    if let Some(moves) = s.extended_moves {
        out.extended_moves = values(&moves);
    }
    // An extended point counts at f = R/|m|: inside the regular grid's ±R it would count
    // more than its own loss (f > 1), which no user means.
    let range = out.price_range;
    if let Some(i) = out.extended_moves.iter().position(|m| m.abs() <= range) {
        let why = "its loss counts at price_range/|m|, more than 1 inside it";
        return Err(if given_extended {
            src.fail(
                &at.key("extended_moves").index(i),
                format!("an extended move must lie beyond the regular grid's ±{range}: {why}"),
            )
        } else {
            src.fail(
                &at.key("price_range"),
                format!(
                    "the default extended move {} lies inside ±{range}: {why}; set \
                     stress.extended_moves beyond it",
                    out.extended_moves[i]
                ),
            )
        });
    }
    if let Some(moves) = s.extended_vol_moves {
        out.extended_vol_moves = values(&moves);
    }
    Ok(out)
}
