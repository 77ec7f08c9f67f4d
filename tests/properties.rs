//! Identities of the risk figures over random books (STYLE.md, nalgebra habit), written once
//! and run on every backend: ES ≥ VaR, monotone in confidence, exact scaling, components
//! summing to ES, a perfect hedge has zero risk; and reproducibility whatever the thread
//! count and chunk size.

#[macro_use]
mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use tailrisk::config::RunConfig;
use tailrisk::engine::Backend;

const INSTRUMENTS: &[&str] = &[
    "BTC",
    "BTC-PERPETUAL",
    "BTC_USDC-PERPETUAL",
    "BTC-25DEC26",
    "BTC_USDC-26MAR27",
    "BTC-25DEC26-90000-C",
    "BTC-25DEC26-90000-P",
    "BTC-27NOV26-100000-C",
    "BTC-21NOV26-91000-P",
    "ETH",
    "ETH-PERPETUAL",
    "ETH-25DEC26-3000-C",
    "ETH_USDC-26MAR27-2500-P",
    "ETH-27NOV26-3400-C",
];

/// A random account: 1–6 positions with quantities in ±[0.1, 50) (USD notional ×1000 for
/// inverse perpetuals and futures).
fn random_positions() -> impl Strategy<Value = Vec<(usize, f64)>> {
    prop::collection::vec((0..INSTRUMENTS.len(), 0.1f64..50.0, any::<bool>()), 1..6).prop_map(|v| {
        v.into_iter()
            .map(|(i, q, short)| {
                let notional =
                    INSTRUMENTS[i].ends_with("PERPETUAL") || INSTRUMENTS[i] == "BTC-25DEC26";
                let q = if notional { q * 1000.0 } else { q };
                (i, if short { -q } else { q })
            })
            .collect()
    })
}

fn named(positions: &[(usize, f64)], scale: f64) -> Vec<(&'static str, f64)> {
    positions
        .iter()
        .map(|&(i, q)| (INSTRUMENTS[i], q * scale))
        .collect()
}

/// Fixed-seed runner: few cases, since every case is a Monte Carlo run.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

fn risk_identities(backend: &dyn Backend) {
    let mut runner = runner(12);
    runner
        .run(&(random_positions(), any::<bool>()), |(positions, coin)| {
            let cfg = RunConfig {
                student_t_dof: Some(5),
                ..config(4_000, 3, &[0.95, 0.99, 0.995])
            };
            let ccy = if coin { "BTC" } else { "USD" };
            let base = named(&positions, 1.0);
            let doubled = named(&positions, 2.0);
            let mut hedge = base.clone();
            hedge.extend(named(&positions, -1.0));
            let p = portfolio(&[
                ("a", ccy, base),
                ("a2", ccy, doubled),
                ("hedged", ccy, hedge),
            ]);
            let b = book(&two_asset_market(), &p, &cfg);
            let gross = b.gross_exposure(0) / if coin { 91_250.0 } else { 1.0 };
            let sim = run(b, &cfg, backend);
            let (a, a2, hedged) = (&sim.accounts[0], &sim.accounts[1], &sim.accounts[2]);

            for w in a.measures.windows(2) {
                // Confidences ascend, so VaR and ES do not decrease.
                prop_assert!(w[0].var <= w[1].var && w[0].es <= w[1].es);
            }
            for (m, m2) in a.measures.iter().zip(&a2.measures) {
                prop_assert!(m.es >= m.var, "ES {} < VaR {}", m.es, m.var);
                // Doubling every quantity doubles every loss exactly (×2 is exact in binary
                // floating point, and the same paths are the tail).
                prop_assert_eq!(m2.var, 2.0 * m.var);
                prop_assert_eq!(m2.es, 2.0 * m.es);
                prop_assert_eq!(m2.var_ci, [2.0 * m.var_ci[0], 2.0 * m.var_ci[1]]);
            }
            // Components sum to ES: the same k paths, summed in another order; rounding
            // only, 1e-12 of the gross exposure (f64) or 1e-5 (f32 GPU).
            let tol = if backend.info().precision == tailrisk::engine::Precision::F64 {
                1e-12
            } else {
                1e-5
            } * gross;
            let sum: f64 = a.components.iter().sum();
            prop_assert!(
                (sum - a.margin_es.es).abs() <= tol,
                "Σ components {} vs ES {}",
                sum,
                a.margin_es.es
            );
            // A position and its exact hedge: every loss is exactly zero.
            for m in &hedged.measures {
                prop_assert_eq!((m.var, m.es), (0.0, 0.0));
            }
            Ok(())
        })
        .unwrap();
}

/// Same inputs and seed → bit-identical tails for any chunk size and thread count.
fn reproducible_across_chunks_and_threads(backend: &dyn Backend) {
    let p = portfolio(&[
        (
            "opts",
            "USD",
            vec![
                ("BTC-25DEC26-90000-C", -3.0),
                ("ETH-25DEC26-3000-C", 20.0),
                ("BTC-PERPETUAL", 150_000.0),
            ],
        ),
        (
            "coin",
            "BTC",
            vec![("BTC", 2.0), ("BTC-25DEC26", -90_000.0)],
        ),
    ]);
    let mut cfg = RunConfig {
        student_t_dof: Some(4),
        steps: 3,
        ..config(10_000, 99, &[0.99])
    };
    cfg.dynamics.insert(
        "BTC".into(),
        tailrisk::config::DynamicsInput {
            vol_of_vol: 1.2,
            vol_mean_reversion: 4.0,
            spot_vol_corr: -0.3,
            jump_intensity: 20.0,
            jump_mean: -0.05,
            jump_std: 0.1,
            ..Default::default()
        },
    );
    let b = book(&two_asset_market(), &p, &cfg);
    let tails = |chunk: Option<u32>, threads: usize| {
        let plan = tailrisk::run::plan(&RunConfig {
            chunk_paths: chunk,
            ..cfg.clone()
        });
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| backend.tails(&b, &plan, &|_| {}).unwrap())
    };
    let reference = tails(None, 2);
    assert_eq!(tails(Some(777), 1), reference, "chunk 777, 1 thread");
    assert_eq!(tails(Some(4096), 3), reference, "chunk 4096, 3 threads");
    assert_eq!(tails(None, 2), reference, "rerun");
}

/// The progress the CLI's bar shows: reported after each chunk, never decreasing, ending at
/// the path count.
fn progress_reaches_every_path(backend: &dyn Backend) {
    let p = portfolio(&[("a", "USD", vec![("BTC-25DEC26-90000-C", 1.0)])]);
    let cfg = RunConfig {
        chunk_paths: Some(1_000),
        ..config(4_500, 1, &[0.99])
    };
    let b = book(&two_asset_market(), &p, &cfg);
    let seen = std::sync::Mutex::new(Vec::new());
    let plan = tailrisk::run::plan(&cfg);
    backend
        .tails(&b, &plan, &|done| seen.lock().unwrap().push(done))
        .unwrap();
    let seen = seen.into_inner().unwrap();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&4_500));
}

on_every_backend!(
    risk_identities,
    reproducible_across_chunks_and_threads,
    progress_reaches_every_path
);
