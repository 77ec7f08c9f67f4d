//! `tailrisk import deribit --history H` (SPEC §15 D9, §9): the imported market's
//! correlation is the EWMA correlation `tailrisk calibrate` reports for the same history and
//! market (bit for bit); import → run end to end; rows after as_of ignored; the errors
//! (a missing column, fewer than 60 returns: 65; both --history and --correlation: 2).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn path(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

fn sample(file: &str) -> String {
    path(&format!("data/deribit/{file}"))
}

fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn out(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tailrisk-import-h-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Imports both sample book summaries with `extra` flags into `market`.
fn import(market: &str, extra: &[&str]) -> Output {
    let (btc, eth) = (
        sample("book_summary_btc.json"),
        sample("book_summary_eth.json"),
    );
    let mut args = vec![
        "import",
        "deribit",
        "--book-summary",
        &btc,
        "--book-summary",
        &eth,
        "--market-out",
        market,
    ];
    args.extend(extra);
    tailrisk(&args)
}

fn json_file(file: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// A history CSV of `days` rows from 2026-08-01 (before the samples' as_of 2026-11-20) with
/// deterministic BTC/ETH closes, then `after` rows past as_of with absurd prices.
fn history(name: &str, header: &str, days: usize, after: usize) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
    let mut text = format!("{header}\n");
    let (mut btc, mut eth) = (90_000.0_f64, 3_000.0_f64);
    for d in 0..days {
        // A fixed, irregular sequence of moves (no RNG needed): correlated but not equal.
        let x = ((d * 7919) % 101) as f64 / 101.0 - 0.5;
        let y = ((d * 104_729) % 97) as f64 / 97.0 - 0.5;
        btc *= (0.04 * x).exp();
        eth *= (0.03 * x + 0.03 * y).exp();
        let date = start + chrono::Days::new(d as u64);
        let cells = if header == "date,BTC" {
            format!("{btc:.2}")
        } else {
            format!("{btc:.2},{eth:.2}")
        };
        text += &format!("{date},{cells}\n");
    }
    let late = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    for d in 0..after {
        let date = late + chrono::Days::new(d as u64);
        let price = if d % 2 == 0 { 1.0 } else { 1.0e6 };
        text += &format!("{date},{price},{}\n", price * 2.0);
    }
    let file = out(name);
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn the_correlation_is_the_one_calibrate_reports() {
    let bitstamp = path("data/history/bitstamp_daily_close.csv");
    let market = out("cal-market.json");
    let o = import(&market, &["--history", &bitstamp]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("2020-01-17") && stderr(&o).contains("days before"),
        "the stale history is noted: {}",
        stderr(&o)
    );
    let imported = json_file(&market)["correlation"].clone();
    assert_eq!(imported["symbols"], serde_json::json!(["BTC", "ETH"]));
    let o = tailrisk(&[
        "calibrate",
        "--history",
        &bitstamp,
        "--market",
        &market,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let calibration: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Both are the same f64s printed by serde_json: equality is bit for bit.
    assert_eq!(imported, calibration["correlation"]);
    let rho = imported["matrix"][0][1].as_f64().unwrap();
    assert!(rho > 0.0 && rho < 1.0, "a real correlation: {rho}");
}

#[test]
fn rows_after_as_of_are_ignored_and_the_import_runs() {
    let (clean, with_late) = (
        history("clean.csv", "date,BTC,ETH", 100, 0),
        history("late.csv", "date,BTC,ETH", 100, 6),
    );
    let (m1, m2, portfolio) = (out("m1.json"), out("m2.json"), out("p.json"));
    let positions = sample("positions.json");
    let o = import(
        &m1,
        &[
            "--history",
            &with_late,
            "--positions",
            &positions,
            "--portfolio-out",
            &portfolio,
        ],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(import(&m2, &["--history", &clean]).status.success());
    assert_eq!(json_file(&m1)["correlation"], json_file(&m2)["correlation"]);
    let o = tailrisk(&[
        "run",
        "--market",
        &m1,
        "--portfolio",
        &portfolio,
        "--backend",
        "cpu",
        "--paths",
        "4000",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["accounts"][0]["margin"]["initial"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_missing_column_or_too_few_returns_is_an_input_error() {
    let btc_only = history("btc.csv", "date,BTC", 100, 0);
    let o = import(&out("x1.json"), &["--history", &btc_only]);
    assert_eq!(o.status.code(), Some(65), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("btc.csv") && stderr(&o).contains("ETH"),
        "{}",
        stderr(&o)
    );
    // 60 rows give 59 returns: one short of §9's minimum.
    let short = history("short.csv", "date,BTC,ETH", 60, 0);
    let o = import(&out("x2.json"), &["--history", &short]);
    assert_eq!(o.status.code(), Some(65), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("short.csv") && stderr(&o).contains("60"),
        "{}",
        stderr(&o)
    );
    let enough = history("enough.csv", "date,BTC,ETH", 61, 0);
    assert!(
        import(&out("x3.json"), &["--history", &enough])
            .status
            .success()
    );
    assert!(
        !std::path::Path::new(&out("x1.json")).exists(),
        "nothing written"
    );
}

#[test]
fn history_and_correlation_together_is_a_usage_error() {
    let h = history("both.csv", "date,BTC,ETH", 100, 0);
    let c = sample("correlation.json");
    let o = import(&out("x4.json"), &["--history", &h, "--correlation", &c]);
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("--history") && stderr(&o).contains("--correlation"));
}
