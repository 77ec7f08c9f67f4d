//! `tailrisk backtest` (SPEC §11) through the real binary on the shipped Bitstamp history:
//! every statistic recomputed from the per-day JSON series by an independent implementation
//! written here, Basel's table, the JSON's shape, bad inputs and reproducibility.

mod backtest_support;

use serde_json::Value;

use backtest_support::{BOOK, HISTORY, MARKET, backtest_json, path, scratch, stderr, tailrisk};
use tailrisk::backtest::{BacktestDay, Zone, summarise};

fn inputs() -> Vec<String> {
    vec![
        "--history".into(),
        path(HISTORY),
        "--market".into(),
        path(MARKET),
        "--portfolio".into(),
        path(BOOK),
    ]
}

fn run(extra: &[&str]) -> Value {
    let mut args = inputs();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    backtest_json(&args)
}

/// ln Γ(s + n) for the series below, by the recurrence Γ(x + 1) = xΓ(x) from Γ(1/2) = √π
/// or Γ(1) = 1.
fn regularised_lower_gamma(s: f64, x: f64) -> f64 {
    // P(s, x) = x^s e^{−x} Σ_{n≥0} x^n / Γ(s + n + 1) (Abramowitz & Stegun 6.5.29).
    let gamma_s = if s == 0.5 {
        std::f64::consts::PI.sqrt()
    } else {
        1.0
    };
    let mut term = 1.0 / (gamma_s * s); // 1/Γ(s + 1)
    let mut sum = term;
    for n in 1..10_000 {
        term *= x / (s + n as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    (s * x.ln() - x).exp() * sum
}

/// P[χ²(k) > x] for k = 1, 2 from the incomplete gamma series.
fn chi2_sf(k: u32, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    1.0 - regularised_lower_gamma(k as f64 / 2.0, x / 2.0)
}

/// x ln y with 0 ln 0 = 0.
fn xlny(x: f64, y: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x * y.ln() }
}

/// P[Binomial(n, p) ≤ x] from ln C(n, j) summed as logs.
fn binomial_cdf(x: usize, n: usize, p: f64) -> f64 {
    (0..=x.min(n))
        .map(|j| {
            let ln_choose: f64 = (0..j)
                .map(|i| ((n - i) as f64).ln() - ((i + 1) as f64).ln())
                .sum();
            (ln_choose + xlny(j as f64, p) + xlny((n - j) as f64, 1.0 - p)).exp()
        })
        .sum()
}

fn near(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        "{what}: engine {a} vs test {b}"
    );
}

fn near_opt(a: &Value, b: Option<f64>, what: &str) {
    match b {
        None => assert!(a.is_null(), "{what}: engine {a} vs test null"),
        Some(b) => near(a.as_f64().expect(what), b, what),
    }
}

/// Every statistic of an account's summary from its days, as SPEC §11 writes it.
fn check_summary(account: &Value, alpha: f64) {
    let days = account["days"].as_array().unwrap();
    let s = &account["summary"];
    let id = account["id"].as_str().unwrap();
    let hit: Vec<bool> = days
        .iter()
        .map(|d| {
            let exception = d["loss"].as_f64().unwrap() > d["var"].as_f64().unwrap();
            assert_eq!(d["exception"].as_bool(), Some(exception), "{id} {d}");
            exception
        })
        .collect();
    let t = hit.len() as f64;
    let x = hit.iter().filter(|&&h| h).count() as f64;
    let p = 1.0 - alpha;
    assert_eq!(s["days"].as_u64(), Some(days.len() as u64));
    assert_eq!(s["exceptions"].as_f64(), Some(x));
    near(s["expected"].as_f64().unwrap(), t * p, "expected");

    let xh = x / t;
    let lr_uc = (-2.0 * (xlny(t - x, 1.0 - p) + xlny(x, p))
        + 2.0 * (xlny(t - x, 1.0 - xh) + xlny(x, xh)))
    .max(0.0);
    near(s["kupiec"]["lr"].as_f64().unwrap(), lr_uc, "LR_uc");
    near(
        s["kupiec"]["p_value"].as_f64().unwrap(),
        chi2_sf(1, lr_uc),
        "p_uc",
    );

    let mut n = [[0.0f64; 2]; 2];
    for w in hit.windows(2) {
        n[w[0] as usize][w[1] as usize] += 1.0;
    }
    let frac = |a: f64, b: f64| if a + b == 0.0 { 0.0 } else { b / (a + b) };
    let (p01, p11) = (frac(n[0][0], n[0][1]), frac(n[1][0], n[1][1]));
    let pi = frac(n[0][0] + n[1][0], n[0][1] + n[1][1]);
    let lr_ind = (-2.0 * (xlny(n[0][0] + n[1][0], 1.0 - pi) + xlny(n[0][1] + n[1][1], pi))
        + 2.0
            * (xlny(n[0][0], 1.0 - p01)
                + xlny(n[0][1], p01)
                + xlny(n[1][0], 1.0 - p11)
                + xlny(n[1][1], p11)))
    .max(0.0);
    let c = &s["christoffersen"];
    near(c["lr_ind"].as_f64().unwrap(), lr_ind, "LR_ind");
    near(c["p_ind"].as_f64().unwrap(), chi2_sf(1, lr_ind), "p_ind");
    near(c["lr_cc"].as_f64().unwrap(), lr_uc + lr_ind, "LR_cc");
    near(
        c["p_cc"].as_f64().unwrap(),
        chi2_sf(2, lr_uc + lr_ind),
        "p_cc",
    );

    let window = hit.len().min(250);
    let x250 = hit[hit.len() - window..].iter().filter(|&&h| h).count();
    let cdf = binomial_cdf(x250, window, p);
    let zone = if cdf < 0.95 {
        "green"
    } else if cdf < 0.9999 {
        "yellow"
    } else {
        "red"
    };
    assert_eq!(s["traffic_light"]["zone"].as_str(), Some(zone), "{id}");
    assert_eq!(
        s["traffic_light"]["exceptions_250"].as_u64(),
        Some(x250 as u64)
    );

    let field = |k: &str| -> Vec<f64> { days.iter().map(|d| d[k].as_f64().unwrap()).collect() };
    let (loss, es, im) = (field("loss"), field("es"), field("initial"));
    let ratio_sum: f64 = (0..hit.len())
        .filter(|&i| hit[i])
        .map(|i| loss[i] / es[i])
        .sum();
    near_opt(&s["es_test"]["z2"], Some(1.0 - ratio_sum / (t * p)), "Z2");

    let proc_ = &s["procyclicality"];
    let max = im.iter().cloned().fold(f64::MIN, f64::max);
    let min = im.iter().cloned().fold(f64::MAX, f64::min);
    near_opt(&proc_["peak_to_trough"], Some(max / min), "peak_to_trough");
    for (lag, key) in [(5, "max_increase_5d"), (30, "max_increase_30d")] {
        let rise = (lag..im.len())
            .map(|i| im[i] / im[i - lag] - 1.0)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        near_opt(&proc_[key], rise, key);
    }
}

#[test]
fn every_statistic_is_recomputed_from_the_daily_series() {
    // hs over the whole history (537 days), and mc at 97.5 % over a stretch of 2019.
    for (json, alpha) in [
        (run(&["--method", "hs"]), 0.99),
        (
            run(&[
                "--paths",
                "4000",
                "--confidence",
                "0.975",
                "--from",
                "2019-03-01",
                "--to",
                "2019-08-31",
            ]),
            0.975,
        ),
    ] {
        let accounts = json["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 4);
        for a in accounts {
            check_summary(a, alpha);
        }
        assert_eq!(json["run"]["confidence"].as_f64(), Some(alpha));
    }
}

#[test]
fn the_json_has_the_fields_of_the_spec() {
    let json = run(&["--method", "fhs", "--window", "500", "--to", "2019-06-30"]);
    let r = &json["run"];
    for key in [
        "method",
        "window",
        "confidence",
        "paths",
        "seed",
        "horizon_days",
        "steps",
        "backend",
        "device",
        "precision",
        "version",
        "seconds",
    ] {
        assert!(!r[key].is_null(), "run.{key} missing: {r}");
    }
    assert_eq!(r["method"], "fhs");
    assert_eq!(r["window"], 500);
    assert_eq!(r["horizon_days"], 1.0);
    let a = &json["accounts"][2];
    assert_eq!(a["id"], "coin-margined");
    assert_eq!(a["currency"], "BTC");
    let day = a["days"][0].as_object().unwrap();
    let mut keys: Vec<&str> = day.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["date", "es", "exception", "initial", "loss", "var"]);
    // Day 1 is return 501 (window 500), the last 2019-06-30.
    let days = a["days"].as_array().unwrap();
    let reference = backtest_support::Reference::read();
    assert_eq!(days[0]["date"], reference.dates[501].as_str());
    assert_eq!(days[days.len() - 1]["date"], "2019-06-30");
    let summary = a["summary"].as_object().unwrap();
    let mut keys: Vec<&str> = summary.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "christoffersen",
            "days",
            "es_test",
            "exceptions",
            "expected",
            "kupiec",
            "procyclicality",
            "traffic_light"
        ]
    );
    for d in days {
        let (var, es) = (d["var"].as_f64().unwrap(), d["es"].as_f64().unwrap());
        assert!(es >= var && d["initial"].as_f64().unwrap() >= es, "{d}");
    }
}

/// Basel's table at 99 % over 250 days, through the library's summary of a daily series.
#[test]
fn basel_traffic_light_table() {
    for (exceptions, zone) in [
        (0, Zone::Green),
        (4, Zone::Green),
        (5, Zone::Yellow),
        (9, Zone::Yellow),
        (10, Zone::Red),
    ] {
        // 300 days: the first 50 (outside the window) all exceptions, which must not count.
        let days: Vec<BacktestDay> = (0..300)
            .map(|i| {
                let exception = i < 50 + exceptions;
                BacktestDay {
                    date: format!("day {i}"),
                    var: 1.0,
                    es: 1.5,
                    initial: 2.0,
                    loss: if exception { 2.0 } else { 0.0 },
                    exception,
                }
            })
            .collect();
        let s = summarise(&days, 0.01);
        assert_eq!(s.traffic_light.zone, zone, "{exceptions} exceptions");
        assert_eq!(s.traffic_light.exceptions_250, exceptions);
        assert_eq!(s.exceptions, 50 + exceptions);
    }
}

#[test]
fn a_shorter_selection_gives_the_same_days() {
    // Days are independent of the selection (each calibrates on all returns before it):
    // the days of a short run equal the same days of a longer one, bit for bit.
    let long = run(&[
        "--method",
        "fhs",
        "--from",
        "2019-01-01",
        "--to",
        "2019-02-15",
    ]);
    let short = run(&[
        "--method",
        "fhs",
        "--from",
        "2019-02-01",
        "--to",
        "2019-02-10",
    ]);
    for (l, s) in long["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(short["accounts"].as_array().unwrap())
    {
        let l_days = l["days"].as_array().unwrap();
        let s_days = s["days"].as_array().unwrap();
        assert_eq!(s_days.len(), 10);
        let start = l_days
            .iter()
            .position(|d| d["date"] == "2019-02-01")
            .unwrap();
        assert_eq!(&l_days[start..start + 10], s_days.as_slice());
    }
}

/// SPEC §9, settled detail 5: a configuration that sets `student_t_dof` (null included)
/// keeps it every day, and the report's `run.calibration` says so; absent, the fitted ν.
#[test]
fn a_configured_nu_is_the_reported_nu() {
    let window = [
        "--method",
        "mc",
        "--paths",
        "2000",
        "--from",
        "2019-12-01",
        "--to",
        "2019-12-05",
    ];
    let fitted = run(&window)["run"]["calibration"]["student_t_dof"].clone();
    assert!(fitted.is_u64(), "{fitted}");
    for (body, want) in [
        (r#"{"student_t_dof": 5}"#, Value::from(5)),
        (r#"{"student_t_dof": null}"#, Value::Null),
    ] {
        let config = scratch("dof.json", body);
        let mut args = window.to_vec();
        args.extend(["--config", &config]);
        assert_eq!(
            run(&args)["run"]["calibration"]["student_t_dof"],
            want,
            "{body}"
        );
    }
}

#[test]
fn reruns_and_thread_counts_give_identical_figures() {
    let args = [
        "--paths",
        "3000",
        "--from",
        "2019-05-01",
        "--to",
        "2019-05-20",
    ];
    let mut one = args.to_vec();
    one.extend(["--threads", "1"]);
    let mut two = args.to_vec();
    two.extend(["--threads", "2", "--chunk-paths", "700"]);
    let a = run(&one);
    let b = run(&two);
    let c = run(&one);
    assert_eq!(a["accounts"], b["accounts"]);
    assert_eq!(a["accounts"], c["accounts"]);
    assert_eq!(a["run"]["calibration"], b["run"]["calibration"]);
}

fn rejected(extra: &[&str], code: i32, wants: &[&str]) {
    let mut args: Vec<String> = vec!["backtest".into(), "--backend".into(), "cpu".into()];
    args.extend(inputs());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tailrisk(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{extra:?}: {err}");
    assert!(out.stdout.is_empty());
    for w in wants {
        assert!(err.contains(w), "{extra:?}: {w:?} not in {err}");
    }
}

#[test]
fn bad_inputs_exit_with_the_spec_codes() {
    rejected(&["--window", "59"], 65, &["--window", "59", "at least 60"]);
    rejected(
        &["--window", "787"],
        65,
        &["--window", "787", "787 returns"],
    );
    rejected(
        &["--from", "2019-06-01", "--to", "2019-05-01"],
        65,
        &["--from", "2019-06-01", "after --to 2019-05-01"],
    );
    rejected(
        &["--from", "2020-02-01"],
        65,
        &["--from/--to", "selects no day", "2018-07-18", "2020-01-17"],
    );
    rejected(&["--confidence", "1.5"], 65, &["--confidence", "1.5"]);
    rejected(&["--paths", "0"], 65, &["--paths"]);
    rejected(&["--from", "2019-13-01"], 2, &["YYYY-MM-DD"]);
    rejected(&["--window", "-3"], 2, &["-3"]);
    let config = scratch(
        "apc.json",
        r#"{"margin": {"apc": {"tool": "buffer", "buffer": 2}}}"#,
    );
    rejected(&["--config", &config], 65, &["buffer"]);
    let out = tailrisk(&[
        "backtest",
        "--history",
        "/nonexistent/history.csv",
        "--market",
        &path(MARKET),
        "--portfolio",
        &path(BOOK),
    ]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    let out = tailrisk(&[
        "backtest",
        "--market",
        &path(MARKET),
        "--portfolio",
        &path(BOOK),
    ]);
    assert_eq!(out.status.code(), Some(2), "--history is required");
}

#[test]
fn table_output_and_output_file() {
    let file = scratch("report.json", "old");
    let mut args: Vec<String> = vec!["backtest".into(), "--backend".into(), "cpu".into()];
    args.extend(inputs());
    let common = args.clone();
    args.extend(["--method", "hs", "--format", "json", "-o", &file].map(String::from));
    let out = tailrisk(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["run"]["method"], "hs");
    let mut table = common;
    table.extend(["--method", "hs"].map(String::from));
    let out = tailrisk(&table.iter().map(String::as_str).collect::<Vec<_>>());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "backtest",
        "Kupiec",
        "Christoffersen",
        "traffic light",
        "Z2",
        "vol-seller",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
}

/// The GPU backend (lavapipe counts) forecasts within f32 rounding of the f64 reference;
/// the realised losses are the reference's on every backend, so they are identical.
#[test]
fn gpu_backtest_agrees_with_the_cpu_reference() {
    let mut args: Vec<String> = vec!["backtest".into(), "--backend".into(), "gpu".into()];
    args.extend(inputs());
    let window = [
        "--method",
        "fhs",
        "--from",
        "2019-05-01",
        "--to",
        "2019-05-15",
    ];
    args.extend(window.map(String::from));
    args.extend(["--format", "json"].map(String::from));
    let out = tailrisk(&args.iter().map(String::as_str).collect::<Vec<_>>());
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
    let gpu: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = run(&window);
    assert_eq!(gpu["run"]["backend"], "gpu");
    for (g, c) in gpu["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cpu["accounts"].as_array().unwrap())
    {
        for (gd, cd) in g["days"]
            .as_array()
            .unwrap()
            .iter()
            .zip(c["days"].as_array().unwrap())
        {
            assert_eq!(gd["loss"], cd["loss"]);
            // An order statistic moves by at most the largest per-scenario error: f32
            // revaluation is within ~1e-6 of gross exposure, far below 1e-3 of IM here.
            let scale = 1e-3 * cd["initial"].as_f64().unwrap();
            for key in ["var", "es", "initial"] {
                let (a, b) = (gd[key].as_f64().unwrap(), cd[key].as_f64().unwrap());
                assert!((a - b).abs() <= scale, "{} {key}: gpu {a} cpu {b}", g["id"]);
            }
        }
    }
}
