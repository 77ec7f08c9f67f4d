//! Test-only fault injection at the GPU backend's stages (docs/reference.md §7.4).
//!
//! Built only with the `failpoints` cargo feature: then `TAILRISK_FAILPOINT=STAGE:KIND`
//! (e.g. `revalue:lost`) makes [`hit`] at that stage return the error the device would
//! (`lost` a lost device, `oom` an out-of-memory, `map` a failed buffer mapping), and
//! `--backend auto` also accepts a software adapter ([`active`]) so that the fallback can be
//! shown on lavapipe. Without the feature [`hit`] is an inlined `Ok(())` and [`active`] a
//! constant `false`: normal builds contain no failpoint.

use crate::error::Result;

/// The stages a failpoint can name, in the order a run meets them.
pub const STAGES: [&str; 10] = [
    "device",
    "scenario",
    "revalue",
    "aggregate",
    "tail",
    "distribution",
    "table",
    "readback",
    "stress",
    "component",
];

/// The kinds of error a failpoint can inject.
pub const KINDS: [&str; 3] = ["lost", "oom", "map"];

/// The injected error of `stage`, when `TAILRISK_FAILPOINT` names it.
#[cfg(feature = "failpoints")]
pub fn hit(stage: &str) -> Result<()> {
    use crate::error::Error;
    let Ok(spec) = std::env::var("TAILRISK_FAILPOINT") else {
        return Ok(());
    };
    let Some((at, kind)) = spec.split_once(':') else {
        return Ok(());
    };
    if at != stage {
        return Ok(());
    }
    // The texts wgpu gives for these errors, marked as injected.
    let message = match kind {
        "lost" => "device lost (reason Unknown): injected",
        "oom" => "Out of Memory: injected",
        "map" => "cannot map a result buffer: Buffer map failed: injected",
        _ => return Ok(()),
    };
    Err(Error::Gpu(format!("{message} at the {stage} stage")))
}

/// Always `Ok(())`: failpoints exist only with the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_stage: &str) -> Result<()> {
    Ok(())
}

/// Whether a failpoint is set (then `--backend auto` takes any adapter, lavapipe included).
#[cfg(feature = "failpoints")]
pub fn active() -> bool {
    std::env::var_os("TAILRISK_FAILPOINT").is_some()
}

/// Always `false`: failpoints exist only with the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn active() -> bool {
    false
}
