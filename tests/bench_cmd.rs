//! `tailrisk bench` (issue #5 item 3): the real binary at tiny sizes (table and JSON shapes,
//! exit codes of bad values), and the library's figures: consistent with each other, stage
//! seconds from the CPU backend, runs over the budget skipped with their estimate.

use std::process::{Command, Output};

use tailrisk::bench::{BenchConfig, RunStatus, bench};
use tailrisk::bench_book::generated_book;
use tailrisk::engine::cpu::{CpuBackend, Precision};
use tailrisk::engine::{Backend, SimulationPlan, StageTiming};

fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const TINY: [&str; 5] = ["bench", "--paths", "1000,2000", "--options", "8"];

#[test]
fn table_has_a_row_per_backend_and_path_count() {
    let out = tailrisk(&[&TINY[..], &["--backend", "cpu"]].concat());
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("8 options on 3 assets"), "{text}");
    assert!(
        text.contains("repricings/s") && text.contains("peak RSS"),
        "{text}"
    );
    for backend in ["cpu f64", "cpu f32"] {
        for paths in ["1,000", "2,000"] {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(backend) && l.contains(paths)),
                "no {backend} row at {paths} paths in:\n{text}"
            );
        }
    }
    assert!(
        !text.contains("gpu f32"),
        "--backend cpu measured the GPU:\n{text}"
    );
    assert!(
        stderr(&out).contains("bench cpu f64 1000 paths"),
        "progress on stderr"
    );
}

#[test]
fn json_has_the_documented_fields() {
    let out = tailrisk(&[&TINY[..], &["--backend", "cpu", "--format", "json"]].concat());
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["book"]["instruments"], 8);
    assert_eq!(v["book"]["assets"], 3);
    assert_eq!(v["book"]["accounts"], 1);
    assert_eq!(v["book"]["steps"], 1);
    assert_eq!(v["seed"], 42);
    assert_eq!(v["budget_seconds"], 60.0);
    assert!(v["threads"].as_u64().unwrap() >= 1);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6, "3 precisions × 2 path counts");
    for run in runs {
        assert_eq!(run["backend"], "cpu");
        assert!(["f64", "f64-reference", "f32"].contains(&run["precision"].as_str().unwrap()));
        assert_eq!(run["status"], "measured");
        let seconds = run["seconds"].as_f64().unwrap();
        let paths = run["paths"].as_f64().unwrap();
        assert!(seconds > 0.0);
        let rate = run["repricings_per_second"].as_f64().unwrap();
        assert!((rate - paths * 8.0 / seconds).abs() <= 1e-9 * rate);
        for stage in ["scenario", "revalue", "aggregate", "tail", "transfer"] {
            assert!(run["stage_seconds"][stage].as_f64().unwrap() >= 0.0);
        }
        assert!(run["estimated_seconds"].is_null());
        assert_eq!(run["passes"], 1);
        // Linux has /proc/self/clear_refs; elsewhere the field is null.
        if cfg!(target_os = "linux") {
            assert!(run["peak_rss_bytes"].as_u64().unwrap() > 0);
        }
    }
}

#[test]
fn output_file_receives_the_report() {
    let dir = std::env::temp_dir().join(format!("tailrisk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bench.json");
    let file_arg = file.display().to_string();
    let out = tailrisk(
        &[
            &TINY[..],
            &[
                "--backend",
                "cpu",
                "--format",
                "json",
                "--threads",
                "1",
                "--output",
                &file_arg,
            ],
        ]
        .concat(),
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["threads"], 1);
}

#[test]
fn bad_values_exit_65_and_usage_errors_2() {
    for bad in [
        &["--paths", "0"][..],
        &["--paths", "1000,0"],
        &["--paths", "5000000000"],
        &["--options", "0"],
        &["--assets", "0"],
        &["--accounts", "0"],
        &["--steps", "0"],
        &["--budget-seconds", "0"],
        &["--budget-seconds", "-5"],
        &["--threads", "0"],
    ] {
        let out = tailrisk(&[&["bench", "--backend", "cpu"][..], bad].concat());
        assert_eq!(out.status.code(), Some(65), "{bad:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(bad[0]), "{bad:?}: {}", stderr(&out));
    }
    for usage in [
        &["--paths", "ten"][..],
        &["--backend", "tpu"],
        &["--format", "csv"],
        &["--bogus"],
    ] {
        let out = tailrisk(&[&["bench"][..], usage].concat());
        assert_eq!(out.status.code(), Some(2), "{usage:?}: {}", stderr(&out));
    }
}

#[test]
fn figures_are_consistent() {
    let config = BenchConfig {
        options: 16,
        assets: 2,
        accounts: 40,
        paths: vec![3_000, 1_000],
        ..BenchConfig::default()
    };
    let f64 = CpuBackend::new();
    let f32 = CpuBackend::with_precision(Precision::F32);
    let mut seen = 0;
    let report = bench(&config, &[&f64, &f32], &mut |_| seen += 1).unwrap();
    assert_eq!(seen, 4);
    assert_eq!(report.book.instruments, 16);
    assert_eq!(report.book.accounts, 40);
    let paths: Vec<u64> = report.runs.iter().map(|r| r.paths).collect();
    assert_eq!(
        paths,
        [1_000, 3_000, 1_000, 3_000],
        "increasing per backend"
    );
    for run in &report.runs {
        assert_eq!(run.status, RunStatus::Measured);
        let seconds = run.seconds.unwrap();
        let repricings = run.paths as f64 * 16.0;
        let rate = run.repricings_per_second.unwrap();
        assert!((rate - repricings / seconds).abs() <= 1e-12 * rate);
        let per_path = run.paths_per_second.unwrap();
        assert!((per_path - run.paths as f64 / seconds).abs() <= 1e-12 * per_path);
        // Worker time per stage: each stage ran, and together they fit in threads × wall
        // (plus the clock's granularity).
        let s = run.stage_seconds.unwrap();
        assert!(s.scenario > 0.0 && s.revalue > 0.0 && s.aggregate > 0.0 && s.tail > 0.0);
        assert_eq!(s.transfer, 0.0);
        let sum = s.scenario + s.revalue + s.aggregate + s.tail;
        assert!(
            sum <= report.threads as f64 * seconds * 1.05 + 1e-3,
            "stages {sum} s over {} threads × {seconds} s",
            report.threads
        );
    }
}

#[test]
fn runs_over_the_budget_are_skipped_with_their_estimate() {
    let config = BenchConfig {
        options: 8,
        paths: vec![500, 5_000, 50_000],
        // Any measured run exceeds a nanosecond, so every later one is skipped.
        budget_seconds: 1e-9,
        ..BenchConfig::default()
    };
    let cpu = CpuBackend::with_precision(Precision::F32);
    let report = bench(&config, &[&cpu], &mut |_| {}).unwrap();
    let [first, second, third] = &report.runs[..] else {
        panic!("three runs: {:?}", report.runs);
    };
    assert_eq!(first.status, RunStatus::Measured);
    let measured = first.seconds.unwrap();
    for (run, factor) in [(second, 10.0), (third, 100.0)] {
        assert_eq!(run.status, RunStatus::Skipped);
        assert!(run.seconds.is_none() && run.stage_seconds.is_none());
        let est = run.estimated_seconds.unwrap();
        assert!(
            (est - measured * factor).abs() <= 1e-12 * est,
            "{est} vs {measured}"
        );
    }
    let table = report.to_table();
    assert!(table.contains("skipped (est."), "{table}");
}

#[test]
fn stage_seconds_come_with_each_call_and_change_no_result() {
    let book = generated_book(24, 3, 70, 11);
    let plan = SimulationPlan {
        paths: 3_000,
        first_path: 0,
        seed: 5,
        tail_len: 40,
        chunk_paths: Some(700),
    };
    for precision in [Precision::F64, Precision::F64Reference, Precision::F32] {
        let backend = CpuBackend::with_precision(precision);
        let timed = backend
            .run_tails(&book, &plan, StageTiming::Always, &|_| {})
            .unwrap();
        let first = timed.stage_seconds.unwrap();
        assert!(first.revalue > 0.0 && first.scenario > 0.0);
        // Timing is free on the CPU: measured even when not asked for.
        let untimed = backend
            .run_tails(&book, &plan, StageTiming::IfFree, &|_| {})
            .unwrap();
        assert!(untimed.stage_seconds.is_some(), "{precision:?}");
        // One thread, another chunk size: bit-identical tails (timing reads only clocks).
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| {
            backend
                .tails(
                    &book,
                    &SimulationPlan {
                        chunk_paths: None,
                        ..plan.clone()
                    },
                    &|_| {},
                )
                .unwrap()
        });
        assert_eq!(timed.tails, one, "{precision:?}");
        assert_eq!(untimed.tails, one, "{precision:?}");
    }
}
