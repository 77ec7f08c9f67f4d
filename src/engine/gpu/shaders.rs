//! The WGSL sources, embedded in the binary, and the `#import` preprocessor.
//!
//! Each stage is one file under `shaders/`; shared pieces live in `shaders/shared/` and are
//! pulled in by a line `#import name` (vello's convention). Every import is included once,
//! depth first, before the line that first asks for it, so a file may import what its imports
//! also import. `#import constants` is the one generated module: the constants shared with
//! the host, written from [`super::constants`] ([`super::constants::wgsl_header`]).
//! `tests/shaders_validate.rs` preprocesses and validates every stage with naga.

/// Shared modules: name → source.
pub const SHARED: &[(&str, &str)] = &[
    (
        "philox",
        include_str!("../../../shaders/shared/philox.wgsl"),
    ),
    ("math", include_str!("../../../shaders/shared/math.wgsl")),
    ("fixed", include_str!("../../../shaders/shared/fixed.wgsl")),
    (
        "normal",
        include_str!("../../../shaders/shared/normal.wgsl"),
    ),
    ("types", include_str!("../../../shaders/shared/types.wgsl")),
    (
        "dispatch",
        include_str!("../../../shaders/shared/dispatch.wgsl"),
    ),
    (
        "black76",
        include_str!("../../../shaders/shared/black76.wgsl"),
    ),
    (
        "surface",
        include_str!("../../../shaders/shared/surface.wgsl"),
    ),
];

/// A pipeline stage's shader.
#[derive(Clone, Copy, Debug)]
pub struct StageSource {
    /// File name under `shaders/` without the extension, also the module label.
    pub name: &'static str,
    pub source: &'static str,
}

/// Every stage shader, in pipeline order, then the test probe of the shared math.
pub const STAGES: &[StageSource] = &[
    StageSource {
        name: "draws",
        source: include_str!("../../../shaders/draws.wgsl"),
    },
    StageSource {
        name: "scenario",
        source: include_str!("../../../shaders/scenario.wgsl"),
    },
    StageSource {
        name: "revalue",
        source: include_str!("../../../shaders/revalue.wgsl"),
    },
    StageSource {
        name: "aggregate",
        source: include_str!("../../../shaders/aggregate.wgsl"),
    },
    StageSource {
        name: "tail",
        source: include_str!("../../../shaders/tail.wgsl"),
    },
    StageSource {
        name: "probe",
        source: include_str!("../../../shaders/probe.wgsl"),
    },
];

/// The stage named `name`. Panics on an unknown name (a programming error).
pub fn stage(name: &str) -> &'static StageSource {
    STAGES
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no shader stage named {name}"))
}

/// Resolves the `#import` lines of `source`; an unknown import is an error naming it.
pub fn preprocess(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() * 4);
    let mut included = Vec::new();
    expand(source, &mut included, &mut out)?;
    Ok(out)
}

/// The name of the generated import (see the module documentation).
pub const CONSTANTS: &str = "constants";

fn expand(source: &str, included: &mut Vec<&'static str>, out: &mut String) -> Result<(), String> {
    for line in source.lines() {
        if let Some(name) = line.trim().strip_prefix("#import ") {
            let name = name.trim();
            if name == CONSTANTS {
                if !included.contains(&CONSTANTS) {
                    included.push(CONSTANTS);
                    out.push_str(&super::constants::wgsl_header());
                }
                continue;
            }
            let (key, text) = SHARED
                .iter()
                .find(|(k, _)| *k == name)
                .ok_or_else(|| format!("unknown shader import `{name}`"))?;
            if !included.contains(key) {
                included.push(key);
                expand(text, included, out)?;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_included_once() {
        let text = preprocess("#import normal\n#import philox\nfn f() {}\n").unwrap();
        assert_eq!(text.matches("fn philox4x32_10").count(), 1);
        assert!(text.ends_with("fn f() {}\n"));
    }

    #[test]
    fn the_constants_import_is_generated_once() {
        let text = preprocess("#import constants\n#import types\n#import constants\n").unwrap();
        assert_eq!(text.matches("const MAX_KNOTS: u32 = 32u;").count(), 1);
    }

    #[test]
    fn unknown_import_is_an_error() {
        assert!(
            preprocess("#import nowhere\n")
                .unwrap_err()
                .contains("nowhere")
        );
    }
}
