//! Shards (SPEC §14): a path range's tails are exactly that part of the whole run's losses
//! on every backend; `merge` of N shard files is the whole run's report bit for bit (several
//! N, uneven splits, N = P, several books, every backend); every bad shard is an input error
//! naming the file; the order of the files changes nothing.

mod common;

use tailrisk::book::SourceFiles;
use tailrisk::config::RunConfig;
use tailrisk::engine::{Backend, SimulationPlan, TailEntry};
use tailrisk::error::Error;
use tailrisk::input;
use tailrisk::report::Report;
use tailrisk::run::{self, RunInputs};
use tailrisk::shard::file::{FORMAT_VERSION, MAGIC, decode, encode};
use tailrisk::shard::merge::read_shard;
use tailrisk::shard::{NamedShard, ShardIndex, merge, run_shard};
use tailrisk::stress::ScenarioSet;

const MARKET: &str = include_str!("../data/market.json");
const PORTFOLIO: &str = include_str!("../data/portfolio.json");
const CONFIG: &str = include_str!("../data/config.json");
const CLEARING_BOOK: &str = include_str!("../data/clearing_book.csv");

/// Run inputs from JSON texts and a configuration.
fn inputs(market: &str, portfolio: &str, config: RunConfig) -> RunInputs {
    RunInputs {
        market: input::parse_market(market, "market.json").expect("market"),
        portfolio: input::parse_portfolio_json(portfolio, "portfolio.json").expect("book"),
        config,
        files: SourceFiles::default(),
        scenarios: ScenarioSet::built_in(),
        historical: None,
    }
}

/// The sample book (four accounts, one BTC-margined; Student-t, jumps, stochastic vol).
fn sample(paths: u64, seed: u64) -> RunInputs {
    let mut config = input::parse_config(CONFIG, "config.json").expect("config");
    config.paths = paths;
    config.seed = seed;
    inputs(MARKET, PORTFOLIO, config)
}

/// Two assets, three accounts: one ETH-margined (coin losses), one with offsetting and
/// repeated positions, one holding nothing but spot.
fn coin_book(paths: u64) -> RunInputs {
    let book = common::portfolio(&[
        (
            "eth-coin",
            "ETH",
            vec![
                ("ETH", 40.0),
                ("ETH-27NOV26-3000-P", 25.0),
                ("ETH-PERPETUAL", -50000.0),
            ],
        ),
        (
            "spread",
            "USD",
            vec![
                ("BTC-25DEC26-100000-C", -5.0),
                ("BTC-25DEC26-100000-C", 2.0),
                ("BTC_USDC-PERPETUAL", 3.0),
                ("ETH-25DEC26-2800-P", -30.0),
            ],
        ),
        ("spot", "USD", vec![("BTC", 1.5)]),
    ]);
    let mut config = common::config(paths, 11, &[0.99, 0.975]);
    config.margin.confidence = 0.975;
    inputs(&common::two_asset_market(), &book, config)
}

/// The first 30 accounts of the clearing book on the sample market.
fn clearing_accounts(paths: u64) -> RunInputs {
    let csv: String = CLEARING_BOOK
        .lines()
        .take_while(|l| !l.starts_with("acct-0031"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut config = input::parse_config(CONFIG, "config.json").expect("config");
    config.paths = paths;
    RunInputs {
        portfolio: input::parse_portfolio_csv(&csv, "clearing_book.csv").expect("csv"),
        ..inputs(MARKET, PORTFOLIO, config)
    }
}

/// The JSON of a report with `run.seconds` zeroed: what must be equal bit for bit.
fn figures(mut report: Report) -> String {
    report.run.seconds = 0.0;
    report.to_json()
}

/// Runs every shard of `n` and reads each back from its encoded bytes, named `shard-i`.
fn shards(inputs: &RunInputs, n: u64, backend: &dyn Backend) -> Vec<NamedShard> {
    (0..n)
        .map(|index| {
            let shard = ShardIndex { index, count: n };
            let run = run_shard(inputs, shard, backend, &|_| {}).expect("shard runs");
            read_shard(&format!("shard-{index}"), &encode(&run.file)).expect("shard reads")
        })
        .collect()
}

fn whole(inputs: &RunInputs, backend: &dyn Backend) -> Report {
    run::run(inputs, backend, &|_| {}).expect("run")
}

fn assert_merge_equals_whole(inputs: &RunInputs, counts: &[u64], backend: &dyn Backend) {
    let expected = figures(whole(inputs, backend));
    for &n in counts {
        let merged = merge(shards(inputs, n, backend)).expect("merge");
        assert_eq!(
            figures(merged),
            expected,
            "{n} shards, {:?}",
            backend.info()
        );
    }
}

/// The tail of paths [lo, hi) is the whole run's losses on those paths, best K of them.
fn range_tails_are_parts_of_the_whole(backend: &dyn Backend) {
    let inputs = sample(3000, 5);
    let book = inputs.compile().unwrap();
    let all = SimulationPlan {
        tail_len: 3000,
        ..run::plan(&inputs.config)
    };
    let every = backend.tails(&book, &all, &|_| {}).unwrap();
    for (lo, hi, k) in [
        (0u64, 1000u64, 40usize),
        (1000, 2999, 75),
        (2999, 3000, 1),
        (17, 530, 600),
    ] {
        let plan = SimulationPlan {
            paths: hi - lo,
            first_path: lo,
            tail_len: k,
            chunk_paths: Some(256),
            ..all.clone()
        };
        let part = backend.tails(&book, &plan, &|_| {}).unwrap();
        for (a, (p, e)) in part.iter().zip(&every).enumerate() {
            let expected: Vec<TailEntry> = e
                .worst
                .iter()
                .filter(|x| (lo..hi).contains(&u64::from(x.path)))
                .take(k)
                .copied()
                .collect();
            assert_eq!(p.worst, expected, "account {a}, paths {lo}..{hi}");
        }
    }
}

fn sample_book_merges_exactly(backend: &dyn Backend) {
    assert_merge_equals_whole(&sample(20_000, 42), &[1, 3, 4, 7], backend);
}

fn coin_book_merges_exactly(backend: &dyn Backend) {
    assert_merge_equals_whole(&coin_book(9_001), &[2, 3, 7], backend);
}

fn clearing_accounts_merge_exactly(backend: &dyn Backend) {
    assert_merge_equals_whole(&clearing_accounts(6_000), &[3], backend);
}

/// N = P: every shard one path, each keeping fewer losses than the whole run's tail.
fn one_path_per_shard(backend: &dyn Backend) {
    assert_merge_equals_whole(&coin_book(13), &[13, 6], backend);
}

on_every_backend!(
    range_tails_are_parts_of_the_whole,
    sample_book_merges_exactly,
    coin_book_merges_exactly,
    clearing_accounts_merge_exactly,
    one_path_per_shard,
);

fn cpu() -> tailrisk::engine::cpu::CpuBackend {
    tailrisk::engine::cpu::CpuBackend::new()
}

/// The field and message of an input error, asserting it is one (exit 65) naming `file`.
fn input_error(err: Error, file: &str) -> String {
    assert_eq!(err.exit_code(), 65, "{err}");
    let text = err.to_string();
    assert!(text.contains(file), "{text} should name {file}");
    text
}

/// A repaired (non-PSD) correlation: `run.correlation_repair` travels through the header.
#[test]
fn a_repaired_correlation_merges_exactly() {
    let market = format!(
        r#"{{"as_of":"{}","assets":{{"BTC":{{"spot":91250,"vol":0.55}},
        "ETH":{{"spot":3050,"vol":0.7}},"SOL":{{"spot":140,"vol":0.9}}}},
        "correlation":{{"symbols":["BTC","ETH","SOL"],
        "matrix":[[1,0.9,-0.9],[0.9,1,0.9],[-0.9,0.9,1]]}}}}"#,
        common::AS_OF
    );
    let book = common::portfolio(&[(
        "a",
        "USD",
        vec![("BTC", 1.0), ("ETH", -20.0), ("SOL-25DEC26-150-C", 300.0)],
    )]);
    let mut config = common::config(4_000, 8, &[0.99]);
    config.repair_correlation = true;
    let inputs = inputs(&market, &book, config);
    let report = whole(&inputs, &cpu());
    assert!(report.run.correlation_repair.is_some());
    assert_merge_equals_whole(&inputs, &[3], &cpu());
}

#[test]
fn order_of_the_files_changes_nothing() {
    let inputs = sample(5_000, 3);
    let files = shards(&inputs, 4, &cpu());
    let in_order = merge(files.clone()).unwrap();
    for order in [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
        let shuffled = order.iter().map(|&i| files[i].clone()).collect();
        // Seconds too: they are summed in index order.
        assert_eq!(merge(shuffled).unwrap().to_json(), in_order.to_json());
    }
    let sum: f64 = files.iter().map(|f| f.shard.header.seconds).sum();
    assert_eq!(in_order.run.seconds, sum);
    // H4: the distinct devices in shard order, joined by " + ".
    let mut two_devices = files.clone();
    two_devices[2].shard.header.device = "other device".into();
    two_devices[3].shard.header.device = "other device".into();
    two_devices.swap(0, 3);
    let device = &in_order.run.device;
    assert_eq!(
        merge(two_devices).unwrap().run.device,
        format!("{device} + other device")
    );
}

#[test]
fn missing_and_duplicate_shards_are_named() {
    let files = shards(&sample(2_000, 1), 3, &cpu());
    let err = merge(vec![files[0].clone(), files[2].clone()]).unwrap_err();
    assert!(input_error(err, "command line").contains("shard 1/3"));
    let twice = vec![
        files[0].clone(),
        files[1].clone(),
        files[1].clone(),
        files[2].clone(),
    ];
    let mut renamed = twice.clone();
    renamed[2].file = "again".into();
    let text = input_error(merge(renamed).unwrap_err(), "again");
    assert!(text.contains("shard-1") && text.contains("1/3"), "{text}");
    let err = merge(Vec::new()).unwrap_err();
    assert_eq!(err.exit_code(), 65);
}

#[test]
fn foreign_shards_are_named_with_what_differs() {
    let base = sample(2_000, 1);
    let files = shards(&base, 2, &cpu());
    let foreign = |inputs: RunInputs, backend: &dyn Backend, field: &str| {
        let mut other = shards(&inputs, 2, backend);
        other[1].file = "foreign".into();
        let text = input_error(
            merge(vec![files[0].clone(), other.remove(1)]).unwrap_err(),
            "foreign",
        );
        assert!(text.contains(field) && text.contains("shard-0"), "{text}");
    };
    foreign(sample(2_000, 2), &cpu(), "seed");
    foreign(sample(2_002, 1), &cpu(), "paths");
    let mut book = sample(2_000, 1);
    book.portfolio.accounts[0].positions[0].quantity *= 2.0;
    foreign(book, &cpu(), "inputs_sha256");
    let mut horizon = sample(2_000, 1);
    horizon.config.horizon_days = 2.0;
    foreign(horizon, &cpu(), "inputs_sha256");
    foreign(sample(2_000, 1), &common::cpu_f32(), "precision");
    if let Some(gpu) = common::test_backend() {
        foreign(sample(2_000, 1), &gpu, "backend");
    }
    let three = shards(&base, 3, &cpu());
    let text = input_error(
        merge(vec![files[0].clone(), three[1].clone()]).unwrap_err(),
        "shard-1",
    );
    assert!(text.contains("shards"), "{text}");
}

/// The same run set up two ways, a value by flag or by file, and `student_t_dof: null`
/// written or left out without a history: the same canonical inputs, so the shards merge.
#[test]
fn where_a_value_was_written_does_not_split_a_run() {
    let base = sample(2_000, 1);
    let mut by_flag = sample(2_000, 1);
    by_flag.config.sized_by_flags = true;
    by_flag.config.student_t_dof_given = !base.config.student_t_dof_given;
    let (a, mut b) = (shards(&base, 2, &cpu()), shards(&by_flag, 2, &cpu()));
    let merged = merge(vec![a[0].clone(), b.remove(1)]).expect("one run");
    assert_eq!(figures(merged), figures(whole(&base, &cpu())));
}

#[test]
fn damaged_truncated_and_other_versions_are_named() {
    let run = run_shard(
        &sample(2_000, 1),
        ShardIndex { index: 0, count: 2 },
        &cpu(),
        &|_| {},
    )
    .unwrap();
    let bytes = encode(&run.file);
    assert_eq!(decode(&bytes).unwrap(), run.file, "lossless round trip");
    for at in [0, 20, bytes.len() / 2, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        let text = input_error(read_shard("bad.trs", &damaged).unwrap_err(), "bad.trs");
        assert!(text.contains("damaged"), "{text}");
    }
    for len in [0, 10, bytes.len() - 33, bytes.len() - 1] {
        input_error(
            read_shard("short.trs", &bytes[..len]).unwrap_err(),
            "short.trs",
        );
    }
    // Another version, with a valid checksum: refused for its version.
    let mut v2 = bytes[..bytes.len() - 32].to_vec();
    v2[MAGIC.len()..MAGIC.len() + 4].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    use sha2::Digest;
    let sum = sha2::Sha256::digest(&v2);
    v2.extend_from_slice(&sum);
    let text = input_error(read_shard("v2.trs", &v2).unwrap_err(), "v2.trs");
    let other = format!("format version {}", FORMAT_VERSION + 1);
    assert!(text.contains(&other), "{text}");
    // A consistent checksum over a header that contradicts the bulk: structure.
    let mut lying = run.file.clone();
    lying.header.end_path += 1;
    let text = input_error(
        read_shard("lying.trs", &encode(&lying)).unwrap_err(),
        "lying.trs",
    );
    assert!(text.contains("paths"), "{text}");
    // A resealed file whose compute seconds are negative would make run.seconds negative.
    let mut negative = run.file.clone();
    negative.header.seconds = -1.0;
    let text = input_error(
        read_shard("negative.trs", &encode(&negative)).unwrap_err(),
        "negative.trs",
    );
    assert!(text.contains("compute seconds -1"), "{text}");
    let mut short_tail = run.file.clone();
    short_tail.tails[0].pop();
    input_error(
        read_shard("tail.trs", &encode(&short_tail)).unwrap_err(),
        "tail.trs",
    );
}

/// Size O(accounts × tail): K' = min(n_I, max(K, inset)) losses per account (≤ 13 bytes
/// each), a path table of at most Σ min(K', k) rows and a histogram of at most the
/// project's bins per account (≤ 15 bytes each), whatever the shard's path count.
#[test]
fn shard_files_hold_the_tails_not_the_paths() {
    for (paths, n) in [(20_000u64, 2u64), (200_000, 2), (200_000, 50)] {
        let inputs = sample(paths, 1);
        let shard = ShardIndex { index: 0, count: n };
        let run = run_shard(&inputs, shard, &cpu(), &|_| {}).unwrap();
        let bytes = encode(&run.file).len();
        let f = &run.file;
        let k = tailrisk::risk::tail_rank(paths, inputs.config.margin.confidence);
        let n_shard = (f.header.end_path - f.header.first_path) as usize;
        let run = &f.header.run;
        let tail_len = run.tail_len.max(run.inset_len).min(n_shard);
        assert!(f.tails.iter().all(|t| t.len() == tail_len));
        let rows = f.paths.paths.len();
        assert!(rows <= f.tails.len() * tail_len.min(k), "{rows} rows");
        let header = serde_json::to_vec(&f.header).unwrap().len();
        // A path index takes at most 5 varint bytes, a value at most 8.
        let row = 5 + 8 * (f.paths.assets + f.paths.instruments);
        let tails = f.tails.len() * (9 + 13 * tail_len);
        let bins: usize = f.histograms.iter().map(|h| 8 + 15 * h.sparse().len()).sum();
        assert!(f.histograms.iter().all(|h| h.total() == n_shard as u64));
        let bound = 16 + 4 + 8 + header + 12 + tails + 12 + 17 + rows * row + 12 + bins + 32;
        assert!(
            bytes <= bound,
            "{bytes} bytes > {bound} for {paths} paths / {n}"
        );
    }
}

/// The binary: `run --shard` writes files and nothing to stdout; `merge` of them prints the
/// report `run` prints (up to `run.seconds`).
mod cli {
    use std::process::{Command, Output};

    fn tailrisk(args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tailrisk"))
            .args(args)
            .output()
            .expect("tailrisk runs")
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tailrisk-shard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn without_seconds(json: &[u8]) -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_slice(json).expect("JSON");
        v["run"].as_object_mut().unwrap().remove("seconds");
        v
    }

    #[test]
    fn shards_then_merge_print_the_run() {
        let dir = scratch("cli");
        let common = ["--backend", "cpu", "--paths", "6000"];
        let single = tailrisk(&[&["run", "--format", "json"][..], &common].concat());
        assert!(single.status.success());
        let mut files = Vec::new();
        for i in 0..3 {
            let file = dir.join(format!("s{i}.trs")).display().to_string();
            let spec = format!("{i}/3");
            let out = tailrisk(
                &[
                    &["run", "--shard", &spec, "--shard-file", &file][..],
                    &common,
                ]
                .concat(),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.is_empty(), "stdout stays empty with --shard");
            files.push(file);
        }
        files.reverse();
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let merged = tailrisk(&[&["merge", "--format", "json"][..], &files].concat());
        assert!(
            merged.status.success(),
            "{}",
            String::from_utf8_lossy(&merged.stderr)
        );
        assert_eq!(
            without_seconds(&merged.stdout),
            without_seconds(&single.stdout)
        );
        let table = tailrisk(&[&["merge"][..], &files].concat());
        assert!(table.status.success() && !table.stdout.is_empty());
        let missing = tailrisk(&["merge", files[0], files[1]]);
        assert_eq!(missing.status.code(), Some(65));
        let absent = dir.join("absent.trs").display().to_string();
        assert_eq!(tailrisk(&["merge", &absent]).status.code(), Some(66));
    }

    /// A Monte Carlo run calibrated to a history: `run.calibration` travels through the
    /// header and reads back exactly.
    #[test]
    fn a_calibrated_run_merges_to_the_run() {
        let dir = scratch("history");
        let common = [
            "--history",
            "data/history/bitstamp_daily_close.csv",
            "--market",
            "data/history/market_2020-01-17.json",
            "--portfolio",
            "data/history/portfolio_2020-01-17.json",
            "--backend",
            "cpu",
            "--paths",
            "3000",
        ];
        let here = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_tailrisk"))
                .args(args)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .unwrap()
        };
        let single = here(&[&["run", "--format", "json"][..], &common].concat());
        assert!(
            single.status.success(),
            "{}",
            String::from_utf8_lossy(&single.stderr)
        );
        let files: Vec<String> = (0..2)
            .map(|i| dir.join(format!("h{i}.trs")).display().to_string())
            .collect();
        for (i, file) in files.iter().enumerate() {
            let spec = format!("{i}/2");
            let args = [
                &["run", "--shard", &spec, "--shard-file", file][..],
                &common,
            ]
            .concat();
            assert!(here(&args).status.success());
        }
        let merged = here(&["merge", "--format", "json", &files[1], &files[0]]);
        assert!(
            merged.status.success(),
            "{}",
            String::from_utf8_lossy(&merged.stderr)
        );
        let (m, s) = (
            without_seconds(&merged.stdout),
            without_seconds(&single.stdout),
        );
        assert!(s["run"]["calibration"].is_object());
        assert_eq!(m, s);
        // Byte for byte, once the seconds agree.
        let text = |out: &[u8], seconds: &str| {
            let v: serde_json::Value = serde_json::from_slice(out).unwrap();
            String::from_utf8(out.to_vec())
                .unwrap()
                .replace(&v["run"]["seconds"].to_string(), seconds)
        };
        assert_eq!(text(&merged.stdout, "0"), text(&single.stdout, "0"));
    }

    #[test]
    fn shard_flags_follow_h6_and_h7() {
        let dir = scratch("flags");
        let f = dir.join("s.trs").display().to_string();
        let code = |args: &[&str]| tailrisk(args).status.code();
        let run = |extra: &[&str]| {
            code(&[&["run", "--backend", "cpu", "--paths", "8"][..], extra].concat())
        };
        // Usage (2): not I/N, a flag without its partner, --output, a command without --shard.
        assert_eq!(run(&["--shard", "x", "--shard-file", &f]), Some(2));
        assert_eq!(run(&["--shard", "1/2/3", "--shard-file", &f]), Some(2));
        assert_eq!(run(&["--shard", "0/2"]), Some(2));
        assert_eq!(run(&["--shard-file", &f]), Some(2));
        assert_eq!(
            run(&["--shard", "0/2", "--shard-file", &f, "--output", &f]),
            Some(2)
        );
        assert_eq!(
            code(&["stress", "--shard", "0/2", "--shard-file", &f]),
            Some(2)
        );
        assert_eq!(
            code(&["whatif", "--shard", "0/2", "--shard-file", &f]),
            Some(2)
        );
        // Values (65): I ≥ N, I < 0, N > P.
        assert_eq!(run(&["--shard", "2/2", "--shard-file", &f]), Some(65));
        assert_eq!(run(&["--shard", "-1/2", "--shard-file", &f]), Some(65));
        assert_eq!(run(&["--shard", "0/9", "--shard-file", &f]), Some(65));
        assert!(
            !std::path::Path::new(&f).exists(),
            "no file after a refused shard"
        );
        assert_eq!(run(&["--shard", "7/8", "--shard-file", &f]), Some(0));
        // Monte Carlo only.
        let hs = [
            "run",
            "--history",
            "data/history/bitstamp_daily_close.csv",
            "--market",
            "data/history/market_2020-01-17.json",
            "--portfolio",
            "data/history/portfolio_2020-01-17.json",
            "--method",
            "hs",
            "--shard",
            "0/2",
            "--shard-file",
            &f,
        ];
        let out = Command::new(env!("CARGO_BIN_EXE_tailrisk"))
            .args(hs)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(65),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
