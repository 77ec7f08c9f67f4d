//! GPU fault tolerance (docs/reference.md §7.4), by fault injection: with the `failpoints`
//! feature, `TAILRISK_FAILPOINT=STAGE:KIND` makes the GPU backend fail at that stage with a
//! lost device, an out-of-memory or a failed mapping. For every stage and kind, on lavapipe:
//! `--backend auto` warns on stderr naming the device and the error and gives the figures
//! of `--backend cpu --precision f32` bit for bit (the report says backend cpu);
//! `--backend gpu` exits 1 with the error. Without the feature the variable does nothing.
//!
//! Run: `XDG_RUNTIME_DIR=/tmp TAILRISK_REQUIRE_GPU=1 cargo test --release --features
//! failpoints --test gpu_faults`.

mod common;

use std::process::{Command, Output};

use serde_json::Value;

#[cfg(feature = "failpoints")]
const HISTORY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/bitstamp_daily_close.csv"
);
#[cfg(feature = "failpoints")]
const MARKET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/market_2020-01-17.json"
);
#[cfg(feature = "failpoints")]
const PORTFOLIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/portfolio_2020-01-17.json"
);

/// `tailrisk ARGS` with `TAILRISK_FAILPOINT` set to `failpoint` (or unset).
fn tailrisk(args: &[&str], failpoint: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tailrisk"));
    cmd.args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env_remove("TAILRISK_FAILPOINT");
    if let Some(f) = failpoint {
        cmd.env("TAILRISK_FAILPOINT", f);
    }
    cmd.output().expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The report's JSON without `run.seconds` (the one field that may differ between runs).
fn figures(o: &Output) -> Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    let mut v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    if let Some(run) = v.get_mut("run").and_then(Value::as_object_mut) {
        run.remove("seconds");
    }
    v
}

/// Whether a GPU adapter exists (panics under `TAILRISK_REQUIRE_GPU=1` when none does).
fn have_gpu() -> bool {
    common::test_backend().is_some()
}

/// The command lines that reach a stage: a Monte Carlo run (every stage but the two
/// below), with `--report` (the loss histogram), and hs over the shipped history (the
/// table upload).
#[cfg(feature = "failpoints")]
fn command_for(stage: &str, tag: &str) -> Vec<String> {
    let mut args: Vec<String> = ["run", "--paths", "2000", "--format", "json"]
        .map(String::from)
        .to_vec();
    match stage {
        "distribution" => {
            let page = std::env::temp_dir()
                .join(format!("tailrisk-faults-{}-{tag}.html", std::process::id()));
            args.extend(["--report".into(), page.display().to_string()]);
        }
        "table" => args.extend(
            [
                "--method",
                "hs",
                "--history",
                HISTORY,
                "--market",
                MARKET,
                "--portfolio",
                PORTFOLIO,
            ]
            .map(String::from),
        ),
        _ => {}
    }
    args
}

/// At `stage`, each kind of error: auto falls back with the CPU f32 figures; gpu exits 1.
#[cfg(feature = "failpoints")]
fn fault_at(stage: &str) {
    if !have_gpu() {
        return;
    }
    let cpu_args = [
        command_for(stage, "cpu"),
        vec!["--backend".into(), "cpu".into()],
    ]
    .concat();
    let cpu_args = [cpu_args, vec!["--precision".into(), "f32".into()]].concat();
    let cpu_args: Vec<&str> = cpu_args.iter().map(String::as_str).collect();
    let reference = figures(&tailrisk(&cpu_args, None));
    assert_eq!(reference["run"]["backend"], "cpu");
    for kind in tailrisk::engine::gpu::failpoint::KINDS {
        let failpoint = format!("{stage}:{kind}");
        for backend in ["auto", "gpu"] {
            let mut args = command_for(stage, &format!("{kind}-{backend}"));
            args.extend(["--backend".into(), backend.into()]);
            if stage == "device" {
                // Before any device exists the CPU runs at --precision (default f64).
                args.extend(["--precision".into(), "f32".into()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = tailrisk(&args, Some(&failpoint));
            let e = stderr(&o);
            assert!(e.contains("injected"), "{failpoint} {backend}: {e}");
            assert!(e.contains("llvmpipe"), "the device is named: {e}");
            if backend == "auto" {
                assert!(e.contains("GPU FAILURE"), "a loud warning: {e}");
                assert_eq!(figures(&o), reference, "{failpoint}: CPU f32 figures");
            } else {
                assert_eq!(o.status.code(), Some(1), "{failpoint} gpu: {e}");
                assert!(e.contains("GPU error"), "{e}");
                assert!(o.stdout.is_empty(), "no report on failure");
            }
        }
    }
}

#[cfg(feature = "failpoints")]
mod stages {
    macro_rules! stage_tests {
        ($($stage:ident),*) => {
            $( #[test] fn $stage() { super::fault_at(stringify!($stage)); } )*
            const TESTED: &[&str] = &[$(stringify!($stage)),*];
        };
    }
    stage_tests!(
        device,
        scenario,
        revalue,
        aggregate,
        tail,
        distribution,
        table,
        readback,
        stress,
        component
    );

    /// Every stage the backend names has a test above.
    #[test]
    fn every_stage_is_tested() {
        assert_eq!(TESTED, tailrisk::engine::gpu::failpoint::STAGES);
    }
}

/// The backtest and whatif commands fall back the same way.
#[cfg(feature = "failpoints")]
#[test]
fn backtest_and_whatif_fall_back() {
    if !have_gpu() {
        return;
    }
    let backtest = |backend: &'static str| {
        let mut args = vec![
            "backtest",
            "--history",
            HISTORY,
            "--market",
            MARKET,
            "--portfolio",
            PORTFOLIO,
            "--window",
            "780",
            "--paths",
            "2000",
            "--format",
            "json",
            "--backend",
        ];
        args.push(backend);
        if backend == "cpu" {
            args.extend(["--precision", "f32"]);
        }
        args
    };
    let reference = figures(&tailrisk(&backtest("cpu"), None));
    let o = tailrisk(&backtest("auto"), Some("revalue:lost"));
    assert!(stderr(&o).contains("GPU FAILURE"), "{}", stderr(&o));
    assert_eq!(figures(&o), reference);
    let o = tailrisk(&backtest("gpu"), Some("tail:oom"));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let whatif = |backend: &str| -> Vec<String> {
        let mut a: Vec<String> = [
            "whatif",
            "--account",
            "hedged-options",
            "--add",
            "BTC-PERPETUAL:1",
        ]
        .map(String::from)
        .to_vec();
        a.extend(["--paths", "2000", "--format", "json", "--backend", backend].map(String::from));
        if backend == "cpu" {
            a.extend(["--precision".into(), "f32".into()]);
        }
        a
    };
    let args = whatif("cpu");
    let reference = figures(&tailrisk(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    ));
    let args = whatif("auto");
    let o = tailrisk(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Some("readback:map"),
    );
    assert!(stderr(&o).contains("GPU FAILURE"), "{}", stderr(&o));
    assert_eq!(figures(&o), reference);
}

/// Without the feature the variable changes nothing: the failpoints are compiled out.
#[cfg(not(feature = "failpoints"))]
#[test]
fn without_the_feature_failpoints_do_nothing() {
    if !have_gpu() {
        return;
    }
    let args = [
        "run",
        "--paths",
        "2000",
        "--format",
        "json",
        "--backend",
        "gpu",
    ];
    let clean = figures(&tailrisk(&args, None));
    let o = tailrisk(&args, Some("revalue:lost"));
    assert!(!stderr(&o).contains("injected"), "{}", stderr(&o));
    assert_eq!(figures(&o), clean);
}
