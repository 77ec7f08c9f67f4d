//! SPEC §9 on the shipped Bitstamp history: every calibrated figure recomputed by a
//! straightforward f64 implementation written here (no engine code), history-input errors,
//! the `calibrate` command, `run --history`, and the APC tools on a synthetic vol spike.
// The reference is written index by index, as the formulas are, on purpose.
#![allow(clippy::needless_range_loop)]

mod common;

use std::process::{Command, Output};

use tailrisk::calibrate::{Calibration, DofChoice, apply, calibrate};
use tailrisk::config::{ApcTool, CalibrationConfig, RunConfig};
use tailrisk::engine::cpu::CpuBackend;
use tailrisk::input::parse_history;
use tailrisk::run::evaluate;
use tailrisk::stress::{ScenarioOrigin, ScenarioSet};

const HISTORY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/bitstamp_daily_close.csv"
);
const MARKET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/market_2020-01-17.json"
);
const PORTFOLIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/portfolio_2020-01-17.json"
);
/// 2020-01-17T08:00:00Z, in milliseconds.
const AS_OF: i64 = 1_579_248_000_000;

/// The reference: returns of the rows ≤ 2020-01-17 that price BTC and ETH, read by hand.
fn reference_returns() -> (Vec<String>, Vec<[f64; 2]>) {
    let text = std::fs::read_to_string(HISTORY).expect("shipped history");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |s: &str| header.iter().position(|h| *h == s).expect("column");
    let (btc, eth) = (col("BTC"), col("ETH"));
    let mut rows: Vec<(String, [f64; 2])> = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[0] > "2020-01-17" || cells[btc].is_empty() || cells[eth].is_empty() {
            continue;
        }
        let p = [cells[btc].parse().unwrap(), cells[eth].parse().unwrap()];
        rows.push((cells[0].to_string(), p));
    }
    let dates = rows[1..].iter().map(|r| r.0.clone()).collect();
    let returns = rows
        .windows(2)
        .map(|w| [(w[1].1[0] / w[0].1[0]).ln(), (w[1].1[1] / w[0].1[1]).ln()])
        .collect();
    (dates, returns)
}

/// ln Γ(x), Lanczos (g = 7, 9 terms), x > 0.5: relative error ~1e-15.
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    let x = x - 1.0;
    let t = x + 7.5;
    let s: f64 = C[0] + (1..9).map(|i| C[i] / (x + i as f64)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

struct Reference {
    ewma: [f64; 2],
    rho: f64,
    long_run: [f64; 2],
    stressed: [f64; 2],
    stressed_date: [String; 2],
    nu: Option<u32>,
}

/// SPEC §9 written out loop by loop.
fn reference(lambda: f64) -> Reference {
    let (dates, r) = reference_returns();
    let n = r.len();
    let m = 30.min(n);
    let mut s = [[0.0f64; 2]; 2];
    for t in 0..m {
        for i in 0..2 {
            for j in 0..2 {
                s[i][j] += r[t][i] * r[t][j] / m as f64;
            }
        }
    }
    let mut var_path = vec![[s[0][0], s[1][1]]];
    for t in 0..n {
        for i in 0..2 {
            for j in 0..2 {
                s[i][j] = lambda * s[i][j] + (1.0 - lambda) * r[t][i] * r[t][j];
            }
        }
        var_path.push([s[0][0], s[1][1]]);
    }
    let w = n.min(3650);
    let mut out = Reference {
        ewma: [0.0; 2],
        rho: s[0][1] / (s[0][0] * s[1][1]).sqrt(),
        long_run: [0.0; 2],
        stressed: [0.0; 2],
        stressed_date: [String::new(), String::new()],
        nu: None,
    };
    for a in 0..2 {
        out.ewma[a] = (365.0 * s[a][a]).sqrt();
        let ss: f64 = (n - w..n).map(|t| r[t][a] * r[t][a]).sum();
        out.long_run[a] = (365.0 * ss / w as f64).sqrt();
        let mut best = (0usize, -1.0);
        for t in (n - w + 1).max(m)..=n {
            if var_path[t][a] > best.1 {
                best = (t, var_path[t][a]);
            }
        }
        out.stressed[a] = (365.0 * best.1).sqrt();
        out.stressed_date[a] = dates[best.0 - 1].clone();
    }
    let mut z = Vec::new();
    for t in m + 1..=n {
        for a in 0..2 {
            z.push(r[t - 1][a] / var_path[t - 1][a].sqrt());
        }
    }
    let normal: f64 = z
        .iter()
        .map(|x| -0.5 * (2.0 * std::f64::consts::PI).ln() - 0.5 * x * x)
        .sum();
    let mut best = (0u32, f64::NEG_INFINITY);
    for nu in 3..=60u32 {
        let v = nu as f64;
        let ll: f64 = z
            .iter()
            .map(|x| {
                ln_gamma((v + 1.0) / 2.0)
                    - ln_gamma(v / 2.0)
                    - 0.5 * (std::f64::consts::PI * (v - 2.0)).ln()
                    - (v + 1.0) / 2.0 * (1.0 + x * x / (v - 2.0)).ln()
            })
            .sum();
        if ll > best.1 {
            best = (nu, ll);
        }
    }
    out.nu = (normal <= best.1).then_some(best.0);
    out
}

fn engine(lambda: f64, apc: Option<ApcTool>) -> Calibration {
    let text = std::fs::read_to_string(HISTORY).unwrap();
    let symbols = ["BTC".to_string(), "ETH".to_string()];
    let date = chrono::NaiveDate::from_ymd_opt(2020, 1, 17).unwrap();
    let h = parse_history(&text, "h.csv", &symbols, date).expect("history parses");
    let params = CalibrationConfig {
        lambda,
        ..CalibrationConfig::default()
    };
    calibrate(&h, &params, apc, DofChoice::Fitted, AS_OF).expect("calibrates")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// λ = 0.94 (RiskMetrics) and 0.97 (LCH): every figure to 1e-12 relative.
#[test]
fn calibration_of_the_shipped_history_matches_a_direct_computation() {
    for lambda in [0.94, 0.97] {
        let want = reference(lambda);
        let got = engine(lambda, None);
        assert_eq!((got.returns, got.seed_returns), (787, 30));
        assert_eq!(
            (got.first.as_str(), got.last.as_str()),
            ("2017-11-10", "2020-01-17")
        );
        for a in 0..2 {
            let g = &got.assets[a];
            assert!(
                close(g.ewma_vol, want.ewma[a]),
                "λ {lambda} ewma {} {}",
                g.ewma_vol,
                want.ewma[a]
            );
            assert!(
                close(g.long_run_vol, want.long_run[a]),
                "λ {lambda} long run"
            );
            assert!(
                close(g.stressed_vol, want.stressed[a]),
                "λ {lambda} stressed"
            );
            assert_eq!(g.stressed_date, want.stressed_date[a], "λ {lambda}");
            assert_eq!(g.vol_used, g.ewma_vol);
        }
        let rho = got.correlation.matrix[0][1];
        assert!(
            close(rho, want.rho) && rho == got.correlation.matrix[1][0],
            "λ {lambda} ρ {rho}"
        );
        assert_eq!(got.student_t_dof, want.nu, "λ {lambda}");
        assert!(want.nu.is_some(), "crypto returns are fat-tailed");
    }
}

#[test]
fn apc_tools_set_vol_used_as_defined() {
    let floor = engine(0.94, Some(ApcTool::Floor));
    let weighted = engine(0.94, Some(ApcTool::StressedWeight { weight: 0.25 }));
    for (f, w) in floor.assets.iter().zip(&weighted.assets) {
        assert_eq!(f.vol_used, f.ewma_vol.max(f.long_run_vol));
        let want = (0.75 * w.ewma_vol.powi(2) + 0.25 * w.stressed_vol.powi(2)).sqrt();
        assert!(close(w.vol_used, want));
    }
}

fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .env("TAILRISK_NO_GPU", "1")
        .output()
        .expect("binary runs")
}

fn scratch(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("tailrisk-calibration-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

/// A bad history exits 65 and the message names the file, line, column and value.
fn rejected(csv: &str, wants: &[&str]) {
    let file = scratch("bad.csv", csv);
    let o = tailrisk(&["calibrate", "--history", &file, "--market", MARKET]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{csv}: {err}");
    for w in wants.iter().chain([&"bad.csv"]) {
        assert!(err.contains(w), "wanted {w:?} in {err}");
    }
}

/// 70 good rows from 2019-01-01, then `extra` (a bad row somewhere is put in by the caller).
fn good_rows(n: usize) -> Vec<String> {
    let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    (0..n)
        .map(|i| {
            let d = start + chrono::Duration::days(i as i64);
            format!("{d},{},{}", 4000.0 + (i % 7) as f64, 130.0 + (i % 5) as f64)
        })
        .collect()
}

#[test]
fn bad_histories_exit_65_naming_line_column_and_value() {
    let mut rows = good_rows(70);
    let csv = |rows: &[String]| format!("date,BTC,ETH\n{}\n", rows.join("\n"));
    let mut dup = rows.clone();
    dup[10] = dup[9].clone();
    rejected(
        &csv(&dup),
        &["line 12", "column 1", "duplicate", "2019-01-10"],
    );
    let mut unsorted = rows.clone();
    unsorted.swap(20, 21);
    rejected(&csv(&unsorted), &["line 23", "increasing", "2019-01-21"]);
    let mut negative = rows.clone();
    negative[5] = "2019-01-06,-4000,130".into();
    rejected(
        &csv(&negative),
        &["line 7", "column 2 (BTC)", "-4000", "positive"],
    );
    let mut text = rows.clone();
    text[6] = "2019-01-07,4000,abc".into();
    rejected(&csv(&text), &["line 8", "column 3 (ETH)", "abc", "number"]);
    rejected(
        &rows
            .iter()
            .map(|r| r.rsplit_once(',').unwrap().0.to_string())
            .fold("date,BTC\n".to_string(), |acc, r| acc + &r + "\n"),
        &["line 1", "ETH"],
    );
    // A subnormal close is positive but has no finite log return (it panicked in fhs).
    let mut tiny = rows.clone();
    tiny[8] = "2019-01-09,1e-320,130".into();
    rejected(
        &csv(&tiny),
        &["line 10", "column 2 (BTC)", "1e-320", "2.2e-308"],
    );
    // Normal closes 1e600 apart: the ratio overflows, the return is not finite.
    let mut apart = rows.clone();
    apart[3] = "2019-01-04,1e-300,130".into();
    apart[4] = "2019-01-05,1e300,130".into();
    rejected(&csv(&apart), &["line 6", "column 2 (BTC)", "not a finite"]);
    // A close that never moves has a zero EWMA variance: its correlation would be 0/0.
    let flat: Vec<String> = rows
        .iter()
        .map(|r| format!("{},1.0", r.rsplit_once(',').unwrap().0))
        .collect();
    rejected(&csv(&flat), &["column ETH", "all 0", "0/0"]);
    rows.truncate(60);
    rejected(&csv(&rows), &["59 returns", "60"]);
}

/// Settled detail 5 to the letter: with no standardised return (m = n) every log-likelihood
/// is the empty sum 0, the normal's is not strictly higher, and the tie rule picks ν = 3.
#[test]
fn no_standardised_returns_fit_the_smallest_nu() {
    assert_eq!(tailrisk::calibrate::fit_student_t(&[]), Some(3));
}

#[test]
fn calibrate_prints_the_spec_json() {
    let o = tailrisk(&[
        "calibrate",
        "--history",
        HISTORY,
        "--market",
        MARKET,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 return(s) span more than one day"));
    let text = String::from_utf8(o.stdout).unwrap();
    let keys = [
        "\"as_of\"",
        "\"first\"",
        "\"last\"",
        "\"returns\"",
        "\"lambda\"",
        "\"seed_returns\"",
        "\"assets\"",
        "\"correlation\"",
        "\"student_t_dof\"",
        "\"apc\"",
    ];
    let at: Vec<usize> = keys.iter().map(|k| text.find(k).expect(k)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "field order {at:?}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["as_of"], "2020-01-17T08:00:00Z");
    assert_eq!(v["returns"], 787);
    assert!(v["apc"].is_null());
    let btc = &v["assets"]["BTC"];
    for f in ["ewma_vol", "long_run_vol", "stressed_vol", "vol_used"] {
        assert!(btc[f].as_f64().unwrap() > 0.1, "{f}");
    }
    assert_eq!(
        v["correlation"]["symbols"],
        serde_json::json!(["BTC", "ETH"])
    );
    let table = tailrisk(&["calibrate", "--history", HISTORY, "--market", MARKET]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("stressed on"));
}

#[test]
fn run_with_history_carries_the_calibration_and_uses_it() {
    let args = |history: bool| {
        let mut a = vec![
            "run",
            "--backend",
            "cpu",
            "--market",
            MARKET,
            "--portfolio",
            PORTFOLIO,
            "--paths",
            "4000",
            "--format",
            "json",
        ];
        if history {
            a.extend(["--history", HISTORY]);
        }
        let o = tailrisk(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (with, without) = (args(true), args(false));
    assert!(without["run"].get("calibration").is_none());
    let cal = &with["run"]["calibration"];
    assert_eq!(cal["returns"], 787);
    assert_eq!(*cal, serde_json::to_value(engine(0.94, None)).unwrap());
    let es = |v: &serde_json::Value| v["accounts"][0]["measures"][0]["es"].as_f64().unwrap();
    assert_ne!(es(&with), es(&without));
    let stress = tailrisk(&[
        "stress",
        "--backend",
        "cpu",
        "--market",
        MARKET,
        "--portfolio",
        PORTFOLIO,
        "--paths",
        "2000",
        "--format",
        "json",
        "--history",
        HISTORY,
    ]);
    assert!(
        stress.status.success(),
        "{}",
        String::from_utf8_lossy(&stress.stderr)
    );
    let stress: serde_json::Value = serde_json::from_slice(&stress.stdout).unwrap();
    assert_eq!(stress["run"]["calibration"], *cal);
}

/// A one-asset history: 400 calm days (1%/day), then `spike` days at `spike_vol` per day.
fn synthetic_history(spike: usize, spike_vol: f64, calm_tail: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = 100.0f64;
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    let mut out = String::from("date,BTC\n");
    for i in 0..400 + spike + calm_tail {
        let vol = if (400..400 + spike).contains(&i) {
            spike_vol
        } else {
            0.01
        };
        // Box–Muller.
        let z = (-2.0 * uniform().max(1e-300).ln()).sqrt()
            * (2.0 * std::f64::consts::PI * uniform()).cos();
        price *= (vol * z).exp();
        out += &format!("{},{price}\n", start + chrono::Duration::days(i as i64));
    }
    out
}

/// IM of a long BTC position under a history, the grid and named scenarios kept out of the
/// way (a 1% grid, no named scenarios) so that ES sets IM.
fn initial_margin(history: &str, apc: Option<ApcTool>) -> (f64, f64, Option<f64>, Calibration) {
    let market = r#"{"as_of":"2025-06-01T08:00:00Z","assets":{"BTC":{"spot":100,"vol":0.5}}}"#;
    let book = r#"{"accounts":[{"id":"a","positions":[{"instrument":"BTC","quantity":1000}]}]}"#;
    let mut config = common::config(20_000, 7, &[0.99]);
    config.stress.price_range = 0.01;
    config.stress.price_points = 3;
    config.stress.extended_moves.clear();
    config.margin.apc = apc;
    let none = ScenarioSet {
        origin: ScenarioOrigin::BuiltIn,
        scenarios: Vec::new(),
    };
    let inputs = common::run_inputs(market, book, config, none);
    let symbols = inputs.market.history_symbols();
    let date = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let h = parse_history(history, "synthetic.csv", &symbols, date).expect("synthetic history");
    let cal = calibrate(
        &h,
        &inputs.config.calibration,
        apc,
        DofChoice::of(&inputs.config),
        inputs.market.as_of,
    )
    .expect("calibrates");
    let inputs = apply(inputs, cal.clone());
    let ev = evaluate(&inputs, &CpuBackend::new(), &|_| {}).expect("run");
    let m = ev.figures.margins[0];
    (m.initial, m.maintenance, m.apc_buffer, cal)
}

#[test]
fn a_vol_spike_raises_margin_and_each_apc_tool_acts_as_defined() {
    let calm = synthetic_history(0, 0.0, 30);
    let spiked = synthetic_history(30, 0.06, 0);
    let (im_calm, _, _, _) = initial_margin(&calm, None);
    let (im_spike, _, _, cal) = initial_margin(&spiked, None);
    assert!(im_spike > 3.0 * im_calm, "spike {im_spike} calm {im_calm}");
    assert!(cal.assets[0].stressed_vol >= cal.assets[0].ewma_vol);
    // After the spike has calmed down, the floor and the stressed weight hold margin up.
    let after = synthetic_history(30, 0.06, 90);
    let (im_after, _, _, plain) = initial_margin(&after, None);
    let (im_floor, _, _, floor) = initial_margin(&after, Some(ApcTool::Floor));
    let (im_weighted, _, _, _) =
        initial_margin(&after, Some(ApcTool::StressedWeight { weight: 0.25 }));
    let a = &plain.assets[0];
    assert!(a.long_run_vol > a.ewma_vol);
    assert_eq!(floor.assets[0].vol_used, a.long_run_vol);
    // Same draws, ES linear in the vol for a spot book: IM scales with vol_used.
    let ratio = im_floor / im_after;
    assert!(
        (ratio / (a.long_run_vol / a.ewma_vol) - 1.0).abs() < 0.05,
        "ratio {ratio}"
    );
    assert!(im_weighted > im_after);
    let (im_buffer, mm_buffer, buffer, _) =
        initial_margin(&after, Some(ApcTool::Buffer { buffer: 0.25 }));
    assert!(close(buffer.unwrap(), 0.25 * im_after));
    assert!(close(im_buffer, 1.25 * im_after));
    assert!(close(
        mm_buffer,
        RunConfig::default().margin.mm_ratio * im_buffer
    ));
}

#[test]
fn calibration_and_apc_configuration_fields() {
    use tailrisk::input::parse_config;
    let c = parse_config(
        r#"{"calibration":{"lambda":0.97,"seed_returns":20,"lookback_years":2},
            "margin":{"apc":{"tool":"stressed_weight","weight":0.1}}}"#,
        "c.json",
    )
    .expect("parses");
    assert_eq!(
        (c.calibration.lambda, c.calibration.seed_returns),
        (0.97, 20)
    );
    assert_eq!(c.calibration.lookback_years, 2.0);
    let tool = c.margin.apc.expect("apc");
    assert_eq!(tool, ApcTool::StressedWeight { weight: 0.1 });
    assert!(
        tool.warning()
            .expect("below EMIR's minimum")
            .contains("0.25")
    );
    assert!(!c.student_t_dof_given);
    let null = parse_config(r#"{"student_t_dof":null}"#, "c.json").unwrap();
    assert!(null.student_t_dof_given && null.student_t_dof.is_none());
    for (text, field) in [
        (
            r#"{"margin":{"apc":{"tool":"buffer","buffer":1.5}}}"#,
            "margin.apc.buffer",
        ),
        (
            r#"{"margin":{"apc":{"tool":"stressed_weight"}}}"#,
            "margin.apc.weight",
        ),
        (r#"{"margin":{"apc":{"tool":"cap"}}}"#, "margin.apc.tool"),
        (r#"{"calibration":{"lambda":1}}"#, "calibration.lambda"),
        (
            r#"{"calibration":{"seed_returns":0}}"#,
            "calibration.seed_returns",
        ),
        (
            r#"{"calibration":{"lookback_years":0}}"#,
            "calibration.lookback_years",
        ),
        // ⌊365 · 0.001⌋ = 0 returns: no long-run window (it was clamped to 1).
        (
            r#"{"calibration":{"lookback_years":0.001}}"#,
            "calibration.lookback_years",
        ),
    ] {
        let e = parse_config(text, "c.json").expect_err(text);
        assert_eq!(e.exit_code(), 65);
        assert!(e.to_string().contains(field), "{e}");
    }
    // A configuration that sets ν keeps it under --history (the calibration reports it, the
    // model uses it); absent, the fitted ν is used.
    let market = std::fs::read_to_string(MARKET).unwrap();
    let book = std::fs::read_to_string(PORTFOLIO).unwrap();
    let fitted = engine(0.94, None).student_t_dof;
    assert!(fitted.is_some());
    let five = parse_config(r#"{"student_t_dof":5}"#, "c.json").unwrap();
    for (config, want) in [
        (RunConfig::default(), fitted),
        (null, None),
        (five, Some(5)),
    ] {
        let text = std::fs::read_to_string(HISTORY).unwrap();
        let symbols = ["BTC".to_string(), "ETH".to_string()];
        let date = chrono::NaiveDate::from_ymd_opt(2020, 1, 17).unwrap();
        let h = parse_history(&text, "h.csv", &symbols, date).expect("history parses");
        let cal = calibrate(&h, &config.calibration, None, DofChoice::of(&config), AS_OF)
            .expect("calibrates");
        assert_eq!(cal.student_t_dof, want);
        let inputs = common::run_inputs(&market, &book, config, ScenarioSet::built_in());
        let applied = apply(inputs, cal).config;
        assert_eq!(applied.student_t_dof, want);
        assert_eq!(applied.calibrated.expect("recorded").student_t_dof, want);
    }
}

/// Empty cells before an asset trades drop their rows, rows after as_of are ignored, columns
/// not simulated are not read, and a gap gives one return and a warning.
#[test]
fn history_rows_are_kept_as_specified() {
    let mut csv = String::from("date,ETH,BTC,XRP\n");
    let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    for i in 0..100i64 {
        if (40..45).contains(&i) {
            continue; // a five-day hole: one return spans six days
        }
        let eth = if i < 10 {
            String::new()
        } else {
            format!("{}", 100 + i)
        };
        csv += &format!(
            "{},{eth},{},not-a-price\n",
            start + chrono::Duration::days(i),
            4000 + i
        );
    }
    csv += "2019-06-01,-1,-1,x\n"; // after as_of: not read
    let symbols = ["BTC".to_string(), "ETH".to_string()];
    let as_of = chrono::NaiveDate::from_ymd_opt(2019, 4, 10).unwrap(); // day 99
    let h = parse_history(&csv, "h.csv", &symbols, as_of).expect("parses");
    // Priced rows: days 10..=99 without 40..45, i.e. 85 rows, 84 returns.
    assert_eq!(h.returns.len(), 84);
    assert_eq!(h.dates[0], start + chrono::Duration::days(11));
    assert_eq!(h.gaps, 1);
    assert!(h.gap_warning().unwrap().contains("1 return(s)"));
    // The last return is day 99 (2019-04-10): stale from five days on.
    assert_eq!(h.stale_warning(as_of), None);
    let later = as_of + chrono::Duration::days(4);
    assert_eq!(h.stale_warning(later), None);
    let stale = h
        .stale_warning(later + chrono::Duration::days(1))
        .expect("stale");
    assert!(stale.contains("2019-04-10, 5 days before"), "{stale}");
    let r = &h.returns[0];
    assert!(close(r[0], (4011.0f64 / 4010.0).ln()) && close(r[1], (111.0f64 / 110.0).ln()));
    let cut = chrono::NaiveDate::from_ymd_opt(2019, 2, 20).unwrap(); // day 50: 36 rows, 35 returns
    let e = parse_history(&csv, "h.csv", &symbols, cut).expect_err("too few returns");
    assert!(e.to_string().contains("got 35 returns"), "{e}");
}

/// Line numbers count blank lines and lone-CR line ends, as the positions CSV does (one
/// record reader for both): a bad price on the 5th line is named there.
#[test]
fn history_errors_name_the_line_after_blank_lines_and_lone_crs() {
    let symbols = vec!["BTC".to_string()];
    let as_of = chrono::NaiveDate::from_ymd_opt(2020, 1, 17).unwrap();
    for text in [
        "date,BTC\n2020-01-01,100\n\n2020-01-02,101\n2020-01-03,-4\n",
        "date,BTC\r2020-01-01,100\r\r2020-01-02,101\r2020-01-03,-4\r",
    ] {
        let err = parse_history(text, "h.csv", &symbols, as_of).unwrap_err();
        match err {
            tailrisk::Error::Input { field, value, .. } => {
                assert!(field.starts_with("line 5,"), "{text:?}: {field}");
                assert_eq!(value, "-4");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// SPEC §9: a configured ν is kept, and the calibration reports the ν the model uses (the
/// configuration's, `null` included), on `calibrate` and in `run.calibration` alike.
#[test]
fn a_configured_dof_is_the_one_reported() {
    let json_of = |args: &[&str]| json_of(args).0;
    let calibrate = ["calibrate", "--history", HISTORY, "--market", MARKET];
    let fitted = json_of(&[&calibrate[..], &["--format", "json"]].concat())["student_t_dof"]
        .as_u64()
        .expect("the shipped history fits a ν");
    let kept = if fitted == 7 { 8 } else { 7 };
    for (text, want) in [
        (
            format!(r#"{{"student_t_dof": {kept}}}"#),
            serde_json::json!(kept),
        ),
        (r#"{"student_t_dof": null}"#.into(), serde_json::Value::Null),
    ] {
        let config = scratch("dof.json", &text);
        let with_config = ["--config", config.as_str(), "--format", "json"];
        let c = json_of(&[&calibrate[..], &with_config].concat());
        assert_eq!(c["student_t_dof"], want, "calibrate with {text}");
        let fast = ["--paths", "2000", "--backend", "cpu"];
        let r = json_of(&[&HISTORY_RUN[..], &fast, &with_config].concat());
        assert_eq!(
            r["run"]["calibration"]["student_t_dof"], want,
            "run.calibration with {text}"
        );
    }
}

/// Calibrate's `as_of` is the market's (settled detail 6), milliseconds included: an imported
/// snapshot's as_of carries them (D6), and they count in every τ.
#[test]
fn calibrate_keeps_the_markets_milliseconds() {
    let market = std::fs::read_to_string(MARKET)
        .unwrap()
        .replace("\"2020-01-17T08:00:00Z\"", "\"2020-01-17T08:00:00.250Z\"");
    assert!(market.contains(".250Z"), "the shipped market's as_of moved");
    let market = scratch("market_ms.json", &market);
    let v = calibrate_json(HISTORY, &market, &[]);
    assert_eq!(v["as_of"], "2020-01-17T08:00:00.250Z");
}

/// `tailrisk calibrate --format json` of a history and market with `extra` flags; must succeed.
fn calibrate_json(history: &str, market: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "calibrate",
        "--history",
        history,
        "--market",
        market,
        "--format",
        "json",
    ];
    args.extend(extra);
    json_of(&args).0
}

/// `run` on the shipped history, market and book.
const HISTORY_RUN: [&str; 7] = [
    "run",
    "--history",
    HISTORY,
    "--market",
    MARKET,
    "--portfolio",
    PORTFOLIO,
];

/// The JSON tailrisk writes to stdout for `args`, and its stderr; the command must succeed.
fn json_of(args: &[&str]) -> (serde_json::Value, String) {
    let o = tailrisk(args);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    (serde_json::from_slice(&o.stdout).unwrap(), stderr)
}

/// z = r_t/σ_{t−1} is undefined where an asset's EWMA vol is still 0 (its first returns all
/// 0): fitting ν there is an input error naming the asset and the return's date, not a fit
/// that quietly leaves those days out; a configured ν needs no fit and runs.
#[test]
fn fitting_nu_over_a_zero_ewma_vol_is_an_input_error() {
    let start = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap();
    let mut csv = String::from("date,BTC,ETH\n");
    for i in 0..90 {
        let d = start + chrono::Duration::days(i);
        // BTC stands at 4000 for the first 8 rows (7 zero returns), then moves.
        let btc = if i < 8 {
            4000.0
        } else {
            4000.0 + (i % 7) as f64 * 10.0
        };
        csv += &format!("{d},{btc},{}\n", 130.0 + (i % 5) as f64);
    }
    let history = scratch("still.csv", &csv);
    let config = |body: &str| scratch("still_config.json", body);
    let seed5 = config(r#"{"calibration": {"seed_returns": 5}}"#);
    let o = tailrisk(&[
        "calibrate",
        "--history",
        &history,
        "--market",
        MARKET,
        "--config",
        &seed5,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{err}");
    for want in [
        "still.csv",
        "column BTC, return of 2019-01-07",
        "EWMA vol 0",
    ] {
        assert!(err.contains(want), "wanted {want:?} in {err}");
    }
    let given = config(r#"{"calibration": {"seed_returns": 5}, "student_t_dof": 4}"#);
    let v = calibrate_json(&history, MARKET, &["--config", &given]);
    assert_eq!(v["student_t_dof"], 4);
}

/// SPEC §10: with hs or fhs, `--paths`, `--steps` and `--seed` are ignored (with a warning):
/// the report is the one without them, `run` naming no value that never ran.
#[test]
fn historical_methods_ignore_paths_steps_and_seed() {
    for method in ["hs", "fhs"] {
        let run = |extra: &[&str]| {
            let mut args = HISTORY_RUN.to_vec();
            args.extend(["--backend", "cpu", "--method", method, "--format", "json"]);
            args.extend(extra);
            let (mut v, stderr) = json_of(&args);
            v["run"]["seconds"] = serde_json::Value::Null;
            (v, stderr)
        };
        let (plain, quiet) = run(&[]);
        let (flagged, warned) = run(&["--paths", "5000", "--steps", "4", "--seed", "7"]);
        assert!(!quiet.contains("do not apply") && warned.contains("do not apply"));
        assert_eq!(flagged, plain, "{method}");
        assert_eq!(plain["run"]["paths"], 787);
    }
}
