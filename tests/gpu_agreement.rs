//! What issue #3 must show on any adapter (lavapipe in CI): GPU and CPU VaR/ES agree within
//! 0.5% on a 500-option, 3-asset book at 200 000 paths with the same seed, and `verify`
//! passes on every sample book.

mod common;
use common::test_backend;

use std::path::PathBuf;

use tailrisk::bench_book::generated_book;
use tailrisk::book::{Book, SourceFiles};
use tailrisk::config::RunConfig;
use tailrisk::engine::cpu::CpuBackend;
use tailrisk::input;
use tailrisk::run::simulate;
use tailrisk::verify::verify;

fn data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(file)
}

#[test]
fn var_and_es_agree_within_half_a_percent_on_500_options() {
    let Some(gpu) = test_backend() else { return };
    let config = RunConfig {
        paths: 200_000,
        seed: 2026,
        confidence: vec![0.99, 0.995],
        ..RunConfig::default()
    };
    // One account holding all 500 options, and four accounts sharing them.
    for accounts in [1, 4] {
        let book = generated_book(500, 3, accounts, 17);
        let cpu_run = simulate(book.clone(), &config, &CpuBackend::new(), &|_| {}).unwrap();
        let gpu_run = simulate(book, &config, &gpu, &|_| {}).unwrap();
        for (a, (c, g)) in cpu_run.accounts.iter().zip(&gpu_run.accounts).enumerate() {
            for (mc, mg) in c.measures.iter().zip(&g.measures) {
                // The bound: 0.5% of the CPU figure (f32 losses differ from the f64
                // ones by ~1e-7 of gross exposure, far inside it).
                let rel_var = (mg.var - mc.var).abs() / mc.var.abs();
                let rel_es = (mg.es - mc.es).abs() / mc.es.abs();
                assert!(
                    rel_var < 0.005 && rel_es < 0.005,
                    "{accounts} accounts, account {a} at {}: VaR {} vs {} ({rel_var:.2e}), ES {} vs {} ({rel_es:.2e})",
                    mc.confidence,
                    mg.var,
                    mc.var,
                    mg.es,
                    mc.es
                );
            }
        }
    }
}

fn sample_book(portfolio: &str, paths: u64) -> (Book, RunConfig) {
    let market = input::load_market(&data("market.json")).unwrap();
    let book = input::load_portfolio(&data(portfolio)).unwrap();
    let mut config = input::load_config(&data("config.json")).unwrap();
    config.paths = paths;
    let book = Book::compile(&market, &book, &config, &SourceFiles::default()).unwrap();
    (book, config)
}

#[test]
fn verify_passes_on_the_sample_book() {
    let Some(gpu) = test_backend() else { return };
    let (book, config) = sample_book("portfolio.json", 50_000);
    let report = verify(&book, &config, &CpuBackend::new(), &gpu).unwrap();
    assert!(report.passed(), "{}", report.to_table());
    // Multi-step, long-horizon variant of the same book.
    let config = RunConfig {
        steps: 5,
        horizon_days: 10.0,
        ..config
    };
    let (book, _) = (
        Book {
            steps: 5,
            horizon: 10.0 / 365.0,
            ..book
        },
        (),
    );
    let report = verify(&book, &config, &CpuBackend::new(), &gpu).unwrap();
    assert!(report.passed(), "{}", report.to_table());
}

#[test]
fn verify_passes_on_the_clearing_book() {
    let Some(gpu) = test_backend() else { return };
    let (book, config) = sample_book("clearing_book.csv", 10_000);
    let report = verify(&book, &config, &CpuBackend::new(), &gpu).unwrap();
    assert!(report.passed(), "{}", report.to_table());
}

#[test]
fn verify_of_a_backend_against_itself_is_exact() {
    let (book, config) = sample_book("portfolio.json", 5_000);
    let cpu = CpuBackend::new();
    let report = verify(&book, &config, &cpu, &cpu).unwrap();
    assert!(report.passed());
    assert!(
        report.checks.iter().all(|c| c.max_deviation == 0.0),
        "{}",
        report.to_table()
    );
}

/// A backend that gets the revalue stage slightly wrong (every P&L off by 1e-4 of the
/// instrument's notional, about a day of decay on a short-dated option): verify must fail
/// there and nowhere upstream.
struct OffByDecay(CpuBackend);

impl tailrisk::engine::Backend for OffByDecay {
    fn info(&self) -> tailrisk::engine::BackendInfo {
        self.0.info()
    }
    fn tails(
        &self,
        book: &Book,
        plan: &tailrisk::engine::SimulationPlan,
        progress: &(dyn Fn(u64) + Sync),
    ) -> tailrisk::Result<Vec<tailrisk::engine::AccountTail>> {
        self.0.tails(book, plan, progress)
    }
    fn revalue_paths(
        &self,
        book: &Book,
        seed: u64,
        paths: &[u32],
    ) -> tailrisk::Result<tailrisk::engine::PathRevaluation> {
        let mut r = self.0.revalue_paths(book, seed, paths)?;
        let n = book.instruments.len();
        for (j, pnl) in r.pnl.iter_mut().enumerate() {
            *pnl += 1e-4 * book.instrument_notional(j % n);
        }
        Ok(r)
    }
    fn path_losses(&self, book: &Book, seed: u64, paths: &[u32]) -> tailrisk::Result<Vec<f64>> {
        self.0.path_losses(book, seed, paths)
    }
    fn revalue_scenarios(
        &self,
        book: &Book,
        scenarios: &[tailrisk::engine::StressScenario],
    ) -> tailrisk::Result<Vec<f64>> {
        self.0.revalue_scenarios(book, scenarios)
    }
    fn philox_words(
        &self,
        seed: u64,
        paths: &[u32],
        step: u32,
        blocks: u32,
        stream: u32,
    ) -> tailrisk::Result<Vec<[u32; 4]>> {
        self.0.philox_words(seed, paths, step, blocks, stream)
    }
}

#[test]
fn verify_fails_on_a_wrong_revalue_stage() {
    let (book, config) = sample_book("portfolio.json", 2_000);
    let report = verify(
        &book,
        &config,
        &CpuBackend::new(),
        &OffByDecay(CpuBackend::new()),
    )
    .unwrap();
    assert!(!report.passed(), "{}", report.to_table());
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.stage.as_str())
        .collect();
    assert_eq!(failed, vec!["revalue"], "{}", report.to_table());
    assert!(
        report.to_table().contains("FAIL") && report.to_table().contains("verification FAILED")
    );
}
