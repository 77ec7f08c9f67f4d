//! The one source of every constant that both the Rust host and the WGSL shaders use.
//!
//! The shaders do not spell these values: a line `#import constants` pulls in a WGSL header
//! generated from this table ([`wgsl_header`]) by the preprocessor of
//! [`super::shaders`], so changing a constant here changes the shaders too.
//! `tests/shaders_validate.rs` checks that no shader declares one of these names itself.
//!
//! Why a generated header and not pipeline-overridable constants (`override`, set through
//! `PipelineCompilationOptions::constants`): WGSL lets an override size only a workgroup
//! array, while these constants also size function-scope arrays (`MAX_ASSETS` in
//! `scenario.wgsl`), arrays inside structs bound as uniforms (`MAX_KNOTS`, `BLOCK_ROWS` in
//! `types.wgsl`) and appear in `const_assert`s, all of which need const-expressions. The
//! revalue stage's per-book `KNOTS` and `SHARED_SMILE` stay overrides: they vary per
//! pipeline, not per build.

use crate::model::distribution;
use crate::rng;

/// Workgroup size of `scenario.wgsl` (one invocation per path).
pub const WG_SCENARIO: u32 = 64;
/// Workgroup size of `revalue.wgsl` (one invocation per scenario of a block).
pub const WG_REVALUE: u32 = 64;
/// Workgroup size of `aggregate.wgsl`.
pub const WG_AGGREGATE: u32 = 256;
/// Workgroup size of the `histogram` and `gather` entry points of `tail.wgsl`.
pub const WG_TAIL: u32 = 256;
/// Workgroup size of `select_digit` in `tail.wgsl` (one invocation per account).
pub const WG_TAIL_SELECT: u32 = 64;
/// Workgroup size of `draws.wgsl`.
pub const WG_DRAWS: u32 = 64;
/// Workgroup size of `probe.wgsl`.
pub const WG_PROBE: u32 = 64;

/// Scenarios per tail histogram workgroup (`WG_TAIL` invocations × 16 keys).
pub const TAIL_TILE: u32 = 4096;
/// Bins of one radix digit of the tail select (8-bit digits).
pub const TAIL_BINS: u32 = 256;
/// Radix-select passes: the 8 digits of a 64-bit key (4 of the loss word, 4 of the path).
pub const TAIL_PASSES: u32 = 8;

/// The loss histogram's bins (`distribution` in `tail.wgsl`), from the one definition in
/// [`crate::model::distribution`].
pub const DIST_BINS: u32 = distribution::BINS;
pub const DIST_ZERO_BIN: u32 = distribution::ZERO_BIN;
pub const DIST_SIDE_BINS: u32 = distribution::SIDE_BINS;
pub const DIST_SUB_BITS: u32 = distribution::SUB_BITS;
/// The f32 biased exponents of the first binned octave and of the end bins.
pub const DIST_EXP_LO_BIASED: u32 = (distribution::EXP_LO + 127) as u32;
pub const DIST_EXP_HI_BIASED: u32 = (distribution::EXP_HI + 127) as u32;

/// The most assets `scenario.wgsl` simulates (its private arrays of correlated shocks).
pub const MAX_ASSETS: usize = 64;
/// The most smile knots of a surface the GPU backend prices (the revalue rows' arrays).
/// `surface.wgsl` writes one hinge term per knot, so it asserts this value.
pub const MAX_KNOTS: usize = 32;
/// Instruments per revalue block, one dispatch each.
pub const BLOCK_ROWS: usize = 8;

/// `PricingRow::payoff` codes.
pub const PAYOFF_DELTA_ONE: u32 = 0;
pub const PAYOFF_CALL: u32 = 1;
pub const PAYOFF_PUT: u32 = 2;

/// Explicit scenario rules (`scenario_rules[i]` of `revalue.wgsl`): this bit set means the
/// uniform vol rule; the bits from [`RULE_ONLY_SHIFT`] up hold `only_asset + 1` (0: every
/// instrument is revalued).
pub const RULE_UNIFORM_VOL: u32 = 1;
pub const RULE_ONLY_SHIFT: u32 = 8;

/// Every shared constant as (WGSL name, value); all are `u32` in WGSL.
pub const SHARED: &[(&str, u32)] = &[
    ("WG_SCENARIO", WG_SCENARIO),
    ("WG_REVALUE", WG_REVALUE),
    ("WG_AGGREGATE", WG_AGGREGATE),
    ("WG_TAIL", WG_TAIL),
    ("WG_TAIL_SELECT", WG_TAIL_SELECT),
    ("WG_DRAWS", WG_DRAWS),
    ("WG_PROBE", WG_PROBE),
    ("TAIL_TILE", TAIL_TILE),
    ("TAIL_BINS", TAIL_BINS),
    ("TAIL_PASSES", TAIL_PASSES),
    ("DIST_BINS", DIST_BINS),
    ("DIST_ZERO_BIN", DIST_ZERO_BIN),
    ("DIST_SIDE_BINS", DIST_SIDE_BINS),
    ("DIST_SUB_BITS", DIST_SUB_BITS),
    ("DIST_EXP_LO_BIASED", DIST_EXP_LO_BIASED),
    ("DIST_EXP_HI_BIASED", DIST_EXP_HI_BIASED),
    ("MAX_ASSETS", MAX_ASSETS as u32),
    ("MAX_KNOTS", MAX_KNOTS as u32),
    ("BLOCK_ROWS", BLOCK_ROWS as u32),
    ("PAYOFF_DELTA_ONE", PAYOFF_DELTA_ONE),
    ("PAYOFF_CALL", PAYOFF_CALL),
    ("PAYOFF_PUT", PAYOFF_PUT),
    ("RULE_UNIFORM_VOL", RULE_UNIFORM_VOL),
    ("RULE_ONLY_SHIFT", RULE_ONLY_SHIFT),
    ("STREAM_NORMAL", rng::STREAM_NORMAL),
    ("STREAM_UNIFORM", rng::STREAM_UNIFORM),
    ("MIX_INDEX", crate::model::importance::MIX_INDEX),
    ("PHILOX_M0", rng::PHILOX_M0),
    ("PHILOX_M1", rng::PHILOX_M1),
    ("PHILOX_W0", rng::PHILOX_W0),
    ("PHILOX_W1", rng::PHILOX_W1),
];

// The layout facts the shaders rely on.
const _: () = assert!(MAX_KNOTS.is_multiple_of(4), "knots are stored as vec4s");
const _: () = assert!(
    DIST_BINS * 4 <= 16384,
    "the histogram's bins fit the 16 KiB of workgroup memory WebGPU guarantees"
);
const _: () = assert!(
    TAIL_TILE.is_multiple_of(WG_TAIL),
    "a tile is whole rounds of a workgroup"
);
const _: () = assert!(TAIL_BINS == WG_TAIL, "one histogram bin per invocation");
const _: () = assert!(
    TAIL_BINS == 256 && TAIL_PASSES == 8,
    "8-bit digits of a 64-bit key"
);

/// The WGSL text of [`SHARED`]: one `const NAME: u32 = VALUEu;` per constant.
pub fn wgsl_header() -> String {
    let mut out = String::from("// Generated from src/engine/gpu/constants.rs: do not edit.\n");
    for (name, value) in SHARED {
        out.push_str(&format!("const {name}: u32 = {value}u;\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_declares_every_constant_once() {
        let header = wgsl_header();
        for (name, value) in SHARED {
            let line = format!("const {name}: u32 = {value}u;");
            assert_eq!(header.matches(&line).count(), 1, "{line}");
        }
        assert_eq!(header.lines().count(), SHARED.len() + 1);
    }
}
