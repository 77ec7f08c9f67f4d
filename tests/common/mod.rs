//! Shared builders for the integration tests: small markets and books written as the JSON a
//! user would write, so every test also goes through the real parsers.
#![allow(dead_code)]

pub mod html;

use tailrisk::book::{Book, SourceFiles};
use tailrisk::config::RunConfig;
use tailrisk::engine::Backend;
use tailrisk::input;
use tailrisk::run::{Simulation, simulate};

pub const AS_OF: &str = "2026-11-20T08:00:00Z";

/// A one-asset market with a flat vol and no correlation block.
pub fn one_asset_market(symbol: &str, spot: f64, vol: f64) -> String {
    format!(r#"{{"as_of":"{AS_OF}","assets":{{"{symbol}":{{"spot":{spot},"vol":{vol}}}}}}}"#)
}

/// BTC and ETH, flat vols, correlation 0.8; ETH has a skewed grid surface.
pub fn two_asset_market() -> String {
    format!(
        r#"{{"as_of":"{AS_OF}",
        "assets":{{
          "BTC":{{"spot":91250,"rate":0.01,"vol":0.55}},
          "ETH":{{"spot":3050,"vol":{{
            "expiries":["2026-11-27T08:00:00Z","2026-12-25T08:00:00Z","2027-03-26T08:00:00Z"],
            "log_moneyness":[-0.4,-0.2,0.0,0.2,0.4],
            "implied_vols":[[0.78,0.66,0.60,0.63,0.70],[0.74,0.65,0.61,0.62,0.67],[0.70,0.64,0.62,0.62,0.65]]}}}}}},
        "correlation":{{"symbols":["BTC","ETH"],"matrix":[[1.0,0.8],[0.8,1.0]]}}}}"#
    )
}

/// One account of a test book: id, margin currency, (instrument, quantity) positions.
pub type TestAccount<'a> = (&'a str, &'a str, Vec<(&'a str, f64)>);

/// A portfolio JSON from test accounts.
pub fn portfolio(accounts: &[TestAccount]) -> String {
    let accounts: Vec<String> = accounts
        .iter()
        .map(|(id, ccy, positions)| {
            let positions: Vec<String> = positions
                .iter()
                .map(|(name, q)| format!(r#"{{"instrument":"{name}","quantity":{q:?}}}"#))
                .collect();
            format!(
                r#"{{"id":"{id}","margin_currency":"{ccy}","positions":[{}]}}"#,
                positions.join(",")
            )
        })
        .collect();
    format!(r#"{{"accounts":[{}]}}"#, accounts.join(","))
}

/// Compiles market and portfolio JSON with a configuration.
pub fn book(market: &str, portfolio_json: &str, config: &RunConfig) -> Book {
    let market = input::parse_market(market, "market.json").expect("test market parses");
    let portfolio =
        input::parse_portfolio_json(portfolio_json, "portfolio.json").expect("test book parses");
    Book::compile(&market, &portfolio, config, &SourceFiles::default()).expect("book compiles")
}

/// Simulates with a backend, no progress.
pub fn run(book: Book, config: &RunConfig, backend: &dyn Backend) -> Simulation {
    simulate(book, config, backend, &|_| {}).expect("simulation runs")
}

/// A configuration with the given paths, seed and confidence levels.
pub fn config(paths: u64, seed: u64, confidence: &[f64]) -> RunConfig {
    RunConfig {
        paths,
        seed,
        confidence: confidence.to_vec(),
        margin: tailrisk::config::MarginConfig {
            confidence: confidence[0],
            ..Default::default()
        },
        ..RunConfig::default()
    }
}

/// Φ⁻¹(p) by bisection on the library's Φ (tests only: 200 halvings reach f64 resolution).
pub fn norm_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if tailrisk::pricing::norm_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Run inputs from market and portfolio JSON, a configuration and named scenarios.
pub fn run_inputs(
    market: &str,
    portfolio_json: &str,
    config: RunConfig,
    scenarios: tailrisk::stress::ScenarioSet,
) -> tailrisk::run::RunInputs {
    tailrisk::run::RunInputs {
        market: input::parse_market(market, "market.json").expect("test market parses"),
        portfolio: input::parse_portfolio_json(portfolio_json, "portfolio.json")
            .expect("test book parses"),
        config,
        files: SourceFiles::default(),
        scenarios,
        historical: None,
    }
}

/// The sample inputs of `data/` (market, portfolio, configuration, built-in scenarios) with
/// `paths` paths.
pub fn sample_inputs(paths: u64) -> tailrisk::run::RunInputs {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).expect("sample data");
    let mut config =
        input::parse_config(&read("config.json"), "config.json").expect("sample config");
    config.paths = paths;
    run_inputs(
        &read("market.json"),
        &read("portfolio.json"),
        config,
        tailrisk::stress::ScenarioSet::built_in(),
    )
}

/// The environment variable that turns a missing adapter in GPU tests into a failure (CI).
pub const REQUIRE_GPU_ENV: &str = "TAILRISK_REQUIRE_GPU";

/// A GPU backend on any adapter (lavapipe included), or `None` with a loud
/// "SKIPPED: no GPU adapter" on stderr when there is none. With `TAILRISK_REQUIRE_GPU=1` a
/// missing adapter panics instead, so CI cannot pass by skipping.
pub fn test_backend() -> Option<tailrisk::engine::gpu::GpuBackend> {
    match tailrisk::engine::gpu::GpuBackend::any() {
        Ok(backend) => Some(backend),
        Err(e) => {
            if std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v == "1") {
                panic!("{REQUIRE_GPU_ENV}=1 but no GPU backend: {e}");
            }
            eprintln!();
            eprintln!("==================================================================");
            eprintln!("SKIPPED: no GPU adapter ({e})");
            eprintln!("         set {REQUIRE_GPU_ENV}=1 to make this a failure");
            eprintln!("==================================================================");
            None
        }
    }
}

/// The per-path loss error of an f32 backend against the f64 reference, relative to the
/// account's gross exposure Σ|q|·notional (in the account's currency, [`gross_in_currency`]).
///
/// Derivation. Both f32 backends sum an account's holdings exactly (64-bit fixed point on
/// the GPU, f64 on the CPU), so |L_f32 − L_f64| ≤ Σ|q|·|Δpnl| ≤ max(|Δpnl|/notional)·gross:
/// the per-unit P&L error relative to notional bounds the loss error relative to gross.
/// That P&L error is documented as "a few 1e-7 of F + K" (src/engine/cpu/fast, src/engine/gpu)
/// and measured at most 4.2e-7 of notional in the fast kernels (tests/cpu_fast.rs, every ISA)
/// and 6.0e-7 on lavapipe (tests/gpu_equivalence.rs: four books, 10-day horizons, stress
/// moves up to +500%); the GPU also rounds the loss itself to f32 (2⁻²⁴ ≈ 6e-8 of |L|).
/// 6.6e-7 with a safety factor of 1.5 for other adapters and instruction sets: 1e-6, the
/// same bound tests/cpu_fast.rs asserts per unit. The measured account-loss errors are
/// smaller still (1.7e-7 of gross on lavapipe, 1.1e-8 in the fast kernels) because the
/// instruments' errors do not align. A formula slip (a day of decay, a missing carry) is
/// ≥ 1e-4 of notional, a hundred times this.
///
/// VaR and ES are order statistics (the k-th largest loss, the mean of the k largest),
/// 1-Lipschitz in the sup norm over paths: they move by at most the same bound.
pub const F32_LOSS_PER_GROSS: f64 = 1e-6;

/// The same bound for the CPU's f64 kernels: 16 ulps of the gross exposure
/// (tests/cpu_fast.rs measures their per-unit P&L within 5 ulps of notional and asserts
/// 16).
pub const F64_LOSS_PER_GROSS: f64 = 16.0 * f64::EPSILON;

/// [`F32_LOSS_PER_GROSS`] × `gross` for an f32 backend, [`F64_LOSS_PER_GROSS`] × `gross`
/// for the f64 kernels, 0 for the f64 reference: the extra absolute tolerance a loss, VaR or
/// ES of an account with gross exposure `gross` (in its currency) needs on `backend`.
pub fn f32_loss_error(backend: &dyn Backend, gross: f64) -> f64 {
    match backend.info().precision {
        tailrisk::engine::Precision::F64Reference => 0.0,
        tailrisk::engine::Precision::F64 => F64_LOSS_PER_GROSS * gross,
        tailrisk::engine::Precision::F32 => F32_LOSS_PER_GROSS * gross,
    }
}

/// The extra tolerance between a backend's tail losses and a host f64 sum of the P&L it
/// regenerates for the same paths (component ES, coin conversions checked by hand): 0 where
/// the tail losses are host f64 sums of those very P&L (the f64 reference; the CPU's f32
/// kernels, whose regenerated P&L are bit-identical to the tail's), only summation order
/// differing; [`f32_loss_error`] on the GPU, which makes its losses on the device
/// (fixed-point sums, the coin conversion and the loss itself in f32).
pub fn device_loss_error(backend: &dyn Backend, gross: f64) -> f64 {
    match backend.info().backend {
        tailrisk::engine::BackendKind::Cpu => 0.0,
        tailrisk::engine::BackendKind::Gpu => f32_loss_error(backend, gross),
    }
}

/// Gross exposure of an account in its margin currency (USD, or the coin at today's spot).
pub fn gross_in_currency(book: &Book, account: usize) -> f64 {
    let gross = book.gross_exposure(account);
    match book.accounts[account].currency {
        tailrisk::book::Currency::Usd => gross,
        tailrisk::book::Currency::Coin(c) => gross / book.assets[c].spot,
    }
}

/// The CPU backend in its f32 fast mode ([`tailrisk::engine::cpu::Precision::F32`]).
pub fn cpu_f32() -> tailrisk::engine::cpu::CpuBackend {
    tailrisk::engine::cpu::CpuBackend::with_precision(tailrisk::engine::Precision::F32)
}

/// The CPU backend in its f64 SIMD kernels ([`tailrisk::engine::cpu::Precision::F64`], the
/// CLI's default).
pub fn cpu_f64() -> tailrisk::engine::cpu::CpuBackend {
    tailrisk::engine::cpu::CpuBackend::with_precision(tailrisk::engine::Precision::F64)
}

/// Instantiates each test function (taking `&dyn Backend`) once per backend, as cubecl
/// instantiates its tests per runtime: `cpu::name` on the f64 reference, `cpu_f64::name` on
/// the CPU's f64 SIMD kernels, `cpu_f32::name` on its f32 ones, `gpu::name` on any wgpu
/// adapter (lavapipe included), skipped
/// loudly without one unless `TAILRISK_REQUIRE_GPU=1` makes that a failure. Tolerances that
/// depend on the arithmetic come from [`f32_loss_error`] (0 on the f64 reference).
#[macro_export]
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        mod cpu {
            $(#[test] fn $test() { super::$test(&tailrisk::engine::cpu::CpuBackend::new()); })*
        }
        mod cpu_f64 {
            $(#[test] fn $test() { super::$test(&$crate::common::cpu_f64()); })*
        }
        $crate::on_every_f32_backend!($($test),*);
    };
}

/// Instantiates each test function (taking `&dyn Backend`) on the two f32 backends only:
/// `cpu_f32::name` and `gpu::name` (as in [`on_every_backend!`]), for comparisons of an f32
/// backend against the f64 reference.
#[macro_export]
macro_rules! on_every_f32_backend {
    ($($test:ident),* $(,)?) => {
        mod cpu_f32 {
            $(#[test] fn $test() { super::$test(&$crate::common::cpu_f32()); })*
        }
        mod gpu {
            $(#[test] fn $test() {
                if let Some(backend) = $crate::common::test_backend() {
                    super::$test(&backend);
                }
            })*
        }
    };
}
