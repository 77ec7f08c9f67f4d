//! Every stage shader, preprocessed, parses and validates with naga: bad WGSL fails
//! `cargo test` without any adapter.

use tailrisk::engine::gpu::shaders::{STAGES, preprocess};

fn validate(name: &str, source: &str) -> Result<naga::valid::ModuleInfo, String> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| format!("{name}.wgsl does not parse:\n{}", e.emit_to_string(source)))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| format!("{name}.wgsl is invalid:\n{}", e.emit_to_string(source)))
}

#[test]
fn every_stage_shader_validates() {
    let mut failures = Vec::new();
    for stage in STAGES {
        let source = match preprocess(stage.source) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{}.wgsl: {e}", stage.name));
                continue;
            }
        };
        if let Err(e) = validate(stage.name, &source) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_stage_has_an_entry_point() {
    for stage in STAGES {
        let source = preprocess(stage.source).unwrap();
        let module = naga::front::wgsl::parse_str(&source).unwrap();
        assert!(
            !module.entry_points.is_empty(),
            "{} has no entry point",
            stage.name
        );
    }
}

/// A broken shader is caught (the test above would not pass vacuously).
#[test]
fn invalid_wgsl_is_rejected() {
    let bad = "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }";
    assert!(validate("bad", bad).is_err());
}
