//! The SIMD kernels of the CPU backend, f64 and f32, against the f64 reference
//! (`src/engine/cpu/fast`): per-instrument P&L, VaR and ES within stated bounds (in ulps of
//! the notional for f64), scenario states within a few ulps of the reference's, delta-one
//! P&L the reference's formula's bits on the kernels' states in f64, and bit-identical
//! results whatever the chunk size and thread count.
//!
//! The book has every instrument kind on two assets with grid surfaces (one with carry),
//! options from deep out of to deep in the money, expiries inside the horizon, explicit
//! instruments with multipliers, a delta-hedged account and coin-margined accounts; the
//! dynamics move the vol level and jump, and shocks are Student-t, so every branch of the
//! kernels runs.
//!
//! Most tests here are of the fast mode's own features (its two instruction sets, its block
//! padding, its measured bounds, tighter than the common f32 bound of tests/common); the
//! regeneration of paths alone and components summing to ES on this book hold for every
//! backend and run on each (`on_every_backend!`). The comparisons with the f64 reference that
//! every f32 backend shares are in tests/gpu_equivalence.rs and tests/gpu_agreement.rs,
//! which run them on both.

#[macro_use]
mod common;

use common::*;
use tailrisk::book::{Book, Currency};
use tailrisk::config::{DynamicsInput, RunConfig};
use tailrisk::engine::cpu::fast::{FastModel, FastRow, Isa};
use tailrisk::engine::cpu::{CpuBackend, Precision};
use tailrisk::engine::{AccountTail, AssetState, Backend, SimulationPlan};
use tailrisk::model::VolRule;
use tailrisk::model::revalue::RevalueModel;
use tailrisk::risk;

/// Per-unit P&L error bound of the f32 kernels, relative to the instrument's notional
/// (S₀·multiplier, or the USD notional of inverse delta-one): the module doc's "a few 1e-7
/// of F + K".
const PNL_BOUND: f64 = 1e-6;
/// VaR/ES bound of the f32 kernels relative to the account's gross exposure (in the coin for
/// coin accounts).
const RISK_BOUND: f64 = 1e-7;
/// The f64 kernels' per-unit P&L bound: 16 ulps (ε = 2.2e-16) of the notional. Each option
/// term (F·Φ, K·Φ) carries a few ulps from exp and Φ (src/engine/cpu/fast/math64.rs: 1 and
/// 2–3 ulps), the forward e^{r} one, the quadratic total variance a few, the states (7e-16
/// from the reference's, a polynomial Box–Muller) up to 3 over the 30-day moves; measured
/// 2.5 ulps over 2 days and 5.0 over 30 days on this book, every instruction set
/// (`f64_kernel_pnl_matches_the_reference`), so 16 leaves room for other books while a
/// formula slip (1e-4 of notional, 10¹² ulps) stays far outside.
const PNL_ULPS_F64: f64 = 16.0;
/// The f64 kernels' VaR/ES bound: 16 ulps of the account's gross exposure (the per-unit
/// bound, as for f32: errors of different instruments do not align; measured at most
/// 1e-16 of gross, half an ulp).
const RISK_ULPS_F64: f64 = 16.0;

fn market() -> String {
    format!(
        r#"{{"as_of":"{AS_OF}",
        "assets":{{
          "BTC":{{"spot":91250,"rate":0.03,"vol":{{
            "expiries":["2026-11-22T08:00:00Z","2026-11-27T08:00:00Z","2026-12-25T08:00:00Z","2027-03-26T08:00:00Z","2027-12-31T08:00:00Z"],
            "log_moneyness":[-0.6,-0.3,-0.1,0.0,0.1,0.3,0.6],
            "implied_vols":[[0.95,0.72,0.61,0.58,0.57,0.6,0.74],[0.86,0.68,0.59,0.56,0.56,0.59,0.7],
                            [0.75,0.63,0.57,0.55,0.55,0.57,0.65],[0.66,0.59,0.55,0.53,0.53,0.55,0.6],
                            [0.6,0.56,0.53,0.52,0.52,0.53,0.56]]}}}},
          "ETH":{{"spot":3050,"vol":{{
            "expiries":["2026-11-27T08:00:00Z","2026-12-25T08:00:00Z","2027-03-26T08:00:00Z"],
            "log_moneyness":[-0.4,-0.2,0.0,0.2,0.4],
            "implied_vols":[[0.78,0.66,0.60,0.63,0.70],[0.74,0.65,0.61,0.62,0.67],[0.70,0.64,0.62,0.62,0.65]]}}}}}},
        "correlation":{{"symbols":["BTC","ETH"],"matrix":[[1.0,0.8],[0.8,1.0]]}}}}"#
    )
}

const EXPLICIT_ETH_CALL: &str = r#"{"kind":"option","underlying":"ETH","right":"call","strike":3100,"expiry":"2026-11-21T20:00:00Z","settlement":"linear","multiplier":10}"#;

fn positions() -> String {
    let everything: Vec<(&str, f64)> = vec![
        ("BTC", 3.0),
        ("BTC-PERPETUAL", -250_000.0),
        ("BTC_USDC-PERPETUAL", 2.5),
        ("BTC-25DEC26", 400_000.0),
        ("BTC_USDC-26MAR27", -1.5),
        ("BTC-21NOV26-91000-C", 4.0), // settles inside the 2-day horizon
        ("BTC-22NOV26-90000-P", -6.0), // settles exactly at the horizon
        ("BTC-27NOV26-92000-C", -10.0), // near the money, short-dated
        ("BTC-27NOV26-160000-C", 50.0), // deep out of the money
        ("BTC-27NOV26-40000-P", 50.0), // deep out of the money
        ("BTC-26MAR27-50000-C", 2.0), // deep in the money
        ("BTC-26MAR27-150000-P", -2.0), // deep in the money
        ("BTC-31DEC27-100000-C", 5.0), // beyond the last expiry
        ("ETH", -20.0),
        ("ETH-PERPETUAL", 60_000.0),
        ("ETH_USDC-25DEC26", 15.0),
        ("ETH-25DEC26-3000-C", 30.0),
        ("ETH-25DEC26-2500-P", -40.0),
        ("ETH_USDC-26MAR27-4000-C", 25.0),
        ("ETH-27NOV26-1500-P", 100.0),
    ];
    let mut json = portfolio(&[
        ("everything", "USD", everything.clone()),
        ("btc-coin", "BTC", everything.clone()),
        (
            "hedged",
            "USD",
            vec![
                ("BTC-25DEC26-90000-C", 500.0),
                ("BTC-25DEC26-90000-P", 500.0),
                ("BTC_USDC-PERPETUAL", -47.0),
                ("BTC-27NOV26-92000-C", -480.0),
                ("ETH-25DEC26-3000-C", -9_000.0),
                ("ETH_USDC-25DEC26", 4_400.0),
            ],
        ),
        (
            "eth-coin",
            "ETH",
            vec![
                ("ETH", 100.0),
                ("ETH-PERPETUAL", -150_000.0),
                ("ETH-25DEC26-2500-P", 80.0),
            ],
        ),
    ]);
    // One explicit instrument object (multiplier 10, expiring inside the horizon).
    let explicit = format!(r#"{{"instrument":{EXPLICIT_ETH_CALL},"quantity":-3}},"#);
    json = json.replacen(
        r#""positions":["#,
        &format!(r#""positions":[{explicit}"#),
        1,
    );
    json
}

fn run_config(paths: u64) -> RunConfig {
    run_config_over(paths, 2.0, 1)
}

fn run_config_over(paths: u64, horizon_days: f64, steps: u32) -> RunConfig {
    let dynamics = |vol_of_vol: f64| DynamicsInput {
        vol_of_vol,
        vol_mean_reversion: 4.0,
        spot_vol_corr: -0.3,
        jump_intensity: 8.0,
        jump_mean: -0.05,
        jump_std: 0.1,
        ..DynamicsInput::default()
    };
    let mut cfg = RunConfig {
        horizon_days,
        steps,
        student_t_dof: Some(4),
        ..config(paths, 11, &[0.99, 0.995])
    };
    cfg.dynamics.insert("BTC".into(), dynamics(1.5));
    cfg.dynamics.insert("ETH".into(), dynamics(2.0));
    cfg
}

fn test_book(paths: u64) -> Book {
    book(&market(), &positions(), &run_config(paths))
}

fn fast() -> CpuBackend {
    CpuBackend::with_precision(Precision::F32)
}

fn kernels(precision: Precision) -> CpuBackend {
    CpuBackend::with_precision(precision)
}

/// The P&L and VaR/ES bounds of the kernels of `precision`, relative to notional and gross.
fn bounds(precision: Precision) -> (f64, f64) {
    match precision {
        Precision::F32 => (PNL_BOUND, RISK_BOUND),
        _ => (PNL_ULPS_F64 * f64::EPSILON, RISK_ULPS_F64 * f64::EPSILON),
    }
}

fn plan(paths: u64, tail_len: usize, chunk_paths: Option<u32>) -> SimulationPlan {
    SimulationPlan {
        paths,
        first_path: 0,
        seed: 11,
        tail_len,
        chunk_paths,
    }
}

/// The unit a loss of `account` is measured in, per USD (1/S₀ of the coin for coin accounts).
fn per_usd(book: &Book, account: usize) -> f64 {
    match book.accounts[account].currency {
        Currency::Usd => 1.0,
        Currency::Coin(c) => 1.0 / book.assets[c].spot,
    }
}

#[test]
fn reports_each_precision() {
    assert_eq!(fast().info().precision, Precision::F32);
    assert_eq!(kernels(Precision::F64).info().precision, Precision::F64);
    assert_eq!(CpuBackend::new().info().precision, Precision::F64Reference);
    assert_eq!("f32".parse::<Precision>(), Ok(Precision::F32));
    assert_eq!("f64".parse::<Precision>(), Ok(Precision::F64));
    assert_eq!(
        "f64-reference".parse::<Precision>(),
        Ok(Precision::F64Reference)
    );
    assert!(
        kernels(Precision::F64)
            .info()
            .device
            .contains("f64 kernels")
    );
}

/// Every instrument on 3 000 paths (every instruction set): the states within
/// [`STATE_BOUND`] of the reference's, and each P&L per unit within [`PNL_BOUND`] of its
/// notional.
#[test]
fn instrument_pnl_matches_the_reference() {
    pnl_within_bound(&test_book(3_000), 3_000, Precision::F32);
}

/// The f64 kernels on the same 3 000 paths (all three instruction sets): every P&L per unit
/// within [`PNL_ULPS_F64`] ulps of its notional; delta-one instruments and options that
/// settle inside the horizon run the reference's formulas in f64, so their P&L are the bits
/// of the reference's revalue stage on the kernels' own states.
#[test]
fn f64_kernel_pnl_matches_the_reference() {
    let b = test_book(3_000);
    pnl_within_bound(&b, 3_000, Precision::F64);
    let paths: Vec<u32> = (0..500).collect();
    let got = kernels(Precision::F64)
        .revalue_paths(&b, 11, &paths)
        .unwrap();
    let (a, n) = (b.assets.len(), b.instruments.len());
    let revalue = RevalueModel::new(&b);
    // The reference's revalue stage on the kernels' own states.
    let mut reference_pnl = vec![0.0; paths.len() * n];
    for (states, pnl) in got.states.chunks(a).zip(reference_pnl.chunks_mut(n)) {
        revalue.revalue_into(states, VolRule::TenorScaled, pnl);
    }
    let model = FastModel::<f64>::new(&b);
    let mut exact = 0;
    for (i, row) in model.rows.iter().enumerate() {
        if let FastRow::Exact(_) = row {
            exact += 1;
            for p in 0..paths.len() {
                let (x, y) = (got.pnl[p * n + i], reference_pnl[p * n + i]);
                assert_eq!(
                    x.to_bits(),
                    y.to_bits(),
                    "{} path {p}",
                    b.instruments[i].label
                );
            }
        }
    }
    assert!(
        exact >= 8,
        "the book has delta-one and expiring rows ({exact})"
    );
}

/// The same over a 30-day horizon in 10 steps: larger moves, most short options settled
/// inside the horizon, vol levels far from 1.
#[test]
fn instrument_pnl_matches_the_reference_over_a_long_horizon() {
    let b = book(&market(), &positions(), &run_config_over(2_000, 30.0, 10));
    pnl_within_bound(&b, 2_000, Precision::F32);
    pnl_within_bound(&b, 2_000, Precision::F64);
}

/// The kernels (f64 and f32) draw their normals with polynomial ln, sin and cos
/// (`engine::cpu::fast::draws`), within 1.2e-15 of the Box–Muller radius r ≤ 6.8 of the
/// reference's (libm's), so 8.2e-15 absolute per normal, and run the reference's step in
/// f64 on them; a
/// state sums σ√dt·ε, η√dt·ζ and jump terms of a few normals per step over at most 10 steps,
/// with factors below 3 (the Student-t scale, e^{x} of the vol level): under 10 × 6 × 3 ×
/// 8.2e-15 ≈ 1.5e-12 (measured: 6.7e-16). A wrong normal or a swapped draw moves a state by
/// ~1e-3.
const STATE_BOUND: f64 = 1.5e-12;

fn states_match(got: &[AssetState], want: &[AssetState], precision: Precision, isa: Isa) {
    let mut worst = 0.0f64;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let diff = (g.log_return - w.log_return)
            .abs()
            .max((g.log_vol - w.log_vol).abs());
        worst = worst.max(diff);
        assert!(
            diff <= STATE_BOUND,
            "{isa:?} state {i}: {g:?} against the reference's {w:?}"
        );
    }
    eprintln!("{precision} {isa:?}: worst state difference {worst:e}");
}

fn pnl_within_bound(b: &Book, paths: u32, precision: Precision) {
    let paths: Vec<u32> = (0..paths).collect();
    let reference = CpuBackend::new().revalue_paths(b, 11, &paths).unwrap();
    let bound = bounds(precision).0;
    for isa in [Isa::Baseline, Isa::Avx2Fma, Isa::Avx512] {
        let got = kernels(precision)
            .with_isa(isa)
            .revalue_paths(b, 11, &paths)
            .unwrap();
        states_match(&got.states, &reference.states, precision, isa);
        let n = b.instruments.len();
        let mut worst = (0.0, 0, 0);
        for (p, (row, want)) in got.pnl.chunks(n).zip(reference.pnl.chunks(n)).enumerate() {
            for i in 0..n {
                let rel = (row[i] - want[i]).abs() / b.instrument_notional(i);
                if rel > worst.0 {
                    worst = (rel, i, p);
                }
                assert!(
                    rel <= bound,
                    "{isa:?} {} path {p}: {precision} {} reference {} diff {:e} of notional",
                    b.instruments[i].label,
                    row[i],
                    want[i],
                    rel
                );
            }
        }
        eprintln!(
            "{precision} {isa:?}: worst P&L error {:.2e} of notional = {:.1} ulps ({} path {})",
            worst.0,
            worst.0 / f64::EPSILON,
            b.instruments[worst.1].label,
            worst.2
        );
    }
}

/// VaR and ES of every account over 40 000 paths within [`RISK_BOUND`] of its gross exposure
/// for the f32 kernels (their own measured precision, 3.2e-8, three times tighter than the
/// common f32 bound the GPU is held to, so CPU only), and within [`RISK_ULPS_F64`] ulps of
/// it for the f64 kernels.
#[test]
fn var_and_es_match_the_reference() {
    for precision in [Precision::F32, Precision::F64] {
        var_and_es_within_bound(precision);
    }
}

fn var_and_es_within_bound(precision: Precision) {
    let bound = bounds(precision).1;
    let paths = 40_000;
    let b = test_book(paths);
    let levels = [0.99, 0.995];
    let tail_len = risk::tail_len(paths, &levels);
    let reference = CpuBackend::new()
        .tails(&b, &plan(paths, tail_len, None), &|_| {})
        .unwrap();
    let got = kernels(precision)
        .tails(&b, &plan(paths, tail_len, None), &|_| {})
        .unwrap();
    for (a, (g, r)) in got.iter().zip(&reference).enumerate() {
        let gross = b.gross_exposure(a) * per_usd(&b, a);
        for &c in &levels {
            let (mg, mr) = (risk::measure(g, paths, c), risk::measure(r, paths, c));
            let (dv, de) = (
                (mg.var - mr.var).abs() / gross,
                (mg.es - mr.es).abs() / gross,
            );
            eprintln!(
                "{precision} {} α={c}: VaR {} vs {} ({dv:.1e} of gross), ES {} vs {} ({de:.1e})",
                b.accounts[a].id, mg.var, mr.var, mg.es, mr.es
            );
            assert!(dv <= bound, "{} VaR {c}: {dv:e} of gross", b.accounts[a].id);
            assert!(de <= bound, "{} ES {c}: {de:e} of gross", b.accounts[a].id);
        }
    }
}

fn bits(tails: &[AccountTail]) -> Vec<Vec<(u64, u32)>> {
    tails
        .iter()
        .map(|t| t.worst.iter().map(|e| (e.loss.to_bits(), e.path)).collect())
        .collect()
}

/// The same losses, bit for bit, for any chunk size and thread count (paths not a multiple
/// of the block, so the last block is padded differently in every run).
#[test]
fn bit_identical_across_chunks_and_threads() {
    for precision in [Precision::F32, Precision::F64] {
        bit_identical_for(kernels(precision));
    }
}

fn bit_identical_for(backend: CpuBackend) {
    let paths = 5_003;
    let b = test_book(paths);
    let run = |chunk: Option<u32>| {
        bits(
            &backend
                .tails(&b, &plan(paths, 300, chunk), &|_| {})
                .unwrap(),
        )
    };
    let whole = run(None);
    for chunk in [Some(1), Some(255), Some(257), Some(1_000), Some(4_999)] {
        assert_eq!(run(chunk), whole, "chunk {chunk:?}");
    }
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    assert_eq!(one_thread.install(|| run(Some(777))), whole, "one thread");
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    assert_eq!(three.install(|| run(None)), whole, "three threads");
}

/// A path regenerated alone gives the P&L its tail loss was made from, whatever block (CPU)
/// or chunk (GPU) it lands in: every path's arithmetic is its own on every backend.
fn regenerated_paths_do_not_depend_on_their_block(backend: &dyn Backend) {
    let b = test_book(1_000);
    let all: Vec<u32> = (0..600).collect();
    let some: Vec<u32> = vec![599, 3, 257, 256, 0];
    let whole = backend.revalue_paths(&b, 11, &all).unwrap();
    let part = backend.revalue_paths(&b, 11, &some).unwrap();
    let n = b.instruments.len();
    for (row, &p) in some.iter().enumerate() {
        let want = &whole.pnl[p as usize * n..(p as usize + 1) * n];
        let got = &part.pnl[row * n..(row + 1) * n];
        assert!(
            want.iter()
                .zip(got)
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            "path {p}"
        );
    }
    assert_eq!(part.states.len(), some.len() * b.assets.len());
    for (row, &p) in some.iter().enumerate() {
        let a = b.assets.len();
        assert_eq!(
            part.states[row * a..(row + 1) * a],
            whole.states[p as usize * a..(p as usize + 1) * a],
            "path {p} states"
        );
    }
}

/// A whole run on this book of every kind: the regenerated tail paths (component ES) are the
/// ones the tails were made from, so the components sum to ES up to f64 summation order on
/// the CPU (1e-9 of ES); the GPU's tail losses are made on the device, within the f32 loss
/// error of the gross exposure of the host's f64 sum (common::device_loss_error).
fn components_sum_to_es(backend: &dyn Backend) {
    let cfg = run_config(20_000);
    let sim = run(test_book(20_000), &cfg, backend);
    for (a, (account, figures)) in sim.book.accounts.iter().zip(&sim.accounts).enumerate() {
        let sum: f64 = figures.components.iter().sum();
        let es = figures.margin_es.es;
        let gross = gross_in_currency(&sim.book, a);
        assert!(
            (sum - es).abs() <= 1e-9 * es.abs().max(1.0) + device_loss_error(backend, gross),
            "{}: Σ components {sum} vs ES {es}",
            account.id
        );
    }
}

on_every_backend!(
    regenerated_paths_do_not_depend_on_their_block,
    components_sum_to_es
);

/// The AVX-512 kernels run the AVX2 ones' operations (the same fused multiply-adds, lane by
/// lane) on wider vectors: the same bits, P&L and tails. Skipped (loudly) on a CPU without
/// AVX-512, where both requests run the best kernel it has.
#[test]
fn avx512_and_avx2_kernels_give_the_same_bits() {
    if Isa::supported(Isa::Avx512) != Isa::Avx512 {
        eprintln!("SKIPPED: this CPU has no AVX-512");
        return;
    }
    for precision in [Precision::F32, Precision::F64] {
        same_bits_on_both_widths(precision);
    }
}

fn same_bits_on_both_widths(precision: Precision) {
    let fast = || kernels(precision);
    for b in [
        test_book(3_000),
        book(&market(), &positions(), &run_config_over(2_000, 30.0, 10)),
    ] {
        let paths: Vec<u32> = (0..2_000).collect();
        let wide = fast()
            .with_isa(Isa::Avx512)
            .revalue_paths(&b, 5, &paths)
            .unwrap();
        let narrow = fast()
            .with_isa(Isa::Avx2Fma)
            .revalue_paths(&b, 5, &paths)
            .unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide.pnl), bits(&narrow.pnl));
        let levels = [0.99];
        let tail_len = risk::tail_len(2_000, &levels);
        let tails = |isa| {
            fast()
                .with_isa(isa)
                .tails(&b, &plan(2_000, tail_len, None), &|_| {})
                .unwrap()
        };
        assert_eq!(tails(Isa::Avx512), tails(Isa::Avx2Fma));
    }
}
