//! The backtest's forecasts and realised losses against formulas written here (SPEC §11,
//! settled details 8–10): a spot book's daily Monte Carlo VaR and ES against the closed
//! form of the model's GBM, hs VaR and ES as exact order statistics, and the replay rules
//! (strikes reset to the day's moneyness, τ − 1 day, settlement at intrinsic, futures
//! opened at d_{t−1}, coin-margined losses).

mod backtest_support;

use serde_json::Value;

use backtest_support::{
    HISTORY, MARKET, Reference, backtest_json, black, close, normal_cdf, normal_quantile, path,
    scratch,
};

const S0_BTC: f64 = 8709.49;
const DAY: f64 = 1.0 / 365.0;

fn backtest(portfolio: &str, market: &str, extra: &[&str]) -> Value {
    static BOOKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let i = BOOKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let book = scratch(&format!("book-{i}.json"), portfolio);
    let history = path(HISTORY);
    let mut args = vec![
        "--history",
        &history,
        "--market",
        market,
        "--portfolio",
        &book,
    ];
    args.extend_from_slice(extra);
    backtest_json(&args)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn one_account(id: &str, currency: &str, positions: &str) -> String {
    format!(r#"{{"id":"{id}","margin_currency":"{currency}","positions":[{positions}]}}"#)
}

/// A long BTC spot position, normal shocks: ln(S_h/S₀) ~ N(−s²/2, s²), s = σ√h, σ the
/// EWMA vol of the returns before the day (SPEC §3, §9), so
/// VaR = qP(1 − e^{−s²/2 + s z}), ES = qP(1 − Φ(z − s)/p), z = Φ⁻¹(p), p = 1 − α.
#[test]
fn a_spot_books_monte_carlo_var_and_es_match_the_closed_form() {
    let (q, n, alpha) = (2.0, 20_000.0, 0.99);
    let book = format!(
        r#"{{"accounts":[{}]}}"#,
        one_account("spot", "USD", r#"{"instrument":"BTC","quantity":2}"#)
    );
    let config = scratch("normal.json", r#"{"student_t_dof": null}"#);
    let json = backtest(
        &book,
        &path(MARKET),
        &[
            "--config",
            &config,
            "--from",
            "2019-06-01",
            "--to",
            "2019-07-15",
        ],
    );
    let reference = Reference::read();
    let p = 1.0 - alpha;
    let z = normal_quantile(p);
    let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let days = json["accounts"][0]["days"].as_array().unwrap();
    assert_eq!(days.len(), 45);
    for d in days {
        let t = reference.t_of(d["date"].as_str().unwrap());
        let price = reference.closes[t - 1][0];
        let s = reference.ewma_vol(t - 1, 0) * DAY.sqrt();
        let x_q = -0.5 * s * s + s * z;
        let var = q * price * -x_q.exp_m1();
        let es = q * price * (1.0 - normal_cdf(z - s) / p);
        // Order statistic k = Np of N paths: sd of the quantile of X is
        // s·sqrt(p(1−p)/N)/φ(z), times dL/dX = qP·e^{x_q}; 4 sd.
        let var_sd = q * price * x_q.exp() * s * (p * (1.0 - p) / n).sqrt() / phi;
        // ES (asymptotic, losses ≈ −qP·X in the tail): with λ = φ(z)/p the tail of Z below
        // z has variance 1 − zλ − λ²; sd = qPs·sqrt((1 − zλ − λ² + α(λ + z)²)/(Np)); 4 sd.
        let lambda = phi / p;
        let tail_var = 1.0 - z * lambda - lambda * lambda + alpha * (lambda + z).powi(2);
        let es_sd = q * price * s * (tail_var / (n * p)).sqrt();
        assert!(
            (f(&d["var"]) - var).abs() <= 4.0 * var_sd,
            "{d}: VaR {var} ± {var_sd}"
        );
        assert!(
            (f(&d["es"]) - es).abs() <= 4.0 * es_sd,
            "{d}: ES {es} ± {es_sd}"
        );
        // Realised: q(P_{t−1} − P_t).
        let realised = q * (price - reference.closes[t][0]);
        assert!(
            close(f(&d["loss"]), realised, 1e-12, 1e-9),
            "{d} vs {realised}"
        );
    }
}

/// k = ⌈N(1 − α)⌉ with the SPEC §4 rounding rule.
fn tail_rank(n: usize, alpha: f64) -> usize {
    let x = n as f64 * (1.0 - alpha);
    let k = if (x - x.round()).abs() < 1e-9 {
        x.round()
    } else {
        x.ceil()
    };
    (k as usize).max(1)
}

/// hs on a linear book: day t's scenarios are returns 1..t−1 as they were, so its VaR is
/// the k-th largest of q·P_{t−1}·(1 − e^{r_s}) and its ES the mean of the k largest.
#[test]
fn hs_var_and_es_are_order_statistics_of_the_scaled_returns() {
    let q = 3.0;
    let book = format!(
        r#"{{"accounts":[{}]}}"#,
        one_account("spot", "USD", r#"{"instrument":"BTC","quantity":3}"#)
    );
    let json = backtest(
        &book,
        &path(MARKET),
        &[
            "--method",
            "hs",
            "--confidence",
            "0.975",
            "--from",
            "2018-11-10",
            "--to",
            "2018-12-10",
        ],
    );
    let reference = Reference::read();
    for d in json["accounts"][0]["days"].as_array().unwrap() {
        let t = reference.t_of(d["date"].as_str().unwrap());
        let price = reference.closes[t - 1][0];
        let mut losses: Vec<f64> = (1..t)
            .map(|s| -q * price * reference.r(s, 0).exp_m1())
            .collect();
        losses.sort_by(|a, b| b.total_cmp(a));
        let k = tail_rank(t - 1, 0.975);
        let es = losses[..k].iter().sum::<f64>() / k as f64;
        assert!(
            close(f(&d["var"]), losses[k - 1], 1e-12, 0.0),
            "{d}: {}",
            losses[k - 1]
        );
        assert!(close(f(&d["es"]), es, 1e-12, 0.0), "{d}: {es}");
        let realised = q * (price - reference.closes[t][0]);
        assert!(close(f(&d["loss"]), realised, 1e-12, 1e-9), "{d}");
    }
}

/// Each account holds one contract; its realised loss is written from the replay rules.
#[test]
fn the_replay_resets_strikes_rolls_a_day_and_settles_at_intrinsic() {
    let rate = 0.05;
    let market = std::fs::read_to_string(path(MARKET)).unwrap().replacen(
        r#""rate": 0.0"#,
        r#""rate": 0.05"#,
        1,
    );
    let market = scratch("market-rate.json", &market);
    let expiring = r#"{"instrument":{"kind":"option","underlying":"BTC","right":"call",
        "strike":8500,"expiry":"2020-01-17T20:00:00Z"},"quantity":1}"#;
    let accounts = [
        one_account("expiring-call", "USD", expiring),
        one_account(
            "short-put",
            "USD",
            r#"{"instrument":"BTC-31JAN20-8000-P","quantity":-2}"#,
        ),
        one_account(
            "future",
            "USD",
            r#"{"instrument":"BTC_USDC-27MAR20","quantity":3}"#,
        ),
        one_account(
            "inverse-perp",
            "USD",
            r#"{"instrument":"BTC-PERPETUAL","quantity":10000}"#,
        ),
        one_account(
            "coin-perp",
            "BTC",
            r#"{"instrument":"BTC_USDC-PERPETUAL","quantity":1}"#,
        ),
        one_account("coin-spot", "BTC", r#"{"instrument":"BTC","quantity":5}"#),
    ];
    let book = format!(r#"{{"accounts":[{}]}}"#, accounts.join(","));
    let json = backtest(
        &book,
        &market,
        &[
            "--method",
            "fhs",
            "--from",
            "2019-05-08",
            "--to",
            "2019-05-20",
        ],
    );
    let reference = Reference::read();
    let accounts = json["accounts"].as_array().unwrap();
    let loss_of = |account: usize, d: &Value| -> f64 {
        let t = reference.t_of(d["date"].as_str().unwrap());
        let (p0, p1) = (reference.closes[t - 1][0], reference.closes[t][0]);
        let (v0, v1) = (reference.ewma_vol(t - 1, 0), reference.ewma_vol(t, 0));
        let ratio = p0 / S0_BTC;
        // Black-76 with carry: e^{−rτ}·B(F = P e^{rτ}).
        let option = |call: bool, p: f64, k: f64, vol: f64, tau: f64| {
            (-rate * tau).exp() * black(call, p * (rate * tau).exp(), k, vol, tau)
        };
        match account {
            0 => {
                let (k, tau) = (8500.0 * ratio, 0.5 * DAY);
                option(true, p0, k, v0, tau) - (p1 - k).max(0.0)
            }
            1 => {
                let (k, tau) = (8000.0 * ratio, 14.0 * DAY);
                -2.0 * (option(false, p0, k, v0, tau) - option(false, p1, k, v1, tau - DAY))
            }
            2 => {
                let tau = 70.0 * DAY;
                -3.0 * (p1 * (rate * (tau - DAY)).exp() - p0 * (rate * tau).exp())
            }
            3 => -10_000.0 * (p1 / p0 - 1.0),
            4 => -(p1 - p0) / p1,
            _ => 0.0,
        }
    };
    for (i, account) in accounts.iter().enumerate() {
        let days = account["days"].as_array().unwrap();
        assert_eq!(days.len(), 13);
        for d in days {
            let want = loss_of(i, d);
            assert!(
                close(f(&d["loss"]), want, 1e-9, 1e-9),
                "{}: {d} vs {want}",
                account["id"]
            );
        }
    }
    // Coin held in a coin-margined account has no coin risk: zero loss and, to rounding
    // of V₀/S₀·expm1(−r) − V₁/S₁ on every scenario, zero VaR.
    for d in accounts[5]["days"].as_array().unwrap() {
        assert!(
            f(&d["var"]).abs() < 1e-12 && f(&d["loss"]).abs() < 1e-12,
            "{d}"
        );
    }
}

/// The buffer tool scales initial margin by 1 + buffer and changes nothing else.
#[test]
fn the_apc_buffer_scales_initial_margin_only() {
    let book = std::fs::read_to_string(path(backtest_support::BOOK)).unwrap();
    let none = scratch("none.json", "{}");
    let buffer = scratch(
        "buffer.json",
        r#"{"margin":{"apc":{"tool":"buffer","buffer":0.5}}}"#,
    );
    let args = [
        "--method",
        "hs",
        "--from",
        "2019-09-01",
        "--to",
        "2019-09-30",
        "--config",
    ];
    let plain = backtest(
        &book,
        &path(MARKET),
        &[&args[..], &[none.as_str()]].concat(),
    );
    let buffered = backtest(
        &book,
        &path(MARKET),
        &[&args[..], &[buffer.as_str()]].concat(),
    );
    for (a, b) in plain["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(buffered["accounts"].as_array().unwrap())
    {
        for (x, y) in a["days"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["days"].as_array().unwrap())
        {
            for key in ["var", "es", "loss"] {
                assert_eq!(x[key], y[key]);
            }
            assert!(
                close(f(&y["initial"]), 1.5 * f(&x["initial"]), 1e-12, 0.0),
                "{x} {y}"
            );
        }
    }
}
