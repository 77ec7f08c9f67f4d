//! Explicit scenario tables (historical scenarios) through each backend's own revalue,
//! aggregate and tail stages: exact order statistics on a linear book, the Monte Carlo
//! tails again from the Monte Carlo states, and chunk independence.

mod common;

use tailrisk::engine::{AssetState, Backend, SimulationPlan, TailEntry};
use tailrisk::model::historical::{HistoricalMethod, ScenarioTable};

use common::{book, config, f32_loss_error, gross_in_currency, one_asset_market, portfolio};

/// Daily log returns with repeats (ties across days) and a zero day, deterministic.
fn returns(n: usize) -> Vec<f64> {
    (0..n)
        .map(|t| match t % 17 {
            3 | 11 => -0.0625, // the same loss on many days: ties broken by the earlier day
            5 => 0.0,
            k => 0.04 * ((k as f64 * 1.7 + t as f64 * 0.31).sin()),
        })
        .collect()
}

/// A long spot position of 2 BTC: its loss on a day is exactly −2·S₀·expm1(r·√D).
fn hs_of_a_linear_book_is_the_exact_order_statistic(backend: &dyn Backend) {
    let spot = 91250.0;
    let b = book(
        &one_asset_market("BTC", spot, 0.5),
        &portfolio(&[("a", "USD", vec![("BTC", 2.0)])]),
        &config(1000, 1, &[0.99]),
    );
    let (n, horizon) = (500, 2.0);
    let r = returns(n);
    let table = ScenarioTable::historical(HistoricalMethod::Hs, 1, &r, &[], &[], horizon).unwrap();
    let tail_len = 23;
    let got = backend.table_tails(&b, &table, tail_len, None).unwrap();
    let mut expected: Vec<TailEntry> = r
        .iter()
        .enumerate()
        .map(|(t, &x)| TailEntry {
            loss: -2.0 * spot * (x * horizon.sqrt()).exp_m1(),
            path: t as u32,
        })
        .collect();
    expected.sort_by(TailEntry::worse_first);
    expected.truncate(tail_len);
    // f64: the same arithmetic, exact. f32 backends: within the stated per-path bound (the
    // ties are exact ties in f32 too, so the order is the same).
    let tol = f32_loss_error(backend, gross_in_currency(&b, 0));
    assert_eq!(got[0].worst.len(), tail_len);
    for (g, e) in got[0].worst.iter().zip(&expected) {
        assert_eq!(g.path, e.path, "{g:?} vs {e:?}");
        assert!((g.loss - e.loss).abs() <= tol, "{g:?} vs {e:?} (tol {tol})");
    }
}

/// The Monte Carlo states of paths 0..N as a table give the Monte Carlo tails again: on the
/// f64 reference bit for bit (the same arithmetic on the same states), elsewhere within the
/// f32 bound (the table's states are the reference's, the device's own differ by rounding).
fn monte_carlo_states_as_a_table_give_the_monte_carlo_tails(backend: &dyn Backend) {
    let cfg = config(3000, 7, &[0.99]);
    let b = book(
        &common::two_asset_market(),
        &portfolio(&[(
            "a",
            "USD",
            vec![
                ("BTC-25DEC26-100000-C", -3.0),
                ("BTC-PERPETUAL", 40000.0),
                ("ETH", 12.0),
            ],
        )]),
        &cfg,
    );
    let reference = tailrisk::engine::cpu::CpuBackend::new();
    let paths: Vec<u32> = (0..cfg.paths as u32).collect();
    let states: Vec<AssetState> = reference
        .revalue_paths(&b, cfg.seed, &paths)
        .unwrap()
        .states;
    let table = ScenarioTable::new(b.assets.len(), states);
    let tail_len = 40;
    let plan = SimulationPlan {
        paths: cfg.paths,
        first_path: 0,
        seed: cfg.seed,
        tail_len,
        chunk_paths: None,
    };
    let mc = reference.tails(&b, &plan, &|_| {}).unwrap();
    let got = backend
        .table_tails(&b, &table, tail_len, Some(1000))
        .unwrap();
    let tol = f32_loss_error(backend, gross_in_currency(&b, 0));
    if tol == 0.0 {
        assert_eq!(got, mc);
    }
    let var = |t: &tailrisk::engine::AccountTail| t.worst[tail_len - 1].loss;
    let es = |t: &tailrisk::engine::AccountTail| {
        t.worst.iter().map(|e| e.loss).sum::<f64>() / tail_len as f64
    };
    // Order statistics are 1-Lipschitz in the sup norm over paths.
    assert!((var(&got[0]) - var(&mc[0])).abs() <= tol);
    assert!((es(&got[0]) - es(&mc[0])).abs() <= tol);
}

/// Any chunking gives the same bits (the tail order is total).
fn table_tails_do_not_depend_on_chunks(backend: &dyn Backend) {
    let b = book(
        &one_asset_market("ETH", 3050.0, 0.6),
        &portfolio(&[
            (
                "a",
                "USD",
                vec![("ETH-25DEC26-3000-P", 10.0), ("ETH", -4.0)],
            ),
            ("b", "ETH", vec![("ETH-PERPETUAL", 5000.0)]),
        ]),
        &config(1000, 1, &[0.99]),
    );
    let r = returns(777);
    let sigma: Vec<f64> = (0..=r.len())
        .map(|t| 0.03 + 0.01 * (t as f64 * 0.05).cos())
        .collect();
    let table =
        ScenarioTable::historical(HistoricalMethod::Fhs, 1, &r, &sigma, &[0.025], 1.0).unwrap();
    let whole = backend.table_tails(&b, &table, 9, None).unwrap();
    for chunk in [1, 7, 256, 5000] {
        assert_eq!(
            backend.table_tails(&b, &table, 9, Some(chunk)).unwrap(),
            whole
        );
    }
}

on_every_backend!(
    hs_of_a_linear_book_is_the_exact_order_statistic,
    monte_carlo_states_as_a_table_give_the_monte_carlo_tails,
    table_tails_do_not_depend_on_chunks,
    hs_run_of_a_linear_book_gives_exact_order_statistics,
);

// ---- Whole runs over historical scenarios. ----

use std::sync::Arc;
use tailrisk::run::{HistoricalScenarios, ScenarioSource, TAIL_ENTRY_BUDGET, simulate_source};

fn history(method: HistoricalMethod, n: usize) -> HistoricalScenarios {
    let r = returns(n);
    HistoricalScenarios {
        method,
        symbols: vec!["ETH".into(), "BTC".into()],
        // ETH moves half as much as BTC, in the opposite direction on odd days.
        returns: r
            .iter()
            .enumerate()
            .map(|(t, &x)| vec![if t % 2 == 0 { 0.5 * x } else { -0.5 * x }, x])
            .collect(),
        sigma: (0..=n)
            .map(|t| vec![0.02 + 0.001 * (t % 7) as f64, 0.03 + 0.002 * (t % 5) as f64])
            .collect(),
        vol_used: vec![0.6, 0.5],
        dates: (0..n).map(|t| format!("day {t}")).collect(),
        file: "h.csv".into(),
    }
}

/// hs VaR and ES of a linear book (BTC spot and an ETH perpetual) are the exact order
/// statistics of its losses over the n days, computed here: k = ⌈n(1 − α)⌉, VaR the k-th
/// largest loss, ES the mean of the k largest; components sum to ES.
fn hs_run_of_a_linear_book_gives_exact_order_statistics(backend: &dyn Backend) {
    let cfg = config(1, 1, &[0.99, 0.975]);
    let b = book(
        &common::two_asset_market(),
        &portfolio(&[("a", "USD", vec![("BTC", 3.0), ("ETH-PERPETUAL", -20000.0)])]),
        &cfg,
    );
    let btc = 91250.0;
    let h = history(HistoricalMethod::Hs, 999);
    let table = h.table(&b, cfg.horizon_days).unwrap();
    let sim = simulate_source(
        b.clone(),
        &cfg,
        ScenarioSource::Table {
            method: HistoricalMethod::Hs,
            table: Arc::new(table),
        },
        backend,
        &|_| {},
        TAIL_ENTRY_BUDGET,
    )
    .unwrap();
    // Loss per day, by hand: spot −q·S₀·expm1(r); an inverse perpetual of USD size Q loses
    // −Q·expm1(r) (its P&L per unit is expm1(r) in USD, SPEC §3).
    let mut losses: Vec<f64> = h
        .returns
        .iter()
        .map(|r| -3.0 * btc * r[1].exp_m1() - (-20000.0) * r[0].exp_m1())
        .collect();
    losses.sort_by(|a, b| b.total_cmp(a));
    let gross = gross_in_currency(&sim.book, 0);
    let tol = f32_loss_error(backend, gross) + 1e-9 * gross;
    for m in &sim.accounts[0].measures {
        let k = (999.0 * (1.0 - m.confidence)).ceil() as usize;
        let es = losses[..k].iter().sum::<f64>() / k as f64;
        assert!(
            (m.var - losses[k - 1]).abs() <= tol,
            "{m:?} vs {}",
            losses[k - 1]
        );
        assert!((m.es - es).abs() <= tol, "{m:?} vs {es}");
        // The intervals as for n paths: VaR between the order statistics k ± ⌈1.96·√(nα(1−α))⌉;
        // ES ± 1.96·√((s² + α(ES − VaR)²)/(n(1 − α))), s² the sample variance of the k losses.
        let (n, a) = (999.0, m.confidence);
        let z = 1.959_963_984_540_054;
        let half = (z * (n * a * (1.0 - a)).sqrt()).ceil() as usize;
        let (lo, hi) = (k.saturating_sub(half).max(1), (k + half).min(999));
        assert!((m.var_ci[0] - losses[hi - 1]).abs() <= tol, "{m:?}");
        assert!((m.var_ci[1] - losses[lo - 1]).abs() <= tol, "{m:?}");
        let s2 = losses[..k].iter().map(|l| (l - es).powi(2)).sum::<f64>() / (k - 1) as f64;
        let width = z * ((s2 + a * (es - losses[k - 1]).powi(2)) / (n * (1.0 - a))).sqrt();
        // Centre and width each move by at most a few loss errors (s² is a mean of squares).
        let slack = 3.0 * tol + 1e-9 * width;
        assert!((m.es_ci[0] - (es - width)).abs() <= slack, "{m:?}");
        assert!((m.es_ci[1] - (es + width)).abs() <= slack, "{m:?}");
    }
    let a = &sim.accounts[0];
    let sum: f64 = a.components.iter().sum();
    assert!(
        (sum - a.margin_es.es).abs() <= tol,
        "{sum} vs {}",
        a.margin_es.es
    );
    assert_eq!(sim.plan.paths, 999);
}

// ---- hs and fhs through the command line, on the shipped Bitstamp history. ----

const HISTORY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/bitstamp_daily_close.csv"
);
const MARKET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/history/market_2020-01-17.json"
);

/// The BTC and ETH returns of the shipped history up to 2020-01-17, read by hand.
fn shipped_returns() -> Vec<[f64; 2]> {
    let text = std::fs::read_to_string(HISTORY).expect("shipped history");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |s: &str| header.iter().position(|h| *h == s).expect("column");
    let (btc, eth) = (col("BTC"), col("ETH"));
    let prices: Vec<[f64; 2]> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[0] <= "2020-01-17" && !c[btc].is_empty() && !c[eth].is_empty())
        .map(|c| [c[btc].parse().unwrap(), c[eth].parse().unwrap()])
        .collect();
    prices
        .windows(2)
        .map(|w| [(w[1][0] / w[0][0]).ln(), (w[1][1] / w[0][1]).ln()])
        .collect()
}

/// `tailrisk run` on a spot book of 2 BTC and −30 ETH with the shipped history, as JSON.
fn run_linear(method: &str, backend: &str) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!(
        "tailrisk-hs-{}-{method}-{backend}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let book = dir.join("book.json");
    std::fs::write(
        &book,
        r#"{"accounts":[{"id":"spot","positions":[{"instrument":"BTC","quantity":2},
           {"instrument":"ETH","quantity":-30}]}]}"#,
    )
    .unwrap();
    let config = dir.join("config.json");
    std::fs::write(&config, r#"{"confidence":[0.99,0.975],"horizon_days":2}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args([
            "run",
            "--history",
            HISTORY,
            "--market",
            MARKET,
            "--method",
            method,
        ])
        .args(["--backend", backend, "--format", "json", "--portfolio"])
        .arg(&book)
        .arg("--config")
        .arg(&config)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// Checks VaR and ES of the linear book against the order statistics of `losses`.
fn check_order_statistics(report: &serde_json::Value, mut losses: Vec<f64>, tol: f64) {
    let n = losses.len();
    assert_eq!(report["run"]["paths"], n as u64);
    losses.sort_by(|a, b| b.total_cmp(a));
    for m in report["accounts"][0]["measures"].as_array().unwrap() {
        let alpha = m["confidence"].as_f64().unwrap();
        let k = (n as f64 * (1.0 - alpha)).ceil() as usize;
        let es = losses[..k].iter().sum::<f64>() / k as f64;
        let (var_got, es_got) = (m["var"].as_f64().unwrap(), m["es"].as_f64().unwrap());
        assert!(
            (var_got - losses[k - 1]).abs() <= tol,
            "α {alpha}: {var_got} vs {}",
            losses[k - 1]
        );
        assert!((es_got - es).abs() <= tol, "α {alpha}: {es_got} vs {es}");
    }
}

/// The spot book's loss on a day with BTC and ETH log moves (x, y).
fn spot_loss(x: f64, y: f64) -> f64 {
    let (btc, eth) = (8709.49, 164.52);
    -(2.0 * btc * x.exp_m1() - 30.0 * eth * y.exp_m1())
}

/// hs: VaR and ES are the order statistics of the 787 days' losses, r·√2 over two days.
#[test]
fn hs_on_the_shipped_history_is_the_order_statistic_of_its_days() {
    let losses: Vec<f64> = shipped_returns()
        .iter()
        .map(|r| spot_loss(r[0] * 2f64.sqrt(), r[1] * 2f64.sqrt()))
        .collect();
    let report = run_linear("hs", "cpu");
    assert_eq!(report["run"]["method"], "hs");
    // f64 reference: rounding only (the engine's expm1 forms against these).
    check_order_statistics(&report, losses.clone(), 1e-9 * 2.0 * 8709.49);
    // The GPU on the same days: within the f32 bound of the gross exposure.
    if common::test_backend().is_some() {
        let gross = 2.0 * 8709.49 + 30.0 * 164.52;
        let gpu = run_linear("hs", "gpu");
        check_order_statistics(&gpu, losses, common::F32_LOSS_PER_GROSS * gross);
    }
}

/// fhs: each day's return rescaled from the EWMA vol forecast for it to today's vol_used
/// (no APC tool: the EWMA vol itself), with an EWMA recursion written here (λ = 0.94,
/// 30 uncentred seed returns).
#[test]
fn fhs_on_the_shipped_history_rescales_each_day_to_todays_vol() {
    let r = shipped_returns();
    let (lambda, m) = (0.94, 30);
    let mut var = [0.0f64; 2];
    for x in &r[..m] {
        for a in 0..2 {
            var[a] += x[a] * x[a] / m as f64;
        }
    }
    let mut sigma = vec![[var[0].sqrt(), var[1].sqrt()]];
    for x in &r {
        for a in 0..2 {
            var[a] = lambda * var[a] + (1.0 - lambda) * x[a] * x[a];
        }
        sigma.push([var[0].sqrt(), var[1].sqrt()]);
    }
    let today = sigma[r.len()];
    let losses: Vec<f64> = r
        .iter()
        .enumerate()
        .map(|(t, x)| {
            let scaled = |a: usize| x[a] * today[a] / sigma[t][a] * 2f64.sqrt();
            spot_loss(scaled(0), scaled(1))
        })
        .collect();
    let report = run_linear("fhs", "cpu");
    assert_eq!(report["run"]["method"], "fhs");
    check_order_statistics(&report, losses, 1e-9 * 2.0 * 8709.49);
}

/// hs and fhs without a history are an input error naming the flag.
#[test]
fn historical_methods_need_a_history() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(["run", "--method", "fhs"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--method") && stderr.contains("--history"),
        "{stderr}"
    );
}
