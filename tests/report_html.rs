//! `--report FILE.html` (SPEC §12, R1–R10) through the real binary, and the backtest page on
//! a synthetic SPEC §11 report: the JSON embedded verbatim, every figure on the page equal to
//! the JSON's, inputs escaped, nothing outside the file, byte-identical reruns, exit codes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::html::{assert_figures_match_json, assert_self_contained, embedded_json};

fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// A fresh directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailrisk-html-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `tailrisk ARGS --report FILE` that must succeed; the page.
fn page_of(args: &[&str], file: &Path) -> (Output, String) {
    let mut all: Vec<&str> = args.to_vec();
    let f = path(file);
    all.extend(["--report", &f]);
    let out = tailrisk(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out,
        std::fs::read_to_string(file).expect("the report is written"),
    )
}

/// The embedded text, as it sits in the page.
fn embedded_text(html: &str) -> &str {
    let start = html.find(common::html::SCRIPT_OPEN).unwrap() + common::html::SCRIPT_OPEN.len();
    &html[start..start + html[start..].find("</script>").unwrap()]
}

#[test]
fn run_report_embeds_the_json_and_shows_its_figures() {
    let dir = scratch_dir("run");
    let file = dir.join("run.html");
    let args = [
        "run",
        "--paths",
        "4000",
        "--backend",
        "cpu",
        "--format",
        "json",
    ];
    let (out, html) = page_of(&args, &file);
    let stdout = String::from_utf8(out.stdout).unwrap();
    // Verbatim: the sample book has no `<` in any string, so byte for byte.
    assert_eq!(
        embedded_text(&html),
        stdout,
        "the embedded text is stdout, newline included"
    );
    let checked = assert_figures_match_json(&html);
    assert!(checked > 100, "only {checked} figures marked");
    assert_self_contained(&html);
    let json = embedded_json(&html);
    let accounts = json["accounts"].as_array().unwrap().len();
    // Per detailed account: histogram, inset, margin bars, component bars, ≥ 2 heat maps.
    assert!(
        html.matches("<svg").count() >= 6 * accounts,
        "charts missing"
    );
    assert!(html.contains("Loss distribution") && html.contains("The tail enlarged"));
    assert!(html.contains("All 4,000 scenarios"));
    // R3: the histogram's bars, with the paths left and right of them, count every scenario.
    let tables: Vec<&str> = html
        .split("<details class=\"bins\">")
        .skip(1)
        .map(|t| &t[..t.find("</details>").expect("closed")])
        .collect();
    assert!(tables.len() >= accounts, "{} bar tables", tables.len());
    for t in tables {
        let counts: u64 = t
            .split("<td class=\"count\">")
            .skip(1)
            .map(|c| {
                c[..c.find('<').unwrap()]
                    .replace(',', "")
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(counts, 4000, "bar counts of {t}");
    }
    // R8: the coin-margined sample account shows its coin.
    assert!(html.contains("&#160;BTC"));
    assert!(!html.contains("NaN") && !html.contains("inf"));
}

/// R4: the inset is the worst max(2k, 1 %·N) at the highest *reported* confidence, the one
/// whose VaR and ES it marks, even when the margin confidence (the sample's 0.99) is higher.
#[test]
fn the_inset_follows_the_highest_reported_confidence() {
    let dir = scratch_dir("inset");
    let file = dir.join("inset.html");
    let args = [
        "run",
        "--paths",
        "5000",
        "--confidence",
        "0.9,0.95",
        "--backend",
        "cpu",
    ];
    let (_, html) = page_of(&args, &file);
    // k = ⌈5000 · 0.05⌉ = 250: the worst 500, not the 2k = 100 of the margin's 0.99.
    assert!(
        html.contains("The worst 500 of 5,000 scenarios; VaR and ES at confidence 0.95"),
        "inset caption: {:?}",
        html.lines().find(|l| l.contains("The worst"))
    );
    assert!(!html.contains("The worst 100 of"));
}

#[test]
fn every_input_string_is_escaped() {
    let dir = scratch_dir("escape");
    let evil = r#"<script>alert(1)</script>&"'"#;
    let portfolio = serde_json::json!({ "accounts": [
        { "id": evil, "positions": [ { "instrument": "BTC-PERPETUAL", "quantity": 100000 } ] },
        { "id": "plain", "positions": [ { "instrument": "BTC", "quantity": 2 } ] } ] });
    let scenarios = serde_json::json!([
        { "name": "<img src=x onerror=alert(2)>", "shocks": { "BTC": { "spot": -0.3, "vol": 0.4 } } }
    ]);
    let p = dir.join("portfolio.json");
    let s = dir.join("scenarios.json");
    std::fs::write(&p, portfolio.to_string()).unwrap();
    std::fs::write(&s, scenarios.to_string()).unwrap();
    for command in ["run", "stress"] {
        let file = dir.join(format!("{command}.html"));
        let args = [
            command,
            "--portfolio",
            &path(&p),
            "--scenarios",
            &path(&s),
            "--paths",
            "2000",
            "--backend",
            "cpu",
            "--report-accounts",
            "0",
            "--report-account",
            evil,
        ];
        let (_, html) = page_of(&args, &file);
        assert!(!html.contains("<script>alert"), "{command}: raw script");
        assert!(!html.contains("<img"), "{command}: raw img");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#39;"));
        assert!(!embedded_text(&html).contains('<'));
        let json = embedded_json(&html);
        assert_eq!(
            json["accounts"][0]["id"], evil,
            "{command}: JSON keeps the id"
        );
        assert_self_contained(&html);
        assert_figures_match_json(&html);
        // The named account is detailed, the other is not (--report-accounts 0).
        assert!(html.contains("id=\"account-0\"") && !html.contains("id=\"account-1\""));
    }
}

/// R10: everything but `run.seconds` is byte-identical across reruns.
#[test]
fn reruns_are_byte_identical_but_for_the_seconds() {
    let dir = scratch_dir("rerun");
    let normalise = |html: &str| -> String {
        let json = embedded_json(html);
        let seconds = json["run"]["seconds"].to_string();
        let shown =
            tailrisk::report::html::numbers::number(json["run"]["seconds"].as_f64().unwrap());
        html.replacen(&format!("\"seconds\": {seconds}"), "\"seconds\": S", 1)
            .replacen(&format!("data-json=\"/run/seconds\">{shown}<"), "S<", 1)
    };
    for command in ["run", "stress"] {
        let a = page_of(
            &[command, "--paths", "3000", "--backend", "cpu"],
            &dir.join("a.html"),
        )
        .1;
        let b = page_of(
            &[command, "--paths", "3000", "--backend", "cpu"],
            &dir.join("b.html"),
        )
        .1;
        assert_eq!(normalise(&a), normalise(&b), "{command}");
        assert!(normalise(&a).contains("\"seconds\": S"));
    }
}

/// R9: an output that cannot be written is exit 73 naming it, and leaves no partial file.
#[test]
fn an_unwritable_report_exits_73_naming_it() {
    let dir = scratch_dir("unwritable");
    let taken = dir.join("taken.html");
    std::fs::create_dir_all(taken.join("inside")).unwrap();
    let out = tailrisk(&[
        "run",
        "--paths",
        "1000",
        "--backend",
        "cpu",
        "--report",
        &path(&taken),
    ]);
    assert_eq!(out.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&path(&taken)));
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "a temporary file was left behind");
}

#[test]
fn report_flags_are_usage_errors_where_they_do_not_apply() {
    let out = tailrisk(&["verify", "--report", "x.html"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tailrisk(&[
        "whatif",
        "--account",
        "pair-trade",
        "--add",
        "BTC:1",
        "--report-accounts",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = tailrisk(&[
        "run",
        "--paths",
        "500",
        "--backend",
        "cpu",
        "--report",
        "/tmp/tailrisk-unknown.html",
        "--report-account",
        "nobody",
    ]);
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
}

#[test]
fn stress_report_shows_margin_heat_maps_and_scenarios() {
    let dir = scratch_dir("stress");
    let (out, html) = page_of(
        &[
            "stress",
            "--paths",
            "2000",
            "--backend",
            "cpu",
            "--format",
            "json",
        ],
        &dir.join("s.html"),
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(embedded_text(&html), stdout);
    assert_figures_match_json(&html);
    assert_self_contained(&html);
    assert!(html.contains("Stress grid") && html.contains("Named scenarios"));
    // Relative moves as the JSON writes them (the first built-in scenario: BTC −40 % spot,
    // +100 % vol), not to six digits.
    assert!(
        html.contains(r#"BTC <span class="num" data-json="/scenarios/0/shocks/BTC/spot">-0.4</span> / <span class="num" data-json="/scenarios/0/shocks/BTC/vol">+1</span>"#),
        "named scenario shocks not written as in the JSON"
    );
    // The cell that sets the grid loss is framed 3 px wide (plotters dropped the width).
    assert!(
        html.contains(r##"stroke="#000000" stroke-width="3""##),
        "the worst grid cell has no 3 px frame"
    );
    assert!(html.contains("extended moves") && html.contains("raw "));
}

#[test]
fn backtest_page_renders_the_spec_json() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/backtest_report.json"
    );
    let text = std::fs::read_to_string(file).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let html = tailrisk::report::html::backtest_page(&value, &text).unwrap();
    assert_self_contained(&html);
    let checked = assert_figures_match_json(&html);
    assert!(checked > 20, "{checked}");
    // Two charts per account: VaR/ES against the loss, IM over time.
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("&lt;b&gt;bt&lt;/b&gt;&amp;&#39;&quot;"));
    assert!(html.contains("n/a"), "a null statistic shows as n/a");
    assert!(html.contains("Kupiec") && html.contains("traffic light"));
    let bad = serde_json::json!({ "accounts": [ { "days": 3 } ] });
    assert!(tailrisk::report::html::backtest_page(&bad, "{}").is_err());
}

/// `backtest --report` on the shipped history: the page embeds exactly the JSON written to
/// stdout, shows its figures (every day's exception marked, the test table), refers to nothing
/// outside the file, and is byte-identical on a rerun but for `run.seconds`.
#[test]
fn backtest_report_is_the_backtests_json_on_a_page() {
    let dir = scratch_dir("backtest");
    let data = |f: &str| format!("{}/data/history/{f}", env!("CARGO_MANIFEST_DIR"));
    let (history, market, book) = (
        data("bitstamp_daily_close.csv"),
        data("market_2020-01-17.json"),
        data("backtest_book.json"),
    );
    let args = [
        "backtest",
        "--history",
        &history,
        "--market",
        &market,
        "--portfolio",
        &book,
        "--method",
        "hs",
        "--from",
        "2019-10-01",
        "--backend",
        "cpu",
        "--format",
        "json",
    ];
    let (out, html) = page_of(&args, &dir.join("a.html"));
    let stdout: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        embedded_json(&html),
        stdout,
        "the page embeds the stdout JSON"
    );
    assert_self_contained(&html);
    let shown = assert_figures_match_json(&html);
    let accounts = stdout["accounts"].as_array().unwrap();
    // At least the test table's figures of every account are on the page.
    assert!(shown >= 5 * accounts.len(), "{shown} figures shown");
    for a in accounts {
        assert!(html.contains(&format!("{} (", a["id"].as_str().unwrap())));
    }
    assert!(html.matches("<svg").count() >= 2 * accounts.len());
    let rerun = page_of(&args, &dir.join("b.html")).1;
    let normalise = |page: &str| {
        let seconds = &embedded_json(page)["run"]["seconds"];
        let shown = tailrisk::report::html::numbers::number(seconds.as_f64().unwrap());
        page.replacen(&format!("\"seconds\": {seconds}"), "\"seconds\": S", 1)
            .replacen(&format!("data-json=\"/run/seconds\">{shown}<"), "S<", 1)
    };
    assert!(
        normalise(&html) == normalise(&rerun),
        "the rerun's page differs beyond run.seconds"
    );
}
