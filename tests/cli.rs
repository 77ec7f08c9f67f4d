//! The real binary, end to end on data/ (issue #2 items 8, 11): the sample run, JSON output
//! of SPEC §8, the clearing book, and the exit codes of bad invocations.

use std::path::PathBuf;
use std::process::{Command, Output};

fn tailrisk(args: &[&str]) -> Output {
    tailrisk_with(args, &[])
}

fn tailrisk_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn data(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(file)
        .display()
        .to_string()
}

fn scratch(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tailrisk-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_without_arguments_prints_the_sample_book() {
    let out = tailrisk(&["run", "--backend", "cpu", "--paths", "20000"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("cpu backend"),
        "backend announced on stderr"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for account in [
        "hedged-options",
        "pair-trade",
        "coin-margined",
        "vol-seller",
    ] {
        assert!(text.contains(account), "{account} missing from:\n{text}");
    }
    assert!(text.contains("VaR") && text.contains("ES"));
}

#[test]
fn json_output_follows_the_spec() {
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "20000",
        "--seed",
        "5",
        "--format",
        "json",
        "--confidence",
        "0.99,0.995",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    let run = &v["run"];
    assert_eq!(run["paths"], 20000);
    assert_eq!(run["seed"], 5);
    assert_eq!(run["steps"], 1);
    assert_eq!(run["backend"], "cpu");
    assert_eq!(run["precision"], "f64");
    assert_eq!(run["version"], env!("CARGO_PKG_VERSION"));
    assert!(run["seconds"].as_f64().unwrap() >= 0.0);
    assert!(run["device"].is_string());
    let accounts = v["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 4);
    let coin = accounts
        .iter()
        .find(|a| a["id"] == "coin-margined")
        .unwrap();
    assert_eq!(coin["currency"], "BTC");
    for a in accounts {
        let measures = a["measures"].as_array().unwrap();
        assert_eq!(measures.len(), 2);
        for m in measures {
            let (var, es) = (m["var"].as_f64().unwrap(), m["es"].as_f64().unwrap());
            assert!(es >= var);
            let ci = m["var_ci"].as_array().unwrap();
            assert!(ci[0].as_f64().unwrap() <= var && var <= ci[1].as_f64().unwrap());
        }
        let components = a["components"].as_array().unwrap();
        assert!(!components.is_empty());
        assert!(
            components
                .iter()
                .all(|c| c["instrument"].is_string() && c["es"].is_number())
        );
    }
}

#[test]
fn same_seed_same_output() {
    let args = [
        "run",
        "--backend",
        "cpu",
        "--paths",
        "20000",
        "--format",
        "json",
    ];
    let strip = |o: Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["run"]["seconds"] = serde_json::Value::Null;
        v["run"]["device"] = serde_json::Value::Null; // names the thread count
        v
    };
    let one = strip(tailrisk(&args));
    let two = strip(tailrisk(&[&args[..], &["--threads", "1"]].concat()));
    assert_eq!(one, two, "bit-identical figures whatever the thread count");
}

#[test]
fn clearing_book_csv_runs() {
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "5000",
        "--market",
        &data("market.json"),
        "--portfolio",
        &data("clearing_book.csv"),
        "--config",
        &data("config.json"),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accounts"].as_array().unwrap().len(), 1000);
}

#[test]
fn output_flag_writes_the_file() {
    let path = std::env::temp_dir().join(format!("tailrisk-out-{}.json", std::process::id()));
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "2000",
        "--format",
        "json",
        "--output",
        &path.display().to_string(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "data goes to the file, not stdout");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["run"]["paths"], 2000);
}

/// The files of a directory, sorted.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A fresh empty scratch directory.
fn empty_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailrisk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn short_output_flag_replaces_the_file_whole() {
    let dir = empty_dir("short-o");
    let path = dir.join("report.json");
    std::fs::write(&path, "x".repeat(100_000)).unwrap();
    let args = [
        "run",
        "--backend",
        "cpu",
        "--paths",
        "2000",
        "--format",
        "json",
        "-o",
    ];
    let out = tailrisk(&[&args[..], &[path.to_str().unwrap()]].concat());
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "data goes to the file, not stdout");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["run"]["paths"], 2000);
    assert_eq!(entries(&dir), ["report.json"], "no temporary file is left");
}

#[test]
fn a_failing_run_leaves_no_output_and_no_temporary_file() {
    let dir = empty_dir("failed-o");
    let run = |output: &std::path::Path, extra: &[&str]| {
        let args = ["run", "--backend", "cpu", "--paths", "2000", "-o"];
        tailrisk(&[&args[..], &[output.to_str().unwrap()], extra].concat())
    };
    // Bad input: no file is created, and an existing one is left as it was.
    let fresh = dir.join("fresh.txt");
    let bad = run(&fresh, &["--confidence", "1.5"]);
    assert_eq!(bad.status.code(), Some(65), "{}", stderr(&bad));
    let kept = dir.join("kept.txt");
    std::fs::write(&kept, "the previous report").unwrap();
    let missing = run(&kept, &["--market", "/no/such/market.json"]);
    assert_eq!(missing.status.code(), Some(66), "{}", stderr(&missing));
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        "the previous report"
    );
    // A write that fails at the end (a directory cannot be replaced by the report): exit 73
    // naming it, and the temporary file written next to it is removed.
    let taken = dir.join("taken");
    std::fs::create_dir_all(taken.join("inside")).unwrap();
    let failed = run(&taken, &[]);
    assert_eq!(failed.status.code(), Some(73), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("cannot write"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(entries(&dir), ["kept.txt", "taken"]);
    assert_eq!(entries(&taken), ["inside"]);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(tailrisk(&["run", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(tailrisk(&["run", "--paths", "many"]).status.code(), Some(2));
    assert_eq!(
        tailrisk(&["run", "--backend", "tpu"]).status.code(),
        Some(2)
    );
    assert_eq!(tailrisk(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn invalid_flag_values_exit_65_naming_the_flag() {
    for (flag, value) in [
        ("--paths", "0"),
        ("--steps", "0"),
        ("--confidence", "1.5"),
        ("--horizon-days", "0"),
    ] {
        let out = tailrisk(&["run", "--backend", "cpu", flag, value]);
        assert_eq!(
            out.status.code(),
            Some(65),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
}

#[test]
fn missing_file_exits_66() {
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--market",
        "/no/such/market.json",
    ]);
    assert_eq!(out.status.code(), Some(66));
    assert!(stderr(&out).contains("/no/such/market.json"));
}

#[test]
fn bad_data_exits_65_naming_file_field_and_value() {
    let market = std::fs::read_to_string(data("market.json")).unwrap();
    let bad_spot = scratch("bad_spot.json", &market.replacen("91250", "-91250", 1));
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--market",
        &bad_spot,
        "--portfolio",
        &data("portfolio.json"),
    ]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("bad_spot.json") && err.contains("spot") && err.contains("-91250"),
        "{err}"
    );

    // Found when the book is compiled: each names the portfolio file, the position's field
    // and the instrument as written.
    for (file, contents, field, value, why) in [
        (
            "unknown_asset.json",
            r#"{"accounts":[{"id":"x","positions":[{"instrument":"DOGE-PERPETUAL","quantity":1}]}]}"#,
            "accounts[0].positions[0].instrument",
            "DOGE-PERPETUAL",
            "unknown asset",
        ),
        (
            "expired.csv",
            "account,instrument,quantity\nx,BTC-13NOV26-90000-C,1\n",
            "line 2, instrument",
            "BTC-13NOV26-90000-C",
            "expired",
        ),
        // An account without positions still names its file (it named "portfolio").
        (
            "empty_account.json",
            r#"{"accounts":[{"id":"a1","positions":[],"margin_currency":"XRP"}]}"#,
            "accounts[0].margin_currency",
            "XRP",
            "must be USD or a simulated asset",
        ),
    ] {
        let book = scratch(file, contents);
        let out = tailrisk(&[
            "run",
            "--backend",
            "cpu",
            "--market",
            &data("market.json"),
            "--portfolio",
            &book,
        ]);
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        let err = stderr(&out);
        for part in [file, field, value, why] {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
    }

    // A non-PSD correlation matrix is refused, and repaired on request (and reported).
    let non_psd = scratch(
        "non_psd.json",
        &market
            .replace("[1.0, 0.82, 0.74]", "[1.0, 0.9, -0.9]")
            .replace("[0.82, 1.0, 0.78]", "[0.9, 1.0, 0.9]")
            .replace("[0.74, 0.78, 1.0]", "[-0.9, 0.9, 1.0]"),
    );
    let args = [
        "run",
        "--backend",
        "cpu",
        "--paths",
        "2000",
        "--market",
        &non_psd,
        "--portfolio",
        &data("portfolio.json"),
        "--format",
        "json",
    ];
    let out = tailrisk(&args);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("correlation.matrix"),
        "{}",
        stderr(&out)
    );
    let out = tailrisk(&[&args[..], &["--repair-correlation"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["run"]["correlation_repair"]["frobenius_distance"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn verify_compares_gpu_and_cpu_or_exits_69() {
    let out = tailrisk(&["verify", "--paths", "5000", "--format", "json"]);
    if out.status.code() == Some(69) {
        // No adapter: allowed only when CI does not require one.
        assert!(
            std::env::var("TAILRISK_REQUIRE_GPU").as_deref() != Ok("1"),
            "TAILRISK_REQUIRE_GPU=1 but verify found no adapter: {}",
            stderr(&out)
        );
        eprintln!("SKIPPED: no GPU adapter for verify");
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["seed"], 42);
    let stages: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["stage"].as_str().unwrap())
        .collect();
    for stage in ["draws", "scenario", "revalue", "aggregate", "tail"] {
        assert!(stages.contains(&stage), "{stage} missing: {stages:?}");
    }
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["pass"] == true)
    );
}

#[test]
fn whatif_answers_in_the_spec_shape() {
    let out = tailrisk(&[
        "whatif",
        "--backend",
        "cpu",
        "--paths",
        "5000",
        "--format",
        "json",
        "--account",
        "hedged-options",
        "--add",
        "BTC-25DEC26-100000-C:-5",
        "--add",
        "BTC-PERPETUAL:100000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["account"], "hedged-options");
    assert_eq!(v["currency"], "USD");
    for part in ["before", "after", "increment"] {
        assert!(
            v[part]["es"].is_number() && v[part]["initial"].is_number(),
            "{part}"
        );
    }
    let inc = v["increment"]["es"].as_f64().unwrap();
    let diff = v["after"]["es"].as_f64().unwrap() - v["before"]["es"].as_f64().unwrap();
    // serde_json's default float parsing may be one ulp off the printed shortest form.
    assert!(
        (inc - diff).abs() <= 1e-12 * diff.abs().max(1.0),
        "{inc} vs {diff}"
    );
    assert_eq!(v["run"]["seed"], 42);
    assert_eq!(v["run"]["version"], env!("CARGO_PKG_VERSION"));

    // Errors: an unknown account and a malformed position exit 65 naming the flag.
    let out = tailrisk(&[
        "whatif",
        "--backend",
        "cpu",
        "--account",
        "nobody",
        "--add",
        "BTC:1",
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("--account"));
    let out = tailrisk(&[
        "whatif",
        "--backend",
        "cpu",
        "--account",
        "pair-trade",
        "--add",
        "BTC",
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(stderr(&out).contains("--add"));
    // --add is required.
    let out = tailrisk(&["whatif", "--account", "pair-trade"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `WGPU_BACKEND=dx12` on Linux leaves wgpu without any adapter: the no-GPU machine.
const NO_ADAPTER: &[(&str, &str)] = &[("WGPU_BACKEND", "dx12")];

#[test]
fn backend_selection_without_an_adapter() {
    if cfg!(target_os = "windows") {
        return; // DX12 exists there.
    }
    let gpu = tailrisk_with(&["run", "--backend", "gpu", "--paths", "1000"], NO_ADAPTER);
    assert_eq!(gpu.status.code(), Some(69), "{}", stderr(&gpu));
    assert!(stderr(&gpu).contains("no GPU adapter"), "{}", stderr(&gpu));
    let verify = tailrisk_with(&["verify", "--paths", "1000"], NO_ADAPTER);
    assert_eq!(verify.status.code(), Some(69), "{}", stderr(&verify));

    // auto falls back to the CPU and says which, and why, on stderr.
    let auto = tailrisk_with(&["run", "--paths", "1000", "--format", "json"], NO_ADAPTER);
    assert!(auto.status.success(), "{}", stderr(&auto));
    assert!(
        stderr(&auto).contains("using the CPU backend"),
        "{}",
        stderr(&auto)
    );
    let v: serde_json::Value = serde_json::from_slice(&auto.stdout).unwrap();
    assert_eq!(v["run"]["backend"], "cpu");

    let devices = tailrisk_with(&["devices"], NO_ADAPTER);
    assert!(devices.status.success());
    assert!(String::from_utf8_lossy(&devices.stdout).contains("no GPU adapters"));
}

#[test]
fn devices_lists_adapters_with_their_limits() {
    let out = tailrisk(&["devices"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no GPU adapters")
            || (text.contains("max storage binding") && text.contains("driver")),
        "{text}"
    );
}

#[test]
fn flags_override_the_configuration_file() {
    let config = scratch(
        "override.json",
        r#"{"paths": 3000, "seed": 5, "steps": 2, "confidence": [0.95]}"#,
    );
    let args = [
        "run",
        "--backend",
        "cpu",
        "--market",
        &data("market.json"),
        "--portfolio",
        &data("portfolio.json"),
        "--config",
        &config,
        "--format",
        "json",
    ];
    let v: serde_json::Value = serde_json::from_slice(&tailrisk(&args).stdout).unwrap();
    assert_eq!(
        (v["run"]["paths"].as_u64(), v["run"]["seed"].as_u64()),
        (Some(3000), Some(5))
    );
    assert_eq!(v["run"]["steps"], 2);
    let out = tailrisk(
        &[
            &args[..],
            &[
                "--paths",
                "2000",
                "--seed",
                "9",
                "--confidence",
                "0.99,0.999",
            ],
        ]
        .concat(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["run"]["paths"].as_u64(), v["run"]["seed"].as_u64()),
        (Some(2000), Some(9))
    );
    assert_eq!(
        v["run"]["steps"], 2,
        "a field no flag names keeps the file's value"
    );
    let levels: Vec<f64> = v["accounts"][0]["measures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["confidence"].as_f64().unwrap())
        .collect();
    assert_eq!(levels, vec![0.99, 0.999]);
}

#[test]
fn gpu_report_names_backend_device_and_precision() {
    let out = tailrisk(&[
        "run",
        "--backend",
        "gpu",
        "--paths",
        "5000",
        "--format",
        "json",
    ]);
    if out.status.code() == Some(69) {
        assert!(
            std::env::var("TAILRISK_REQUIRE_GPU").as_deref() != Ok("1"),
            "TAILRISK_REQUIRE_GPU=1 but no adapter: {}",
            stderr(&out)
        );
        eprintln!("SKIPPED: no GPU adapter");
        return;
    }
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("gpu backend on"), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["backend"], "gpu");
    assert_eq!(v["run"]["precision"], "f32");
    assert!(!v["run"]["device"].as_str().unwrap().is_empty());
    assert!(v["accounts"][0]["margin"]["initial"].is_number());
}

/// An output that is another output or an input is a usage error before anything is read or
/// written: `--output x --report x` kept only the page, `--report book.json` replaced the book.
#[test]
fn outputs_that_would_replace_an_input_or_each_other_exit_2() {
    let book = scratch(
        "collide_book.json",
        &std::fs::read_to_string(data("portfolio.json")).unwrap(),
    );
    let before = std::fs::read(&book).unwrap();
    let out_file = std::path::Path::new(&book).with_file_name("collide_out.txt");
    let out_file = out_file.display().to_string();
    let fast = ["run", "--backend", "cpu", "--paths", "200"];
    for (extra, flag) in [
        (vec!["--portfolio", &book, "--report", &book], "--portfolio"),
        (
            vec!["--output", &out_file, "--report", &out_file],
            "--output",
        ),
    ] {
        let out = tailrisk(&[&fast[..], &extra].concat());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
    assert_eq!(
        std::fs::read(&book).unwrap(),
        before,
        "the book is untouched"
    );
    assert!(!std::path::Path::new(&out_file).exists());
}

/// A control character in an input (here ESC in an unknown key) is shown escaped in the
/// error, never sent raw to the terminal.
#[test]
fn errors_escape_control_characters() {
    let market = std::fs::read_to_string(data("market.json")).unwrap();
    let bad = market.replacen('{', "{\"\\u001b[31mred\": 1, ", 1);
    let file = scratch("esc_market.json", &bad);
    let out = tailrisk(&["run", "--backend", "cpu", "--market", &file]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains('\u{1b}'), "raw ESC in: {err:?}");
    assert!(err.contains("\\u{1b}[31mred"), "{err:?}");
}

/// Output that cannot be written is exit 73 naming stdout, help text included
/// (`--help > /dev/full`); a closed pipe is not an error.
#[test]
fn stdout_that_cannot_be_written_is_exit_73() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIPPED: no /dev/full on this system");
        return;
    };
    for args in [&["--help"][..], &["run", "--help"], &["--version"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_tailrisk"))
            .args(args)
            .stdout(full.try_clone().unwrap())
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(73), "{args:?}: {stderr}");
        assert!(stderr.contains("cannot write stdout"), "{args:?}: {stderr}");
    }
}

/// Warnings quote inputs too (here the history's file name, with an ESC in it): shown
/// escaped, never raw.
#[test]
fn warnings_escape_control_characters() {
    let history = std::fs::read_to_string(data("history/bitstamp_daily_close.csv")).unwrap();
    let dir = std::env::temp_dir().join(format!("tailrisk-cli-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gaps\u{1b}[2J.csv");
    std::fs::write(&file, history).unwrap();
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "2000",
        "--market",
        &data("history/market_2020-01-17.json"),
        "--portfolio",
        &data("history/portfolio_2020-01-17.json"),
        "--history",
        file.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: "),
        "a gap warning is expected: {err:?}"
    );
    assert!(!err.contains('\u{1b}'), "raw ESC in: {err:?}");
    assert!(err.contains("gaps\\u{1b}[2J.csv"), "{err:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
