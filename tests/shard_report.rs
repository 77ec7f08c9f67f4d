//! `merge --report` (SPEC §12 R7, §14): the page of N merged shards is the page the same
//! `run --report` writes, byte for byte up to `run.seconds`, on every backend and for
//! several N; the merged loss histograms and inset losses are the single run's exactly; a
//! shard whose histogram does not count its paths, or of format version 1, is refused
//! naming the file; the report flags of merge follow run's.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::html::embedded_json;
use tailrisk::book::SourceFiles;
use tailrisk::engine::Backend;
use tailrisk::error::Error;
use tailrisk::input;
use tailrisk::run::{self, RunInputs};
use tailrisk::shard::file::{MAGIC, encode};
use tailrisk::shard::merge::read_shard;
use tailrisk::shard::{ShardIndex, merge_with_extras, run_shard};
use tailrisk::stress::ScenarioSet;

const MARKET: &str = include_str!("../data/market.json");
const PORTFOLIO: &str = include_str!("../data/portfolio.json");
const CONFIG: &str = include_str!("../data/config.json");

/// The sample book at `paths` paths, seed 7.
fn sample(paths: u64) -> RunInputs {
    let mut config = input::parse_config(CONFIG, "config.json").expect("config");
    config.paths = paths;
    config.seed = 7;
    RunInputs {
        market: input::parse_market(MARKET, "market.json").expect("market"),
        portfolio: input::parse_portfolio_json(PORTFOLIO, "portfolio.json").expect("book"),
        config,
        files: SourceFiles::default(),
        scenarios: ScenarioSet::built_in(),
        historical: None,
    }
}

/// The merged distributions (histogram and inset losses) equal `run --report`'s, account by
/// account: N = 1, 3, 4 at 20 000 paths (the inset, 2k = 400, is longer than the tail
/// k + d ≈ 229, so the shards' raised tails are what it is made of), and 13 one-path shards
/// of 13 paths (each shard keeps fewer losses than the inset).
fn merged_distributions_are_the_runs(backend: &dyn Backend) {
    for (paths, counts) in [(20_000u64, &[1u64, 3, 4][..]), (13, &[13][..])] {
        let inputs = sample(paths);
        let (_, expected) =
            run::evaluate_with_distributions(&inputs, backend, &|_| {}).expect("run");
        for &n in counts {
            let shards = (0..n)
                .map(|index| {
                    let run = run_shard(&inputs, ShardIndex { index, count: n }, backend, &|_| {})
                        .expect("shard runs");
                    read_shard(&format!("shard-{index}"), &encode(&run.file)).expect("reads")
                })
                .collect();
            let merged = merge_with_extras(shards).expect("merge");
            assert_eq!(merged.extras.len(), expected.len());
            for (a, (extras, want)) in merged.extras.iter().zip(&expected).enumerate() {
                let got = extras.distribution.as_ref().expect("a distribution");
                assert_eq!(got.histogram, want.histogram, "account {a}, {n} shards");
                assert_eq!(got.histogram.total(), paths);
                assert_eq!(
                    got.worst_losses, want.worst_losses,
                    "account {a}, {n} shards"
                );
            }
        }
    }
}

on_every_backend!(merged_distributions_are_the_runs);

fn cpu() -> tailrisk::engine::cpu::CpuBackend {
    tailrisk::engine::cpu::CpuBackend::new()
}

/// An input error (exit 65) naming `file`; its text.
fn input_error(err: Error, file: &str) -> String {
    assert_eq!(err.exit_code(), 65, "{err}");
    let text = err.to_string();
    assert!(text.contains(file), "{text} should name {file}");
    text
}

/// A histogram that does not count the shard's paths (one loss more, or one less) is
/// refused naming the file, though its checksum is right; so is a version-1 file.
#[test]
fn tampered_histograms_and_version_1_are_refused() {
    let run = run_shard(
        &sample(2_000),
        ShardIndex { index: 1, count: 2 },
        &cpu(),
        &|_| {},
    )
    .unwrap();
    let bin = |f: &tailrisk::shard::file::ShardFile| {
        f.histograms[2].counts.iter().position(|&c| c > 1).unwrap()
    };
    for delta in [1i64, -1] {
        let mut tampered = run.file.clone();
        let b = bin(&tampered);
        let count = &mut tampered.histograms[2].counts[b];
        *count = count.checked_add_signed(delta).unwrap();
        let text = input_error(
            read_shard("tampered.trs", &encode(&tampered)).unwrap_err(),
            "tampered.trs",
        );
        assert!(text.contains("histogram of account 2"), "{text}");
    }
    // Version 1 (no histograms, no inset), with a valid checksum: refused for its version.
    let bytes = encode(&run.file);
    let mut v1 = bytes[..bytes.len() - 32].to_vec();
    v1[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&1u32.to_le_bytes());
    use sha2::Digest;
    let sum = sha2::Sha256::digest(&v1);
    v1.extend_from_slice(&sum);
    let text = input_error(read_shard("v1.trs", &v1).unwrap_err(), "v1.trs");
    assert!(text.contains("format version 1"), "{text}");
}

fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .output()
        .expect("tailrisk runs")
}

fn succeeded(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tailrisk-shard-report-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The page with `run.seconds` blanked where it shows (the embedded JSON and the summary),
/// as tests/report_html.rs compares R10 reruns.
fn without_seconds(html: &str) -> String {
    let json = embedded_json(html);
    let seconds = json["run"]["seconds"].to_string();
    let shown = tailrisk::report::html::numbers::number(json["run"]["seconds"].as_f64().unwrap());
    let blanked = html
        .replacen(&format!("\"seconds\": {seconds}"), "\"seconds\": S", 1)
        .replacen(&format!("data-json=\"/run/seconds\">{shown}<"), "S<", 1);
    assert!(blanked.contains("\"seconds\": S") && blanked.contains("S<"));
    blanked
}

/// Writes shards 0..n of `run_args` into `dir`; their file names.
fn shard_files(dir: &Path, run_args: &[&str], n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let file = path(&dir.join(format!("s{i}-of-{n}.trs")));
            let spec = format!("{i}/{n}");
            let shard = [
                &["run", "--shard", &spec, "--shard-file", &file][..],
                run_args,
            ];
            succeeded(tailrisk(&shard.concat()));
            file
        })
        .collect()
}

/// `merge --report` of N = 1, 3, 4 shards (files given in reverse) writes `run --report`'s
/// page, and merge's stdout is run's, up to `run.seconds`; with the detail flags too.
fn merge_page_is_the_run_page(backend: &[&str], name: &str) {
    let dir = scratch(name);
    let run_args = [&["--paths", "4000", "--seed", "3"][..], backend].concat();
    let detail = ["--report-accounts", "1", "--report-account", "vol-seller"];
    let single = dir.join("run.html");
    let single_detail = dir.join("run-detail.html");
    let run_page = |file: &Path, extra: &[&str]| {
        let args = [&["run", "--format", "json"][..], &run_args, extra].concat();
        let out = succeeded(tailrisk(&[&args[..], &["--report", &path(file)]].concat()));
        (out.stdout, std::fs::read_to_string(file).unwrap())
    };
    let (run_json, expected) = run_page(&single, &[]);
    let (_, expected_detail) = run_page(&single_detail, &detail);
    assert_ne!(
        without_seconds(&expected),
        without_seconds(&expected_detail)
    );
    for n in [1u64, 3, 4] {
        let mut files = shard_files(&dir, &run_args, n);
        files.reverse();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let page = dir.join(format!("merged-{n}.html"));
        let page_arg = path(&page);
        let merge = [
            &["merge", "--format", "json", "--report", &page_arg][..],
            &files,
        ];
        let out = succeeded(tailrisk(&merge.concat()));
        let html = std::fs::read_to_string(&page).unwrap();
        assert_eq!(
            without_seconds(&html),
            without_seconds(&expected),
            "{name}: {n} shards"
        );
        let json = |bytes: &[u8]| {
            let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            v["run"].as_object_mut().unwrap().remove("seconds");
            v
        };
        assert_eq!(json(&out.stdout), json(&run_json), "{name}: {n} shards");
        if n == 3 {
            let page = dir.join("merged-detail.html");
            let page_arg = path(&page);
            let merge = [&["merge", "--report", &page_arg][..], &detail, &files];
            succeeded(tailrisk(&merge.concat()));
            let html = std::fs::read_to_string(&page).unwrap();
            assert_eq!(without_seconds(&html), without_seconds(&expected_detail));
        }
    }
}

#[test]
fn merge_page_is_the_run_page_cpu_f64() {
    merge_page_is_the_run_page(&["--backend", "cpu"], "f64");
}

#[test]
fn merge_page_is_the_run_page_cpu_f32() {
    merge_page_is_the_run_page(&["--backend", "cpu", "--precision", "f32"], "f32");
}

#[test]
fn merge_page_is_the_run_page_gpu() {
    if common::test_backend().is_some() {
        merge_page_is_the_run_page(&["--backend", "gpu"], "gpu");
    }
}

/// An unknown `--report-account` is 65 naming it, before anything is written; an
/// unwritable page is 73 naming it; `--report` with `--shard` stays a usage error (H7).
#[test]
fn merge_report_flags_fail_as_on_run() {
    let dir = scratch("flags");
    let run_args = ["--backend", "cpu", "--paths", "600"];
    let files = shard_files(&dir, &run_args, 2);
    let page = path(&dir.join("page.html"));
    let out = tailrisk(&[
        "merge",
        &files[0],
        &files[1],
        "--report",
        &page,
        "--report-account",
        "no-such-account",
    ]);
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-account"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed before the error");
    assert!(!Path::new(&page).exists(), "no page after a refused merge");
    let unwritable = path(&dir.join("absent-dir").join("page.html"));
    let out = tailrisk(&["merge", &files[0], &files[1], "--report", &unwritable]);
    assert_eq!(out.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&unwritable));
    let shard = path(&dir.join("s.trs"));
    let with_report = [
        &[
            "run",
            "--shard",
            "0/2",
            "--shard-file",
            &shard,
            "--report",
            &page,
        ][..],
        &run_args,
    ];
    assert_eq!(tailrisk(&with_report.concat()).status.code(), Some(2));
    let detail = [
        &["run", "--shard", "0/2", "--shard-file", &shard][..],
        &["--report-account", "vol-seller"],
        &run_args,
    ];
    assert_eq!(tailrisk(&detail.concat()).status.code(), Some(2));
}
