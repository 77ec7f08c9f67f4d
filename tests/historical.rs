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
