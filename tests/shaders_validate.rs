//! Every stage shader, preprocessed, parses and validates with naga: bad WGSL fails
//! `cargo test` without any adapter.

use tailrisk::engine::gpu::shaders::{SHARED as SHARED_SOURCES, STAGES, preprocess};

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

// ---------------------------------------------------------------------------------------
// Layouts shared with Rust: every struct of `shaders/shared/types.wgsl` against its `Pod`
// twin in `src/engine/gpu/types.rs`, field by field, as naga lays the WGSL out.

use std::mem::{align_of, offset_of, size_of};

use naga::{Module, ScalarKind, TypeInner};
use tailrisk::engine::gpu::constants;
use tailrisk::engine::gpu::types::{
    AccountParams, AggregateParams, DrawParams, HoldingParams, PricingRow, RevalueBlock,
    RevalueParams, ScenarioParams, StepAsset, TailParams, TailState,
};

/// The element kind of a field: `u` u32, `f` f32, `s` a struct; arrays and vectors take
/// their element's.
trait Kind {
    const KIND: char;
}
impl Kind for u32 {
    const KIND: char = 'u';
}
impl Kind for f32 {
    const KIND: char = 'f';
}
impl<T: Kind, const N: usize> Kind for [T; N] {
    const KIND: char = T::KIND;
}
impl Kind for PricingRow {
    const KIND: char = 's';
}

/// One field: (name, offset, size, kind).
type Field = (String, usize, usize, char);

/// A struct's layout: size, alignment and fields in declaration order.
#[derive(Clone, Debug, PartialEq)]
struct Layout {
    name: String,
    size: usize,
    align: usize,
    fields: Vec<Field>,
}

fn kind_of<T, F: Kind>(_: fn(&T) -> &F) -> char {
    F::KIND
}

/// The layout of a Rust struct, from `offset_of!`/`size_of`. A padding array `_pad: [u32; n]`
/// is WGSL's `_pad0 .. _pad{n-1}`.
macro_rules! rust_layout {
    ($t:ident { $($f:ident),* $(,)? }) => {{
        let mut fields: Vec<Field> = Vec::new();
        $(
            let size = size_of_val(&<$t as Default>::default().$f);
            let offset = offset_of!($t, $f);
            let kind = kind_of(|x: &$t| &x.$f);
            if stringify!($f) == "_pad" {
                for k in 0..size / 4 {
                    fields.push((format!("_pad{k}"), offset + 4 * k, 4, 'u'));
                }
            } else {
                fields.push((stringify!($f).to_string(), offset, size, kind));
            }
        )*
        Layout {
            name: stringify!($t).to_string(),
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            fields,
        }
    }};
}

/// Every struct shared with the shaders, as Rust lays it out.
fn rust_layouts() -> Vec<Layout> {
    let mut layouts = early_layouts();
    layouts.extend(later_layouts());
    layouts
}

/// The Rust layouts of the draws' and scenario's parameters and tables, and of pricing rows.
fn early_layouts() -> Vec<Layout> {
    vec![
        rust_layout!(DrawParams {
            key,
            step,
            blocks,
            stream,
            count,
            _pad
        }),
        rust_layout!(ScenarioParams {
            key,
            path_base,
            path_count,
            assets,
            steps,
            dof,
            use_path_list,
            dt,
            sqrt_dt,
            mixture,
            mixture_offset
        }),
        rust_layout!(StepAsset {
            spot_vol,
            reversion_dt,
            vol_of_vol_sqrt_dt,
            rho,
            rho_complement,
            compensator_dt,
            jump_mean,
            jump_std,
            jumps,
            jump_always,
            jump_table_offset,
            jump_table_len
        }),
        rust_layout!(RevalueParams {
            path_count,
            explicit_rules,
            _pad
        }),
        rust_layout!(PricingRow {
            payoff,
            asset,
            expired,
            instrument,
            linear_scale,
            linear_offset,
            multiplier,
            strike,
            spot0,
            forward1_0,
            log_moneyness0,
            discount1,
            sqrt_tau1,
            tenor_weight,
            base_value,
            quantity_quanta,
            variance_k0,
            _pad,
            hinges
        }),
    ]
}

/// The Rust layouts of the tables and parameters of revalue, aggregate and tail.
fn later_layouts() -> Vec<Layout> {
    vec![
        rust_layout!(RevalueBlock {
            count,
            account,
            asset,
            shared_smile,
            knots,
            rows
        }),
        rust_layout!(AggregateParams {
            path_count,
            accounts,
            rows_per_group,
            _pad
        }),
        rust_layout!(AccountParams {
            holdings_offset,
            holdings_len,
            coin_margined,
            coin_asset,
            base_value_coin,
            inv_spot0,
            quantum,
            to_quanta
        }),
        rust_layout!(HoldingParams {
            instrument,
            quantity
        }),
        rust_layout!(TailParams {
            path_count,
            account_base,
            accounts,
            tail_len,
            path_base,
            tiles,
            _pad
        }),
        rust_layout!(TailState {
            prefix_hi,
            prefix_lo,
            remaining,
            pass_index,
            done,
            min_loss_key,
            empty,
            _pad
        }),
    ]
}

/// The element kind of a naga type (see [`Kind`]).
fn wgsl_kind(module: &Module, ty: naga::Handle<naga::Type>) -> char {
    let scalar = |kind: ScalarKind| match kind {
        ScalarKind::Uint => 'u',
        ScalarKind::Float => 'f',
        _ => '?',
    };
    match &module.types[ty].inner {
        TypeInner::Scalar(s) | TypeInner::Vector { scalar: s, .. } | TypeInner::Atomic(s) => {
            scalar(s.kind)
        }
        TypeInner::Array { base, .. } => wgsl_kind(module, *base),
        TypeInner::Struct { .. } => 's',
        _ => '?',
    }
}

/// Every struct of `module` as naga lays it out.
fn wgsl_layouts(module: &Module) -> Vec<Layout> {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    module
        .types
        .iter()
        .filter_map(|(handle, ty)| {
            let TypeInner::Struct { members, span } = &ty.inner else {
                return None;
            };
            let fields = members
                .iter()
                .map(|m| {
                    let name = m.name.clone().unwrap_or_default();
                    let size = layouter[m.ty].size as usize;
                    (name, m.offset as usize, size, wgsl_kind(module, m.ty))
                })
                .collect();
            Some(Layout {
                name: ty.name.clone()?,
                size: *span as usize,
                align: layouter[handle].alignment.round_up(1) as usize,
                fields,
            })
        })
        .collect()
}

/// Why `rust` and `wgsl` (the same struct on both sides) disagree, if they do. Sizes must be
/// equal and the WGSL size a multiple of its alignment (so an array's stride is the size on
/// both sides); Rust's alignment (4: scalars only) must divide WGSL's (up to 16 for vec4s),
/// so a Rust value is placed wherever WGSL's may be; the listed Rust fields must cover the
/// struct (no field left out of [`rust_layouts`]); every field must have the same name,
/// offset, size and element kind, in the same order.
fn compare(rust: &Layout, wgsl: &Layout) -> Result<(), String> {
    let name = &rust.name;
    let covered: usize = rust.fields.iter().map(|f| f.2).sum();
    if covered != rust.size {
        return Err(format!(
            "{name}: the listed Rust fields cover {covered} of {} bytes",
            rust.size
        ));
    }
    if rust.size != wgsl.size
        || !wgsl.size.is_multiple_of(wgsl.align)
        || !wgsl.align.is_multiple_of(rust.align)
    {
        return Err(format!(
            "{name}: Rust size {} align {}, WGSL size {} align {}",
            rust.size, rust.align, wgsl.size, wgsl.align
        ));
    }
    for k in 0..rust.fields.len().max(wgsl.fields.len()) {
        let (r, w) = (rust.fields.get(k), wgsl.fields.get(k));
        if r != w {
            return Err(format!("{name}: field {k} is {r:?} in Rust, {w:?} in WGSL"));
        }
    }
    Ok(())
}

fn parse(source: &str) -> Module {
    naga::front::wgsl::parse_str(&preprocess(source).unwrap()).unwrap()
}

/// `types.wgsl` declares exactly the structs of [`rust_layouts`], each laid out as in Rust;
/// every stage that declares one of them (through its imports) lays it out the same.
#[test]
fn shared_structs_match_their_rust_twins() {
    let rust = rust_layouts();
    let types = wgsl_layouts(&parse("#import types\n"));
    let mut names: Vec<&str> = types.iter().map(|l| l.name.as_str()).collect();
    let mut twins: Vec<&str> = rust.iter().map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    twins.sort_unstable();
    assert_eq!(names, twins, "structs of types.wgsl vs Rust twins");
    let mut failures = Vec::new();
    for stage in STAGES {
        for wgsl in wgsl_layouts(&parse(stage.source)) {
            if let Some(r) = rust.iter().find(|r| r.name == wgsl.name)
                && let Err(e) = compare(r, &wgsl)
            {
                failures.push(format!("{}.wgsl: {e}", stage.name));
            }
        }
    }
    for wgsl in &types {
        let r = rust.iter().find(|r| r.name == wgsl.name).unwrap();
        if let Err(e) = compare(r, wgsl) {
            failures.push(format!("types.wgsl: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The comparison fails on one-sided changes: a WGSL field reordered, a WGSL field added, a
/// Rust field left out of the list, and a WGSL field of another type.
#[test]
fn one_sided_layout_changes_are_caught() {
    let rust = rust_layouts();
    let tail_params = rust.iter().find(|r| r.name == "TailParams").unwrap();
    let types = preprocess("#import types\n").unwrap();
    let edits = [
        (
            "    accounts: u32,\n    tail_len: u32,",
            "    tail_len: u32,\n    accounts: u32,",
        ),
        (
            "    tiles: u32,\n    _pad0: u32,",
            "    tiles: u32,\n    extra: u32,\n    _pad0: u32,",
        ),
        (
            "    tiles: u32,\n    _pad0: u32,",
            "    tiles: f32,\n    _pad0: u32,",
        ),
    ];
    for (from, to) in edits {
        assert_eq!(types.matches(from).count(), 1, "{from}");
        let module = naga::front::wgsl::parse_str(&types.replacen(from, to, 1)).unwrap();
        let wgsl = wgsl_layouts(&module);
        let edited = wgsl.iter().find(|w| w.name == "TailParams").unwrap();
        assert!(
            compare(tail_params, edited).is_err(),
            "edit {to:?} not caught"
        );
    }
    // Rust side: a field missing from the list, and the fields in another order.
    let module = naga::front::wgsl::parse_str(&types).unwrap();
    let wgsl = wgsl_layouts(&module);
    let real = wgsl.iter().find(|w| w.name == "TailParams").unwrap();
    assert_eq!(compare(tail_params, real), Ok(()));
    let mut missing = tail_params.clone();
    missing.fields.remove(3);
    assert!(compare(&missing, real).is_err());
    let mut swapped = tail_params.clone();
    swapped.fields.swap(2, 3);
    assert!(compare(&swapped, real).is_err());
}

/// No shader declares a constant of `constants.rs` itself: each comes from the generated
/// `#import constants` alone.
#[test]
fn shared_constants_are_written_once() {
    let sources = STAGES
        .iter()
        .map(|s| (s.name, s.source))
        .chain(SHARED_SOURCES.iter().copied());
    for (name, source) in sources {
        for (constant, _) in constants::SHARED {
            for decl in [
                format!("const {constant}:"),
                format!("const {constant} ="),
                format!("override {constant}"),
            ] {
                assert!(
                    !source.contains(&decl),
                    "{name}.wgsl declares {constant} itself"
                );
            }
        }
    }
    // And the generated header is what the stages see.
    let tail = preprocess(tailrisk::engine::gpu::shaders::stage("tail").source).unwrap();
    let line = format!("const TAIL_TILE: u32 = {}u;", constants::TAIL_TILE);
    assert_eq!(tail.matches(&line).count(), 1);
}
