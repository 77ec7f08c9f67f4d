//! GPU vs CPU, stage by stage (skipped loudly without an adapter; `TAILRISK_REQUIRE_GPU=1`
//! makes a missing adapter a failure). Integer draws must be identical; floats agree within
//! the bounds written beside each assertion. The comparisons of states, P&L, losses and
//! tails with the f64 reference hold for every f32 backend, so they run on the CPU's f32
//! kernels too (`cpu_f32::name`, beside `gpu::name`); draws, shader math, chunk limits and
//! the fused pipeline are the GPU's own.

#[macro_use]
mod common;

use common::test_backend;
use common::{F32_LOSS_PER_GROSS, gross_in_currency};
use tailrisk::engine::Backend;
use tailrisk::engine::cpu::CpuBackend;
use tailrisk::rng::{DrawSource, STREAM_NORMAL, STREAM_UNIFORM};

/// Path indices spread over the whole u32 range, plus the edges.
fn sample_paths(n: u32) -> Vec<u32> {
    let mut paths: Vec<u32> = (0..n).map(|i| i.wrapping_mul(2_654_435_761)).collect();
    paths.extend([0, 1, u32::MAX - 1, u32::MAX]);
    paths
}

/// GPU only: both CPU precisions call the one Philox of `rng` (the f32 mode's draws are the
/// reference's by construction).
#[test]
fn philox_words_are_bit_identical() {
    let Some(gpu) = test_backend() else { return };
    let cpu = CpuBackend::new();
    let paths = sample_paths(2000);
    for (seed, step, stream) in [
        (42u64, 0u32, STREAM_NORMAL),
        (u64::MAX, 7, STREAM_UNIFORM),
        (0x0123_4567_89ab_cdef, u32::MAX, 12_345),
    ] {
        let g = gpu.philox_words(seed, &paths, step, 5, stream).unwrap();
        let c = cpu.philox_words(seed, &paths, step, 5, stream).unwrap();
        assert_eq!(g.len(), c.len());
        for (i, (a, b)) in g.iter().zip(&c).enumerate() {
            assert_eq!(a, b, "seed {seed} step {step} stream {stream}: row {i}");
        }
    }
}

/// The f32 normals differ from rng's f64 ones by the f32 rounding of u₁, u₂ and of
/// r = √(−2 ln u₁) and its product with cos/sin: a few ulp of r ≤ 6.7, i.e. < 4e-6
/// absolute in the worst case (typically ~1e-7). Bound: 1e-5. GPU only: the CPU's f32 mode
/// draws its normals in f64 (the reference's scenario stage), and `normal_blocks` is the GPU's.
#[test]
fn normals_agree_with_the_f64_reference() {
    let Some(gpu) = test_backend() else { return };
    let draws = DrawSource::new(7);
    let paths = sample_paths(25_000);
    let blocks = 2;
    let g = gpu.normal_blocks(7, &paths, 3, blocks).unwrap();
    let mut worst = (0.0f64, 0usize);
    for (i, got) in g.iter().enumerate() {
        let (p, b) = (paths[i / blocks as usize], (i % blocks as usize) as u32);
        let want = draws.normal_block(p, 3, b);
        for lane in 0..4 {
            let err = (f64::from(got[lane]) - want[lane]).abs();
            if err > worst.0 {
                worst = (err, i);
            }
            assert!(
                err < 1e-5,
                "path {p} block {b} lane {lane}: gpu {} cpu {} diff {err:e}",
                got[lane],
                want[lane]
            );
        }
    }
    eprintln!("normals: worst |gpu - cpu| = {:.3e}", worst.0);
}

// ---------------------------------------------------------------------------------------
// Stages on books.

use tailrisk::book::{Book, SourceFiles};
use tailrisk::config::RunConfig;
use tailrisk::engine::{AssetState, SimulationPlan, StressScenario, VolRule};
use tailrisk::input::{parse_config, parse_market, parse_portfolio_json};
use tailrisk::model::aggregate::account_loss;
use tailrisk::risk;

const MARKET: &str = include_str!("../data/market.json");
const PORTFOLIO: &str = include_str!("../data/portfolio.json");
const CONFIG: &str = include_str!("../data/config.json");

/// The sample book (three assets, grid surfaces, Student-t ν = 5, jumps, stochastic vol),
/// with the configuration changed by `edit`.
fn sample_book(edit: impl FnOnce(&mut RunConfig)) -> Book {
    let market = parse_market(MARKET, "market.json").unwrap();
    let portfolio = parse_portfolio_json(PORTFOLIO, "portfolio.json").unwrap();
    let mut config = parse_config(CONFIG, "config.json").unwrap();
    edit(&mut config);
    Book::compile(&market, &portfolio, &config, &SourceFiles::default()).unwrap()
}

/// Every instrument kind and settlement, with carry (rates ≠ 0), a flat and a grid surface,
/// contracts that expire inside the ten-day horizon (intrinsic settlement, F₁ = S_h), a
/// multiplier, and USD and coin-margined accounts; Student-t ν = 4, jumps, stochastic vol.
fn all_kinds_book() -> Book {
    let market = r#"{"as_of":"2026-11-20T08:00:00Z",
      "assets":{
        "BTC":{"spot":91250,"rate":0.03,"vol":0.55},
        "ETH":{"spot":3050,"rate":-0.01,"vol":{
          "expiries":["2026-11-27T08:00:00Z","2026-12-25T08:00:00Z","2027-03-26T08:00:00Z"],
          "log_moneyness":[-0.4,-0.2,0.0,0.2,0.4],
          "implied_vols":[[0.78,0.66,0.60,0.63,0.70],[0.74,0.65,0.61,0.62,0.67],
                          [0.70,0.64,0.62,0.62,0.65]]}}},
      "correlation":{"symbols":["BTC","ETH"],"matrix":[[1.0,0.8],[0.8,1.0]]}}"#;
    let positions = [
        ("BTC", 3.0),
        ("BTC-PERPETUAL", -250_000.0),
        ("BTC_USDC-PERPETUAL", 2.5),
        ("BTC-25DEC26", 400_000.0),
        ("BTC_USDC-25DEC26", -4.0),
        ("BTC-27NOV26", -100_000.0),
        ("BTC_USDC-27NOV26", 1.5),
        ("BTC-27NOV26-90000-C", 5.0),
        ("BTC-27NOV26-95000-P", -5.0),
        ("BTC-26MAR27-140000-C", -20.0),
        ("BTC-26MAR27-40000-P", 30.0),
        ("ETH-27NOV26-3000-P", 40.0),
        ("ETH_USDC-25DEC26-3200-C", -60.0),
        ("ETH_USDC-26MAR27-1500-P", 100.0),
        ("ETH-PERPETUAL", 50_000.0),
        ("ETH", -10.0),
    ];
    let list = |filter: &dyn Fn(&str) -> bool| -> String {
        positions
            .iter()
            .filter(|(name, _)| filter(name))
            .map(|(name, q)| format!(r#"{{"instrument":"{name}","quantity":{q:?}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let portfolio = format!(
        r#"{{"accounts":[
          {{"id":"all","positions":[{all},
            {{"instrument":{{"kind":"option","underlying":"ETH","right":"call","strike":2900,
              "expiry":"2026-12-25T08:00:00Z","settlement":"linear","multiplier":10}},
              "quantity":-7}}]}},
          {{"id":"btc-coin","margin_currency":"BTC","positions":[{btc}]}},
          {{"id":"eth-coin","margin_currency":"ETH","positions":[{all}]}},
          {{"id":"options","positions":[{options}]}}]}}"#,
        all = list(&|_| true),
        btc = list(&|n| n.starts_with("BTC")),
        options = list(&|n| n.ends_with("-C") || n.ends_with("-P")),
    );
    let config = r#"{"horizon_days":10,"steps":2,"student_t_dof":4,
      "dynamics":{"BTC":{"vol_of_vol":1.2,"vol_mean_reversion":4.0,"spot_vol_corr":-0.3,
                         "jump_intensity":20.0,"jump_mean":-0.05,"jump_std":0.1},
                  "ETH":{"spot_vol":0.7,"vol_of_vol":1.5,"vol_mean_reversion":2.0,
                         "jump_intensity":5.0,"jump_mean":0.02,"jump_std":0.05}}}"#;
    let market = parse_market(market, "market.json").unwrap();
    let portfolio = parse_portfolio_json(&portfolio, "portfolio.json").unwrap();
    let config = parse_config(config, "config.json").unwrap();
    Book::compile(&market, &portfolio, &config, &SourceFiles::default()).unwrap()
}

/// One-day, one-step; ten days in five steps; normal shocks without dynamics (plain GBM);
/// every instrument kind ([`all_kinds_book`]).
fn books() -> Vec<(&'static str, Book)> {
    vec![
        ("all kinds", all_kinds_book()),
        ("1d", sample_book(|_| {})),
        (
            "10d/5 steps",
            sample_book(|c| {
                c.horizon_days = 10.0;
                c.steps = 5;
            }),
        ),
        (
            "gbm",
            sample_book(|c| {
                c.student_t_dof = None;
                c.dynamics.clear();
            }),
        ),
    ]
}

fn first_paths(n: u32) -> Vec<u32> {
    (0..n)
        .map(|i| i.wrapping_mul(40_503).wrapping_add(17))
        .collect()
}

/// Horizon states: ln(S_h/S₀) and ln Y_h are sums of `steps` f32 terms of size ≤ ~0.3, and
/// jump counts are exact, so the difference is a few ulp of the terms (measured on lavapipe:
/// 4e-8 one step, 1.3e-7 five steps): bound 5e-7 × steps, absolute. (The CPU's f32 mode takes
/// its states from the f64 reference: 0.)
fn horizon_states_agree(backend: &dyn Backend) {
    let cpu = CpuBackend::new();
    let paths = first_paths(4000);
    for (name, book) in books() {
        let g = backend.revalue_paths(&book, 42, &paths).unwrap();
        let c = cpu.revalue_paths(&book, 42, &paths).unwrap();
        let bound = 5e-7 * f64::from(book.steps);
        let mut worst = 0.0f64;
        for (i, (x, y)) in g.states.iter().zip(&c.states).enumerate() {
            let d = (x.log_return - y.log_return)
                .abs()
                .max((x.log_vol - y.log_vol).abs());
            worst = worst.max(d);
            assert!(
                d <= bound,
                "{name}: path {} asset {}: f32 {x:?} f64 {y:?} diff {d:e}",
                paths[i / book.assets.len()],
                i % book.assets.len()
            );
        }
        eprintln!("{name}: states worst diff {worst:.3e} (bound {bound:.1e})");
    }
}

/// Instrument P&L per unit, relative to the instrument's notional (S₀ × multiplier, or the
/// USD notional of inverse perpetuals/futures): Black-76 in f32 on F, K ~ 1e5 has an absolute
/// error ~1e-7 × (F + K), and the states' error above moves the P&L by ~delta × S × 1e-7
/// (measured on lavapipe: 5.9e-7 × notional, five steps included; CPU f32 kernels: 3e-7).
/// Bound: F32_LOSS_PER_GROSS × notional, the per-unit error the loss and tail bounds of
/// every f32 backend rest on (see its derivation in tests/common).
fn instrument_pnl_agrees_relative_to_notional(backend: &dyn Backend) {
    let cpu = CpuBackend::new();
    let paths = first_paths(3000);
    for (name, book) in books() {
        let g = backend.revalue_paths(&book, 42, &paths).unwrap();
        let c = cpu.revalue_paths(&book, 42, &paths).unwrap();
        let n = book.instruments.len();
        let mut worst = 0.0f64;
        for (i, (x, y)) in g.pnl.iter().zip(&c.pnl).enumerate() {
            let inst = i % n;
            let rel = (x - y).abs() / book.instrument_notional(inst);
            worst = worst.max(rel);
            assert!(
                rel <= F32_LOSS_PER_GROSS,
                "{name}: path {} {}: f32 {x} f64 {y} (rel. to notional {rel:e})",
                paths[i / n],
                book.instruments[inst].label
            );
        }
        eprintln!("{name}: pnl worst diff / notional {worst:.3e}");
    }
}

/// Account losses relative to gross exposure (Σ |q| × notional): the P&L bound above, summed
/// exactly (fixed point on the GPU, f64 on the CPU), so within F32_LOSS_PER_GROSS × gross
/// (measured on lavapipe: 1.7e-7 × gross, since the instruments' errors do not align).
/// Coin-margined accounts: gross in the coin.
fn account_losses_agree_relative_to_gross_exposure(backend: &dyn Backend) {
    let cpu = CpuBackend::new();
    let paths = first_paths(3000);
    for (name, book) in books() {
        let g = backend.path_losses(&book, 42, &paths).unwrap();
        let c = cpu.revalue_paths(&book, 42, &paths).unwrap();
        let (a, n, accounts) = (
            book.assets.len(),
            book.instruments.len(),
            book.accounts.len(),
        );
        let mut worst = 0.0f64;
        for (i, &p) in paths.iter().enumerate() {
            let states: &[AssetState] = &c.states[i * a..(i + 1) * a];
            let pnl = &c.pnl[i * n..(i + 1) * n];
            for (k, account) in book.accounts.iter().enumerate() {
                let want = account_loss(&book, account, pnl, states);
                let got = g[i * accounts + k];
                let scale = gross_in_currency(&book, k);
                let rel = (got - want).abs() / scale;
                worst = worst.max(rel);
                assert!(
                    (got - want).abs() <= F32_LOSS_PER_GROSS * scale,
                    "{name}: path {p} account {}: f32 {got} f64 {want} (rel. to gross {rel:e})",
                    account.id
                );
            }
        }
        eprintln!("{name}: loss worst diff / gross {worst:.3e}");
    }
}

/// Stress scenarios (SPEC §5): grid moves of one asset under tenor-scaled vol shocks, with
/// every other instrument kept at today's value, and named joint scenarios under uniform vol
/// moves, against the CPU. Bound as for Monte Carlo P&L, F32_LOSS_PER_GROSS × notional, here
/// with moves up to +500% (measured on lavapipe: 6.0e-7). GPU only: the CPU's f32 mode runs
/// explicit scenarios on the f64 reference.
#[test]
fn stress_scenarios_agree() {
    let Some(gpu) = test_backend() else { return };
    let cpu = CpuBackend::new();
    for book in [sample_book(|_| {}), all_kinds_book()] {
        check_stress(&gpu, &cpu, &book);
    }
}

fn check_stress(gpu: &impl Backend, cpu: &impl Backend, book: &Book) {
    let a = book.assets.len();
    let mut scenarios = Vec::new();
    for asset in 0..a {
        for m in [-0.66, -0.16, -0.04, 0.0, 0.08, 1.0, 5.0] {
            for v in [-0.25f64, 0.0, 0.5] {
                let mut states = vec![AssetState::default(); a];
                states[asset] = AssetState {
                    log_return: f64::ln_1p(m),
                    log_vol: v.ln_1p(),
                };
                scenarios.push(StressScenario {
                    states,
                    vol_rule: VolRule::TenorScaled,
                    only_asset: Some(asset),
                });
            }
        }
    }
    for (spot, vol) in [(-0.5, 0.5), (0.3, -0.2), (-0.2, 1.0)] {
        scenarios.push(StressScenario {
            states: (0..a)
                .map(|i| AssetState {
                    log_return: f64::ln_1p(spot * (1.0 + 0.1 * i as f64)),
                    log_vol: f64::ln_1p(vol),
                })
                .collect(),
            vol_rule: VolRule::Uniform,
            only_asset: None,
        });
    }
    let g = gpu.revalue_scenarios(book, &scenarios).unwrap();
    let c = cpu.revalue_scenarios(book, &scenarios).unwrap();
    let n = book.instruments.len();
    assert_eq!(g.len(), c.len());
    let mut worst = 0.0f64;
    for (i, (x, y)) in g.iter().zip(&c).enumerate() {
        let s = &scenarios[i / n];
        let inst = i % n;
        if s.only_asset
            .is_some_and(|o| o != book.instruments[inst].asset)
        {
            assert_eq!(
                *x,
                0.0,
                "scenario {} keeps other assets at today's value",
                i / n
            );
        }
        let rel = (x - y).abs() / book.instrument_notional(inst);
        worst = worst.max(rel);
        assert!(
            rel <= F32_LOSS_PER_GROSS,
            "scenario {} {}: gpu {x} cpu {y} (rel. to notional {rel:e})",
            i / n,
            book.instruments[inst].label
        );
    }
    eprintln!("stress: pnl worst diff / notional {worst:.3e}");
}

/// The f32 normal CDF of `shaders/shared/black76.wgsl` against `pricing::norm_cdf` (f64):
/// measured on lavapipe, absolute error 1.9e-7 everywhere and relative error 4.4e-7 in the
/// lower tail down to Φ ~ 1e-30 (x ≥ −11.5); ln, exp, expm1 within 1.4e-7 relative.
/// Bounds: 2.5e-7 absolute, 1e-6 relative in the tail, 5e-7 relative for ln/exp/expm1.
/// GPU only (the shaders' probe); the fast kernels' f32 math is measured in its own module.
#[test]
fn shader_math_matches_the_f64_reference() {
    let Some(gpu) = test_backend() else { return };
    let xs: Vec<f32> = (0..=46_000).map(|i| -11.5 + i as f32 * 0.0005).collect();
    let got = gpu.probe_math(&xs).unwrap();
    let (mut abs_cdf, mut rel_tail, mut rel_ln, mut rel_exp, mut rel_expm1) =
        (0f64, 0f64, 0f64, 0f64, 0f64);
    for (&x, r) in xs.iter().zip(&got) {
        let xd = f64::from(x);
        let phi = tailrisk::pricing::norm_cdf(xd);
        abs_cdf = abs_cdf.max((f64::from(r[0]) - phi).abs());
        if x < 0.0 {
            rel_tail = rel_tail.max((f64::from(r[0]) / phi - 1.0).abs());
        }
        if x != 0.0 {
            let l = xd.abs().ln();
            rel_ln = rel_ln.max((f64::from(r[1]) - l).abs() / l.abs().max(1e-30));
        }
        if x.abs() < 80.0 {
            rel_exp = rel_exp.max((f64::from(r[2]) / xd.exp() - 1.0).abs());
        }
        if x != 0.0 {
            rel_expm1 = rel_expm1.max((f64::from(r[3]) / xd.exp_m1() - 1.0).abs());
        }
    }
    eprintln!(
        "Φ: abs {abs_cdf:.2e}, lower-tail rel {rel_tail:.2e}; ln rel {rel_ln:.2e}; \
         exp rel {rel_exp:.2e}; expm1 rel {rel_expm1:.2e}"
    );
    assert!(abs_cdf <= 2.5e-7, "Φ absolute error {abs_cdf:e}");
    assert!(rel_tail <= 1e-6, "Φ lower-tail relative error {rel_tail:e}");
    assert!(rel_ln <= 5e-7, "ln relative error {rel_ln:e}");
    assert!(rel_exp <= 5e-7, "exp relative error {rel_exp:e}");
    assert!(rel_expm1 <= 5e-7, "expm1 relative error {rel_expm1:e}");
}

fn sample_plan(paths: u64, chunk_paths: Option<u32>) -> SimulationPlan {
    SimulationPlan {
        paths,
        first_path: 0,
        seed: 42,
        tail_len: risk::tail_len(paths, &[0.99, 0.995]),
        chunk_paths,
    }
}

/// Tails on the sample book at 30 000 paths: VaR and ES at 99% and 99.5% within the per-path
/// loss bound above of the f64 reference's (order statistics are 1-Lipschitz in the sup norm
/// over paths), and the same tail paths except near-ties: a path in the reference's tail
/// only has L₆₄ ≥ last₆₄ and L₃₂ ≤ last₃₂, so with |L₃₂ − L₆₄| ≤ ε and |last₃₂ − last₆₄| ≤ ε
/// it lies within 2ε of the reference tail's last loss.
fn tails_agree_with_the_cpu(backend: &dyn Backend) {
    let cpu = CpuBackend::new();
    let book = sample_book(|_| {});
    let plan = sample_plan(30_000, None);
    let g = backend.tails(&book, &plan, &|_| {}).unwrap();
    let c = cpu.tails(&book, &plan, &|_| {}).unwrap();
    for (k, (gt, ct)) in g.iter().zip(&c).enumerate() {
        let id = &book.accounts[k].id;
        assert_eq!(gt.worst.len(), plan.tail_len, "{id}");
        let eps = F32_LOSS_PER_GROSS * gross_in_currency(&book, k);
        for conf in [0.99, 0.995] {
            let gm = risk::measure(gt, plan.paths, conf);
            let cm = risk::measure(ct, plan.paths, conf);
            for (what, x, y) in [("VaR", gm.var, cm.var), ("ES", gm.es, cm.es)] {
                assert!(
                    (x - y).abs() <= eps,
                    "{id} {what}({conf}): f32 {x} f64 {y} (bound {eps:e})"
                );
            }
        }
        let tol = 2.0 * eps;
        let last = ct.worst.last().unwrap().loss;
        let gpu_paths: std::collections::HashSet<u32> = gt.worst.iter().map(|e| e.path).collect();
        let mut missing = 0;
        for e in &ct.worst {
            if !gpu_paths.contains(&e.path) {
                missing += 1;
                assert!(
                    (e.loss - last).abs() <= tol,
                    "{id}: path {} (loss {}) is in the CPU tail only, far from its end {last}",
                    e.path,
                    e.loss
                );
            }
        }
        eprintln!(
            "{id}: {missing} of {} tail paths differ (near-ties)",
            plan.tail_len
        );
    }
}

/// The same run with different chunk sizes (a power of two, an odd size, the default) gives
/// bit-identical tails.
fn tails_do_not_depend_on_chunk_size(backend: &dyn Backend) {
    let book = sample_book(|_| {});
    let reference = backend
        .tails(&book, &sample_plan(20_000, None), &|_| {})
        .unwrap();
    for chunk in [4096, 7001] {
        let chunked = backend
            .tails(&book, &sample_plan(20_000, Some(chunk)), &|_| {})
            .unwrap();
        assert_eq!(chunked, reference, "chunk {chunk}");
    }
}

/// Stage timing comes with the call that asked for it and changes no bit: without it the
/// GPU measures nothing (one submission per chunk), with it every stage has its seconds.
#[test]
fn stage_timing_is_returned_per_call_and_changes_no_result() {
    use tailrisk::engine::StageTiming;
    let Some(gpu) = test_backend() else { return };
    for (accounts, fused) in [(1, true), (40, false)] {
        let book = tailrisk::bench_book::generated_book(48, 3, accounts, 5);
        let plan = sample_plan(10_000, Some(3000));
        let plain = gpu
            .run_tails(&book, &plan, StageTiming::IfFree, &|_| {})
            .unwrap();
        assert_eq!(plain.stage_seconds, None, "fused {fused}");
        let timed = gpu
            .run_tails(&book, &plan, StageTiming::Always, &|_| {})
            .unwrap();
        let s = timed.stage_seconds.expect("timing was asked for");
        assert!(s.scenario > 0.0 && s.revalue > 0.0 && s.aggregate > 0.0 && s.tail > 0.0);
        assert_eq!(timed.tails, plain.tails, "fused {fused}");
        assert_eq!(gpu.tails(&book, &plan, &|_| {}).unwrap(), plain.tails);
    }
}

/// Ties: an account without positions loses exactly 0 on every path, so its tail is the
/// lowest path indices (on the GPU, the radix select's passes on the path), as on the f64
/// reference; a tail longer than a chunk keeps every loss of it.
fn tied_losses_keep_the_lowest_paths(backend: &dyn Backend) {
    let cpu = CpuBackend::new();
    let market = parse_market(MARKET, "market.json").unwrap();
    let portfolio = parse_portfolio_json(
        r#"{"accounts":[{"id":"flat","positions":[]},
            {"id":"spot","positions":[{"instrument":"ETH","quantity":3}]}]}"#,
        "portfolio.json",
    )
    .unwrap();
    let config = parse_config(CONFIG, "config.json").unwrap();
    let book = Book::compile(&market, &portfolio, &config, &SourceFiles::default()).unwrap();
    for (paths, tail_len, chunk) in [(10_000u64, 300usize, None), (5_000, 700, Some(512))] {
        let plan = SimulationPlan {
            paths,
            first_path: 0,
            seed: 9,
            tail_len,
            chunk_paths: chunk,
        };
        let g = backend.tails(&book, &plan, &|_| {}).unwrap();
        let c = cpu.tails(&book, &plan, &|_| {}).unwrap();
        let flat: Vec<u32> = g[0].worst.iter().map(|e| e.path).collect();
        assert_eq!(flat, (0..tail_len as u32).collect::<Vec<_>>());
        assert_eq!(g[0], c[0]);
        let gp: Vec<u32> = g[1].worst.iter().map(|e| e.path).collect();
        let cp: Vec<u32> = c[1].worst.iter().map(|e| e.path).collect();
        assert_eq!(gp, cp, "a spot holding has no near-ties at this size");
    }
}

/// Chunks fit the adapter: every per-chunk array (states 8·assets, P&L 4·instruments, losses
/// 4·accounts bytes per path) within one storage binding and the scenario tiles within one
/// dispatch dimension; a request beyond that is cut, a small one is kept. GPU only: adapter
/// limits.
#[test]
fn chunks_fit_the_adapter_limits() {
    let Some(gpu) = test_backend() else { return };
    let limits = &gpu.context().limits;
    let binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    for book in [sample_book(|_| {}), all_kinds_book()] {
        let per_path = (8 * book.assets.len())
            .max(4 * book.instruments.len())
            .max(4 * book.accounts.len()) as u64;
        for requested in [None, Some(u32::MAX)] {
            let chunk = gpu.chunk_paths(&book, requested).unwrap();
            assert!(chunk >= 1 && chunk * per_path <= binding, "chunk {chunk}");
            assert!(chunk <= u64::from(limits.max_compute_workgroups_per_dimension) * 256);
        }
        assert_eq!(gpu.chunk_paths(&book, Some(1000)).unwrap(), 1000);
    }
}

/// Both forms of the Monte Carlo pipeline: a book of one account holding every instrument
/// once runs fused (`revalue_accumulate` → `finish`), a book of many accounts sharing few
/// instruments runs factored (P&L rows → `aggregate`); each agrees with the CPU's VaR and
/// ES within the per-path loss bound F32_LOSS_PER_GROSS × gross (1-Lipschitz order
/// statistics, as in `tails_agree_with_the_cpu`). GPU only: the two forms are the GPU
/// pipeline's; the CPU's f32 tails run on the generated book in tests/gpu_agreement.rs.
#[test]
fn fused_and_factored_books_agree_with_the_cpu() {
    let Some(gpu) = test_backend() else { return };
    let cpu = CpuBackend::new();
    for (accounts, fused) in [(1, true), (40, false)] {
        let book = tailrisk::bench_book::generated_book(48, 3, accounts, 5);
        let revalue = tailrisk::engine::gpu::stage::RevalueBook::new(&book).unwrap();
        assert_eq!(revalue.fused, fused, "{accounts} accounts");
        let plan = sample_plan(20_000, None);
        let g = gpu.tails(&book, &plan, &|_| {}).unwrap();
        let c = cpu.tails(&book, &plan, &|_| {}).unwrap();
        for (k, (gt, ct)) in g.iter().zip(&c).enumerate() {
            let eps = F32_LOSS_PER_GROSS * gross_in_currency(&book, k);
            for conf in [0.99, 0.995] {
                let gm = risk::measure(gt, plan.paths, conf);
                let cm = risk::measure(ct, plan.paths, conf);
                for (what, x, y) in [("VaR", gm.var, cm.var), ("ES", gm.es, cm.es)] {
                    assert!(
                        (x - y).abs() <= eps,
                        "{accounts} accounts, account {k} {what}({conf}): gpu {x} cpu {y}"
                    );
                }
            }
        }
    }
}

on_every_f32_backend!(
    horizon_states_agree,
    instrument_pnl_agrees_relative_to_notional,
    account_losses_agree_relative_to_gross_exposure,
    tails_agree_with_the_cpu,
    tails_do_not_depend_on_chunk_size,
    tied_losses_keep_the_lowest_paths,
);
