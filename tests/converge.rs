//! `tailrisk converge`: each point is `run` at that path count, figure for figure; the ES
//! interval's half-width is the closed form's 1.96·σ_ES(N) on a GBM spot position at every
//! count (so it shrinks as 1/√N); the paths a precision needs follow from the largest
//! count; the plot is an SVG; flags that do not apply are usage errors.

mod common;

use std::process::Command;

use serde_json::Value;
use tailrisk::converge::{TARGET_PRECISIONS, converge, path_counts};
use tailrisk::engine::cpu::CpuBackend;
use tailrisk::pricing::norm_cdf;

const BIN: &str = env!("CARGO_BIN_EXE_tailrisk");

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["--backend", "cpu"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(args: &[&str]) -> Value {
    let (code, stdout, stderr) = cli(args);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[test]
fn path_counts_are_decades_then_the_largest() {
    assert_eq!(path_counts(500), [500]);
    assert_eq!(path_counts(1_000), [1_000]);
    assert_eq!(path_counts(20_000), [1_000, 10_000, 20_000]);
    assert_eq!(
        path_counts(10_000_000),
        [1_000, 10_000, 100_000, 1_000_000, 10_000_000]
    );
}

/// The sample book: every point's VaR, ES and intervals are `run --paths N`'s, bit for bit
/// (the same inputs and seed at each count), and the paths needed follow from the last point.
#[test]
fn every_point_is_run_at_that_path_count() {
    let study = json(&["converge", "--paths", "20000", "--format", "json"]);
    let points = study["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    for point in points {
        let n = point["paths"].as_u64().unwrap().to_string();
        let run = json(&["run", "--paths", &n, "--format", "json"]);
        for (got, want) in point["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .zip(run["accounts"].as_array().unwrap())
        {
            assert_eq!(got["id"], want["id"]);
            assert_eq!(got["currency"], want["currency"]);
            for (g, w) in got["measures"]
                .as_array()
                .unwrap()
                .iter()
                .zip(want["measures"].as_array().unwrap())
            {
                for key in ["confidence", "var", "es", "var_ci", "es_ci"] {
                    assert_eq!(g[key], w[key], "{n} paths, {} {key}", got["id"]);
                }
                let half = |ci: &Value| (ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap()) / 2.0;
                assert_eq!(g["es_half_width"].as_f64().unwrap(), half(&w["es_ci"]));
                assert_eq!(g["var_half_width"].as_f64().unwrap(), half(&w["var_ci"]));
            }
        }
    }
    let last = points.last().unwrap();
    let needed = study["needed"].as_array().unwrap();
    assert_eq!(needed.len(), 4 * 2, "four accounts, two confidences");
    for n in needed {
        let account = last["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == n["id"])
            .unwrap();
        let m = account["measures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["confidence"] == n["confidence"])
            .unwrap();
        let h = m["es_relative_half_width"].as_f64().unwrap();
        assert_eq!(n["es_relative_half_width"].as_f64().unwrap(), h);
        for (t, eps) in n["targets"]
            .as_array()
            .unwrap()
            .iter()
            .zip(TARGET_PRECISIONS)
        {
            let want = (20_000.0 * (h / eps).powi(2)).ceil() as u64;
            assert_eq!(t["paths"].as_u64().unwrap(), want);
        }
    }
}

/// One BTC under GBM: L = S₀(1 − e^r), r ~ N(−s²/2, s²). The closed-form σ_ES(N) (as in
/// tests/closed_form.rs) against the half-width the study reports at each count.
#[test]
fn the_es_interval_is_the_closed_forms_and_shrinks_as_one_over_root_n() {
    let (spot, vol, alpha) = (100.0, 0.8, 0.99);
    let config = common::config(1_000_000, 11, &[alpha]);
    let inputs = common::run_inputs(
        &common::one_asset_market("BTC", spot, vol),
        &common::portfolio(&[("spot", "USD", vec![("BTC", 1.0)])]),
        config,
        tailrisk::stress::ScenarioSet::built_in(),
    );
    let h = inputs.config.horizon_days / 365.0;
    let counts = [100_000, 1_000_000];
    let study = converge(&inputs, &counts, &CpuBackend::new(), &|_| {}).unwrap();

    let (mu, s, p) = (-0.5 * vol * vol * h, vol * h.sqrt(), 1.0 - alpha);
    let z = common::norm_quantile(p);
    let var = spot * (1.0 - (mu + s * z).exp());
    let m1 = (mu + 0.5 * s * s).exp() * norm_cdf(z - s) / p;
    let m2 = (2.0 * mu + 2.0 * s * s).exp() * norm_cdf(z - 2.0 * s) / p;
    let es = spot * (1.0 - m1);
    let tail_var = spot * spot * (m2 - m1 * m1);
    for point in &study.points {
        let n = point.paths as f64;
        let sigma_es = ((tail_var + alpha * (es - var).powi(2)) / (n * p)).sqrt();
        let got = point.accounts[0].measures[0].es_half_width;
        // The reported σ̂_ES comes from the k = N·p tail losses: its relative error is about
        // √(2/k) for a near-exponential tail excess (kurtosis 9); four of those.
        let k = n * p;
        let tolerance = 4.0 * (2.0 / k).sqrt();
        let ratio = got / (1.96 * sigma_es);
        assert!(
            (ratio - 1.0).abs() < tolerance,
            "{n} paths: half-width {got} vs closed form {} (ratio {ratio}, tolerance {tolerance})",
            1.96 * sigma_es
        );
    }
}

#[test]
fn the_plot_is_an_svg_with_every_account() {
    let dir = std::env::temp_dir().join(format!("tailrisk-converge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plot = dir.join("converge.svg");
    let (code, table, stderr) = cli(&[
        "converge",
        "--paths",
        "10000",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(table.contains("converge — seed 42"), "{table}");
    assert!(table.contains("10,000"), "{table}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
    for id in [
        "hedged-options",
        "pair-trade",
        "coin-margined",
        "vol-seller",
    ] {
        assert!(svg.contains(id), "{id} in the legend");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flags_that_do_not_apply_are_usage_errors() {
    for (args, says) in [
        (vec!["converge", "--report", "x.html"], "--report"),
        (
            vec![
                "converge",
                "--method",
                "fhs",
                "--history",
                "data/history/bitstamp_daily_close.csv",
            ],
            "Monte Carlo",
        ),
    ] {
        let (code, _, stderr) = cli(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    let (code, _, stderr) = cli(&["converge", "--paths", "0"]);
    assert_eq!(code, Some(65), "{stderr}");
    assert!(stderr.contains("--paths"), "{stderr}");
}
