//! Stress and margin (issue #4, SPEC §5–§7), written once and run on every backend: named
//! scenarios against hand-computed Black-76 values, grid losses of a single option against a
//! direct computation, margin components against the formula, coin-margined figures against
//! the USD figures converted path by path, a delta-hedged straddle; plus the scenarios file's
//! validation and the `stress` command.

#[macro_use]
mod common;

use common::*;
use tailrisk::book::Book;
use tailrisk::config::{RunConfig, StressConfig};
use tailrisk::engine::Backend;
use tailrisk::engine::{AssetState, VolRule};
use tailrisk::greeks::{account_greeks, account_greeks_usd, instrument_greeks};
use tailrisk::instrument::Right;
use tailrisk::margin::{
    ADV_FALLBACK_USD, IMPACT_COEFFICIENT, SHORT_OPTION_MINIMUM_RATE, VEGA_CAPACITY_PER_ADV,
};
use tailrisk::market::VolSurface;
use tailrisk::model::revalue::{RevalueModel, tenor_weight};
use tailrisk::pricing::black76;
use tailrisk::run::evaluate;
use tailrisk::stress::{ScenarioSet, StressResults, run_stress};

const DAY: f64 = 1.0 / 365.0;

/// Black-76 value of one option on the surface with sticky moneyness, the vol times `factor`.
fn option_value(
    surface: &VolSurface,
    right: Right,
    spot: f64,
    strike: f64,
    tau: f64,
    rate: f64,
    factor: f64,
) -> f64 {
    let forward = spot * (rate * tau).exp();
    let vol = surface.vol(tau, (strike / forward).ln()) * factor;
    black76(right, forward, strike, vol, tau, rate)
}

fn stress_of(book: &Book, backend: &dyn Backend, scenarios: &ScenarioSet) -> StressResults {
    let named = scenarios.resolve(book).expect("scenarios resolve");
    run_stress(book, backend, &StressConfig::default(), named).expect("stress runs")
}

const TWO_SCENARIOS: &str = r#"[
  {"name": "crash", "shocks": {"BTC": {"spot": -0.3, "vol": 0.5}, "ETH": {"spot": -0.4, "vol": 0.8}}},
  {"name": "eth-rally", "shocks": {"ETH": {"spot": 0.2, "vol": -0.2}}}
]"#;

/// Named scenarios by hand: every position repriced at as_of + 1 day with S' = S(1 + spot),
/// σ' = σ_surface(τ₁, ln(K/F₁))·(1 + vol), τ from the calendar (25DEC26 is 35 days after
/// as_of, 4DEC26 14 days). The coin account's loss is −(V₁/S₁ − V₀/S₀) in BTC; an asset the
/// scenario does not name (BTC in `eth-rally`) only decays.
fn named_scenarios_match_black76(backend: &dyn Backend) {
    let cfg = RunConfig::default();
    let positions = vec![
        ("ETH-25DEC26-2800-P", 10.0),
        ("ETH-4DEC26-3200-C", -7.0),
        ("BTC-25DEC26-100000-C", 2.0),
        ("BTC_USDC-PERPETUAL", -1.5),
        ("BTC-25DEC26", 50_000.0),
    ];
    let mut coin_positions = positions.clone();
    coin_positions.push(("BTC", 3.0));
    let b = book(
        &two_asset_market(),
        &portfolio(&[("usd", "USD", positions), ("coin", "BTC", coin_positions)]),
        &cfg,
    );
    let set = ScenarioSet::parse(TWO_SCENARIOS, "scenarios.json").expect("parses");
    let stress = stress_of(&b, backend, &set);

    let (btc, eth) = (&b.assets[0].surface, &b.assets[1].surface);
    let (s_btc, s_eth, r_btc) = (91_250.0, 3_050.0, 0.01);
    let (t35, t14, h) = (35.0 * DAY, 14.0 * DAY, DAY);
    // (USD value today, USD value in the scenario) of the shared positions.
    let values = |btc_move: (f64, f64), eth_move: (f64, f64)| -> (f64, f64) {
        let (sb, se) = (s_btc * (1.0 + btc_move.0), s_eth * (1.0 + eth_move.0));
        let (fb, fe) = (1.0 + btc_move.1, 1.0 + eth_move.1);
        let put0 = option_value(eth, Right::Put, s_eth, 2800.0, t35, 0.0, 1.0);
        let put1 = option_value(eth, Right::Put, se, 2800.0, t35 - h, 0.0, fe);
        let call_e0 = option_value(eth, Right::Call, s_eth, 3200.0, t14, 0.0, 1.0);
        let call_e1 = option_value(eth, Right::Call, se, 3200.0, t14 - h, 0.0, fe);
        let call_b0 = option_value(btc, Right::Call, s_btc, 100_000.0, t35, r_btc, 1.0);
        let call_b1 = option_value(btc, Right::Call, sb, 100_000.0, t35 - h, r_btc, fb);
        let perp1 = sb - s_btc;
        let (f0, f1) = (s_btc * (r_btc * t35).exp(), sb * (r_btc * (t35 - h)).exp());
        let future1 = 50_000.0 * (1.0 / f0 - 1.0 / f1) * sb;
        let v0 = 10.0 * put0 - 7.0 * call_e0 + 2.0 * call_b0;
        let v1 = 10.0 * put1 - 7.0 * call_e1 + 2.0 * call_b1 - 1.5 * perp1 + future1;
        (v0, v1)
    };
    let moves = [((-0.3, 0.5), (-0.4, 0.8)), ((0.0, 0.0), (0.2, -0.2))];
    let (scale, coin_gross) = (b.gross_exposure(0), gross_in_currency(&b, 1));
    for (s, &(bm, em)) in moves.iter().enumerate() {
        let (v0, v1) = values(bm, em);
        let usd = -(v1 - v0);
        let (c0, c1) = (v0 + 3.0 * s_btc, v1 + 3.0 * s_btc * (1.0 + bm.0));
        let coin = -(c1 / (s_btc * (1.0 + bm.0)) - c0 / s_btc);
        // The engine and this test round differently (expm1 forms, summation order): 1e-12 of
        // the gross exposure bounds a few ulps of every term. An f32 backend's scenario P&L
        // per unit is within F32_LOSS_PER_GROSS of notional, so the account's loss within
        // that of the gross exposure (common::F32_LOSS_PER_GROSS).
        let tol = 1e-12 * scale + f32_loss_error(backend, scale);
        let got = stress.accounts[0].named_losses[s];
        assert!(
            (got - usd).abs() < tol,
            "scenario {s}: USD loss {got} vs {usd}"
        );
        let got = stress.accounts[1].named_losses[s];
        // The same in BTC: the coin account's USD P&L error (its gross exposure, the 3 BTC
        // included) converted at S₁ ≥ 0.7·S₀.
        let coin_tol = 1e-12 * scale / s_btc + f32_loss_error(backend, coin_gross) / 0.7;
        assert!(
            (got - coin).abs() < coin_tol,
            "scenario {s}: BTC loss {got} vs {coin}"
        );
    }
    let losses = &stress.accounts[0].named_losses;
    let argmax = if losses[1] > losses[0] { 1 } else { 0 };
    assert_eq!(stress.accounts[0].worst_named, Some(argmax));
}

/// Each grid point of a short call by hand: S' = S(1 + m), σ' = σ_surface(τ₁, k₁)·(1 + v)^{w(τ₁)},
/// w = (30/13)^0.30 for the 13 days left at the horizon; extended moves count at 0.16/|m|. A
/// second account adds a BTC call: the ETH grid must not see it (other positions keep today's
/// value, no decay), and its BTC grid is that call's alone.
fn grid_losses_of_a_single_option(backend: &dyn Backend) {
    let cfg = RunConfig::default();
    let b = book(
        &two_asset_market(),
        &portfolio(&[
            ("single", "USD", vec![("ETH-4DEC26-3200-C", -10.0)]),
            (
                "mixed",
                "USD",
                vec![("ETH-4DEC26-3200-C", -10.0), ("BTC-25DEC26-100000-C", 1.0)],
            ),
        ]),
        &cfg,
    );
    let stress = stress_of(&b, backend, &ScenarioSet::built_in());
    let eth = &b.assets[1].surface;
    let btc = &b.assets[0].surface;
    let w_eth = (30.0f64 / 13.0).powf(0.30);
    assert!((tenor_weight(13.0 * DAY) - w_eth).abs() < 1e-14);
    let w_btc = (30.0f64 / 34.0).powf(0.13);
    let call0 = option_value(eth, Right::Call, 3050.0, 3200.0, 14.0 * DAY, 0.0, 1.0);
    let btc0 = option_value(btc, Right::Call, 91_250.0, 100_000.0, 35.0 * DAY, 0.01, 1.0);
    let scale = 10.0 * 3050.0 + 91_250.0;
    // Rounding of two Black-76 evaluations per point: 1e-12 of the notional (the mixed
    // account's gross exposure); an f32 backend's P&L per unit within F32_LOSS_PER_GROSS of
    // notional, up to +500% moves (measured there too, tests/gpu_equivalence.rs).
    let tol = 1e-12 * scale + f32_loss_error(backend, scale);

    let mut worst = [(f64::NEG_INFINITY, 0usize); 2];
    let (single, mixed) = (&stress.accounts[0], &stress.accounts[1]);
    let points = &stress.grid;
    assert_eq!(
        points.len(),
        2 * (9 * 3 + 6 * 2),
        "39 points per asset by default"
    );
    for (i, p) in points.iter().enumerate() {
        let (m, v) = (p.price_move, p.vol_move);
        let expected_fraction = if p.extended { 0.16 / m.abs() } else { 1.0 };
        assert!((p.fraction - expected_fraction).abs() < 1e-15);
        let (eth_loss, btc_loss) = if p.asset == 1 {
            let c1 = option_value(
                eth,
                Right::Call,
                3050.0 * (1.0 + m),
                3200.0,
                13.0 * DAY,
                0.0,
                (1.0 + v).powf(w_eth),
            );
            (-(-10.0) * (c1 - call0), 0.0)
        } else {
            let c1 = option_value(
                btc,
                Right::Call,
                91_250.0 * (1.0 + m),
                100_000.0,
                34.0 * DAY,
                0.01,
                (1.0 + v).powf(w_btc),
            );
            (0.0, -(c1 - btc0))
        };
        assert!(
            (single.grid_losses[i] - eth_loss).abs() < tol,
            "point {i} ({m}, {v}): {} vs {eth_loss}",
            single.grid_losses[i]
        );
        assert!(
            (mixed.grid_losses[i] - (eth_loss + btc_loss)).abs() < tol,
            "mixed point {i} ({m}, {v}): {} vs {}",
            mixed.grid_losses[i],
            eth_loss + btc_loss
        );
        let counted = p.fraction * (eth_loss + btc_loss);
        if counted > worst[p.asset].0 + tol {
            worst[p.asset] = (counted, i);
        }
    }
    // The engine's worst point of each asset is this test's, or one whose counted loss ties
    // with it within the rounding tolerance (at +500% the short call is all intrinsic value,
    // whatever the vol move).
    let engine_worst = [mixed.worst_grid[0], single.worst_grid[1]].map(|w| w.expect("points"));
    for a in 0..2 {
        let (w, expected) = (engine_worst[a], worst[a]);
        let account = if a == 0 { mixed } else { single };
        let counted = points[w].fraction * account.grid_losses[w];
        assert!(
            w == expected.1 || (counted - expected.0).abs() < 2.0 * tol,
            "asset {a}: worst {w} vs {}",
            expected.1
        );
    }
    let expected = worst[1].0.max(0.0);
    assert!(
        (single.grid_loss - expected).abs() < tol,
        "grid loss {} vs {expected}",
        single.grid_loss
    );
    let expected = worst[0].0.max(0.0) + worst[1].0.max(0.0);
    assert!(
        (mixed.grid_loss - expected).abs() < 2.0 * tol,
        "mixed grid loss {} vs {expected}",
        mixed.grid_loss
    );
    // A short call loses most on the largest up-move.
    let w = &points[worst[1].1];
    assert!(w.price_move == 5.0, "worst ETH point {w:?}");
    // A long BTC call: down and vol down.
    let w = &points[worst[0].1];
    assert!(
        w.price_move < 0.0 && w.vol_move == -0.25,
        "worst BTC point {w:?}"
    );
}

/// The sample book: every margin component against SPEC §6 and the documented add-on and
/// minimum recomputed from the report's Greeks and positions; scaling the book by c scales ES,
/// grid, scenario and minimum by c and the add-on by c^{3/2}; a flat book has no margin.
fn margin_components_follow_the_formula(backend: &dyn Backend) {
    let inputs = sample_inputs(20_000);
    let ev = evaluate(&inputs, backend, &|_| {}).expect("evaluates");
    let book = &ev.sim.book;
    let f = &ev.figures;
    let unit = instrument_greeks(book);
    for (i, account) in book.accounts.iter().enumerate() {
        let m = &f.margins[i];
        let s = &f.stress.accounts[i];
        assert_eq!(m.es, ev.sim.accounts[i].margin_es.es);
        assert_eq!(m.grid, s.grid_loss);
        let worst = s
            .named_losses
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(m.scenario, worst);
        let im = (m.es.max(m.grid).max(m.scenario) + m.liquidity)
            .max(m.short_option_minimum)
            .max(0.0);
        // Same operations in another order: a few ulps.
        assert!(
            (m.initial - im).abs() <= 1e-12 * im.abs(),
            "{}: IM {} vs {im}",
            account.id,
            m.initial
        );
        assert!((m.maintenance - 0.75 * m.initial).abs() <= 1e-12 * m.initial);

        // The add-on from its definition, in USD then in the account's currency.
        let unit_value = match account.currency {
            tailrisk::book::Currency::Usd => 1.0,
            tailrisk::book::Currency::Coin(c) => book.assets[c].spot,
        };
        let g = account_greeks(book, account, &unit);
        let liquidity: f64 = g
            .iter()
            .enumerate()
            .map(|(a, g)| {
                let adv = book.assets[a].adv_usd.unwrap_or(ADV_FALLBACK_USD);
                let sigma_day = book.assets[a].dynamics.spot_vol * DAY.sqrt();
                let (d, v) = ((g.delta * unit_value).abs(), (g.vega * unit_value).abs());
                IMPACT_COEFFICIENT * sigma_day * d.powf(1.5) / adv.sqrt()
                    + v.powf(1.5) / (VEGA_CAPACITY_PER_ADV * adv).sqrt()
            })
            .sum::<f64>()
            / unit_value;
        assert!(
            (m.liquidity - liquidity).abs() <= 1e-12 * liquidity,
            "{}: add-on",
            account.id
        );
        // Short-option minimum: 1% of the spot per net short contract, max(calls, puts) per asset.
        let mut short = vec![(0.0, 0.0); book.assets.len()];
        for e in &account.exposures {
            let row = &book.instruments[e.instrument];
            if row.spec.right.is_some() && e.quantity < 0.0 {
                let q = -e.quantity * row.spec.multiplier;
                match row.right() {
                    Right::Call => short[row.asset].0 += q,
                    Right::Put => short[row.asset].1 += q,
                }
            }
        }
        let som: f64 = short
            .iter()
            .enumerate()
            .map(|(a, &(c, p))| SHORT_OPTION_MINIMUM_RATE * book.assets[a].spot * c.max(p))
            .sum::<f64>()
            / unit_value;
        assert!(
            (m.short_option_minimum - som).abs() <= 1e-12 * som,
            "{}: minimum",
            account.id
        );
    }
    // The vol seller holds short options: its minimum is positive; the pair trade has none.
    let id = |name: &str| {
        book.accounts
            .iter()
            .position(|a| a.id == name)
            .expect("account")
    };
    assert!(f.margins[id("vol-seller")].short_option_minimum > 0.0);
    assert_eq!(f.margins[id("pair-trade")].short_option_minimum, 0.0);
    assert!(f.margins[id("pair-trade")].liquidity > 0.0);

    // Scaling by c = 4: ES, grid, scenario and minimum × 4 (exact in binary floating point up to
    // the rounding of products), add-on × 4^{3/2} = 8.
    let scaled_portfolio = {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/portfolio.json"))
                .expect("sample portfolio");
        let mut p = tailrisk::input::parse_portfolio_json(&text, "portfolio.json").expect("parses");
        for a in &mut p.accounts {
            for pos in &mut a.positions {
                pos.quantity *= 4.0;
            }
        }
        p
    };
    let mut scaled = inputs.clone();
    scaled.portfolio = scaled_portfolio;
    let ev4 = evaluate(&scaled, backend, &|_| {}).expect("evaluates");
    for (i, account) in book.accounts.iter().enumerate() {
        let (m1, m4) = (&f.margins[i], &ev4.figures.margins[i]);
        // 1e-9 relative: the losses are sums of scaled terms, rounded once more. ES, grid
        // and scenario losses come from the backend: on f32, the scaled book's figure is
        // within f32_loss_error(4·gross) of its f64 value and 4× the book's within
        // 4·f32_loss_error(gross), 8·f32_loss_error(gross) together. Minimum and add-on are
        // host f64 (positions and Greeks), no slack.
        let backend_slack = 8.0 * f32_loss_error(backend, gross_in_currency(book, i));
        let close = |a: f64, b: f64, slack: f64, what: &str| {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs() + slack,
                "{}: {what} {a} vs {b}",
                account.id
            );
        };
        close(m4.es, 4.0 * m1.es, backend_slack, "ES");
        close(m4.grid, 4.0 * m1.grid, backend_slack, "grid");
        close(m4.scenario, 4.0 * m1.scenario, backend_slack, "scenario");
        close(
            m4.short_option_minimum,
            4.0 * m1.short_option_minimum,
            0.0,
            "minimum",
        );
        close(m4.liquidity, 8.0 * m1.liquidity, 0.0, "liquidity add-on");
    }

    // A flat book: every position against its exact offset.
    let cfg = config(2_000, 5, &[0.99]);
    let flat = run_inputs(
        &two_asset_market(),
        &portfolio(&[(
            "flat",
            "USD",
            vec![
                ("BTC-25DEC26-90000-C", 3.0),
                ("ETH-PERPETUAL", 1000.0),
                ("BTC-25DEC26-90000-C", -3.0),
                ("ETH-PERPETUAL", -1000.0),
            ],
        )]),
        cfg,
        ScenarioSet::built_in(),
    );
    let ev = evaluate(&flat, backend, &|_| {}).expect("evaluates");
    let m = &ev.figures.margins[0];
    assert_eq!(
        (m.initial, m.liquidity, m.short_option_minimum),
        (0.0, 0.0, 0.0),
        "{m:?}"
    );
}

/// SPEC §7: a BTC-margined account's losses are the USD losses of the same positions converted
/// path by path, L_BTC = −((V₀ + P)/S₁ − V₀/S₀), on every tail path regenerated alone; its ES is
/// the mean of the converted tail; its stress losses are the USD stress losses converted at the
/// stressed BTC spot; an inverse future's coin loss is exactly −q(1/F₀ − 1/F₁).
fn coin_margined_is_usd_converted_path_by_path(backend: &dyn Backend) {
    let positions = vec![
        ("BTC", 5.0),
        ("BTC-25DEC26-100000-C", -3.0),
        ("ETH-25DEC26-3000-P", 20.0),
        ("BTC-PERPETUAL", -200_000.0),
        ("BTC_USDC-26MAR27", 0.7),
    ];
    let cfg = config(20_000, 17, &[0.99]);
    let b = book(
        &two_asset_market(),
        &portfolio(&[
            ("usd", "USD", positions.clone()),
            ("coin", "BTC", positions),
            ("inverse", "BTC", vec![("BTC-25DEC26", 100_000.0)]),
        ]),
        &cfg,
    );
    // V₀ of the USD account (the same positions, the 5 BTC included: the coin account leaves
    // them out of its own base value, their coin value being constant).
    let (s0, v0) = (b.assets[0].spot, b.accounts[0].base_value_usd);
    let future = b
        .instruments
        .iter()
        .position(|r| r.label == "BTC-25DEC26")
        .expect("future");
    let (f0, tau1, rate) = (
        b.instruments[future].forward0,
        b.instruments[future].tau0 - b.horizon,
        0.01,
    );
    let sim = run(b, &cfg, backend);
    let b = &sim.book;
    let scale = b.gross_exposure(1) / s0;
    // The tail's losses against the conversion of the P&L the backend regenerates for the
    // same paths, in f64 here: on an f32 backend the tail loss may be made in f32 (the GPU
    // converts on the device), within the f32 loss error of the gross exposure in BTC.
    let tol = 1e-12 * scale + f32_loss_error(backend, scale);

    for account in [1usize, 2] {
        let tail = &sim.accounts[account].tail.worst;
        let paths: Vec<u32> = tail.iter().map(|e| e.path).collect();
        let rev = backend
            .revalue_paths(b, cfg.seed, &paths)
            .expect("regenerates");
        let (na, ni) = (b.assets.len(), b.instruments.len());
        let mut converted = Vec::new();
        for (j, e) in tail.iter().enumerate() {
            let states = &rev.states[j * na..(j + 1) * na];
            let pnl = &rev.pnl[j * ni..(j + 1) * ni];
            let s1 = s0 * states[0].log_return.exp();
            let usd_pnl: f64 = b.accounts[account]
                .exposures
                .iter()
                .map(|x| x.quantity * pnl[x.instrument])
                .sum();
            let base = b.accounts[account].base_value_usd;
            let coin = -((base + usd_pnl) / s1 - base / s0);
            assert!(
                (e.loss - coin).abs() < tol,
                "path {}: {} vs converted {coin}",
                e.path,
                e.loss
            );
            if account == 1 {
                // The USD account on the same path loses −P, P including the 5 BTC that the
                // coin account leaves out of its exposures (its coin value is constant).
                let usd = tailrisk::model::aggregate::account_loss(b, &b.accounts[0], pnl, states);
                let spot = b.instruments.iter().position(|r| r.label == "BTC").unwrap();
                // Both from the same regenerated P&L, in f64 on the host: rounding only,
                // whatever the backend's precision.
                let scale_usd = b.gross_exposure(0);
                assert!((usd + usd_pnl + 5.0 * pnl[spot]).abs() <= 1e-12 * scale_usd);
            } else {
                let f1 = s1 * (rate * tau1).exp();
                let exact = -100_000.0 * (1.0 / f0 - 1.0 / f1);
                // Exact in coin terms: a few ulps of q/F; on f32, the f32 loss error of the
                // account's gross exposure q/S₀ (BTC).
                let ulps = 1e-13 * 100_000.0 / s0 + f32_loss_error(backend, 100_000.0 / s0);
                assert!(
                    (e.loss - exact).abs() < ulps,
                    "inverse future path {}: {} vs {exact}",
                    e.path,
                    e.loss
                );
            }
            converted.push(coin);
        }
        let m = &sim.accounts[account].margin_es;
        let es = converted[..m.k].iter().sum::<f64>() / m.k as f64;
        assert!((m.es - es).abs() < tol, "ES {} vs converted {es}", m.es);
        assert!((m.var - converted[m.k - 1]).abs() < tol);
    }

    // Stress: the coin account's loss in every scenario is the USD account's converted at the
    // scenario's BTC spot.
    let stress = stress_of(b, backend, &ScenarioSet::built_in());
    let convert = |usd_loss: f64, s1: f64| -((v0 - usd_loss) / s1 - v0 / s0);
    for (i, p) in stress.grid.iter().enumerate() {
        let s1 = if p.asset == 0 {
            s0 * (1.0 + p.price_move)
        } else {
            s0
        };
        let expected = convert(stress.accounts[0].grid_losses[i], s1);
        assert!(
            (stress.accounts[1].grid_losses[i] - expected).abs() < tol,
            "grid point {i}"
        );
    }
    for (i, n) in stress.named.iter().enumerate() {
        let s1 = s0 * (1.0 + n.shocks[0].spot);
        let expected = convert(stress.accounts[0].named_losses[i], s1);
        assert!(
            (stress.accounts[1].named_losses[i] - expected).abs() < tol,
            "scenario {}",
            n.name
        );
        // The inverse future, exact.
        let f1 = s1 * (rate * tau1).exp();
        let exact = -100_000.0 * (1.0 / f0 - 1.0 / f1);
        assert!(
            (stress.accounts[2].named_losses[i] - exact).abs()
                < 1e-13 * 100_000.0 / s0 + f32_loss_error(backend, 100_000.0 / s0)
        );
    }
}

/// SPEC §7: coin collateral has no coin risk. A BTC-margined account holding only BTC loses
/// exactly 0 on every path and in every stress, with VaR, ES, margin and component ES exactly
/// 0 (not the ~1e-16 rounding of q·S₁/S₁ − q·S₀/S₀); a covered call's figures are those of
/// the bare call bit for bit, with the collateral's component ES exactly 0.
fn coin_collateral_has_no_coin_risk(backend: &dyn Backend) {
    let call = ("BTC-25DEC26-100000-C", -2.0);
    let cfg = config(20_000, 5, &[0.99, 0.995]);
    let b = book(
        &two_asset_market(),
        &portfolio(&[
            ("flat", "BTC", vec![("BTC", 7.0)]),
            ("covered", "BTC", vec![("BTC", 2.0), call]),
            ("call", "BTC", vec![call]),
        ]),
        &cfg,
    );
    let sim = run(b, &cfg, backend);
    let flat = &sim.accounts[0];
    for m in flat.measures.iter().chain([&flat.margin_es]) {
        assert_eq!(
            (m.var, m.es, m.var_ci, m.es_ci),
            (0.0, 0.0, [0.0; 2], [0.0; 2])
        );
    }
    assert_eq!(flat.components, [0.0]);
    let (covered, bare) = (&sim.accounts[1], &sim.accounts[2]);
    for (c, b) in covered.measures.iter().zip(&bare.measures) {
        assert_eq!((c.var, c.es), (b.var, b.es));
        assert!(c.es > 0.0);
    }
    assert_eq!(covered.components[0], 0.0);
    assert_eq!(covered.components[1], bare.components[0]);
    let stress = stress_of(&sim.book, backend, &ScenarioSet::built_in());
    let a = &stress.accounts;
    assert!(
        a[0].grid_losses
            .iter()
            .chain(&a[0].named_losses)
            .all(|&l| l == 0.0)
    );
    assert_eq!(a[1].grid_losses, a[2].grid_losses);
    assert_eq!(a[1].named_losses, a[2].named_losses);
}

/// A short ETH straddle hedged with the linear perpetual by a finite-difference delta of the
/// pricer: the account's analytic delta is near zero, and its grid loss comes from vol up with
/// the largest price moves, far above the no-move point.
fn delta_hedged_straddle(backend: &dyn Backend) {
    let cfg = RunConfig::default();
    let straddle = vec![("ETH-25DEC26-3100-C", -10.0), ("ETH-25DEC26-3100-P", -10.0)];
    let unhedged = book(
        &two_asset_market(),
        &portfolio(&[("s", "USD", straddle.clone())]),
        &cfg,
    );
    // Central difference of the base value in ln S with h = 1e-4 (pricer at τ₀: horizon 0).
    let mut at_base = unhedged.clone();
    at_base.horizon = 0.0;
    let model = RevalueModel::new(&at_base);
    let value = |h: f64| -> f64 {
        let states = [
            AssetState::default(),
            AssetState {
                log_return: h.ln_1p(),
                log_vol: 0.0,
            },
        ];
        unhedged.accounts[0]
            .exposures
            .iter()
            .map(|e| e.quantity * model.pnl(e.instrument, &states, VolRule::Uniform))
            .sum()
    };
    let h = 1e-4;
    let delta_usd = (value(h) - value(-h)) / (2.0 * h);
    let hedge = -delta_usd / 3050.0;
    let mut positions = straddle;
    positions.push(("ETH_USDC-PERPETUAL", hedge));
    let b = book(
        &two_asset_market(),
        &portfolio(&[("hedged", "USD", positions)]),
        &cfg,
    );
    let unit = instrument_greeks(&b);
    let g = account_greeks_usd(&b, &b.accounts[0], &unit)[1];
    let unhedged_delta = account_greeks_usd(
        &unhedged,
        &unhedged.accounts[0],
        &instrument_greeks(&unhedged),
    )[1]
    .delta;
    // FD truncation h²/6·|S³V'''| and rounding ε|V|/h: below 1e-6 of the straddle notional.
    assert!(
        g.delta.abs() < 1e-6 * 20.0 * 3050.0,
        "hedged delta {} (unhedged {unhedged_delta})",
        g.delta
    );
    assert!(
        unhedged_delta.abs() > 100.0,
        "the straddle alone has a delta to hedge"
    );
    assert!(g.gamma < 0.0 && g.vega < 0.0, "short gamma and vega: {g:?}");

    let stress = stress_of(&b, backend, &ScenarioSet::built_in());
    let a = &stress.accounts[0];
    let worst = a.worst_grid[1].expect("ETH grid");
    let p = &stress.grid[worst];
    assert!(
        p.vol_move == 0.5 && p.price_move.abs() >= 0.16,
        "worst point {p:?}"
    );
    let loss_at = |m: f64, v: f64| {
        let i = stress
            .grid
            .iter()
            .position(|q| q.asset == 1 && !q.extended && q.price_move == m && q.vol_move == v)
            .expect("grid point");
        a.grid_losses[i]
    };
    // Vol alone and price alone each lose; the no-move point (one day of decay, a gain for the
    // seller) is small beside the grid loss.
    assert!(loss_at(0.0, 0.5) > 0.0 && loss_at(0.16, 0.0) > 0.0 && loss_at(-0.16, 0.0) > 0.0);
    assert!(
        loss_at(0.0, 0.0).abs() < 0.05 * a.grid_loss,
        "decay {} vs grid {}",
        loss_at(0.0, 0.0),
        a.grid_loss
    );
    assert!(
        a.grid_loss > loss_at(0.0, 0.5)
            && a.grid_loss > loss_at(-0.16, 0.0).max(loss_at(0.16, 0.0))
    );
}

/// Stress scenarios never enter VaR/ES: other scenarios, same measures.
fn stress_stays_out_of_the_tail(backend: &dyn Backend) {
    let positions = vec![("BTC-25DEC26-90000-P", -5.0), ("ETH", 30.0)];
    let cfg = config(5_000, 3, &[0.99]);
    let p = portfolio(&[("a", "USD", positions)]);
    let extreme = ScenarioSet::parse(
        r#"[{"name":"wipeout","shocks":{"BTC":{"spot":-0.9,"vol":3},"ETH":{"spot":-0.9}}}]"#,
        "extreme.json",
    )
    .expect("parses");
    let with_built_in = evaluate(
        &run_inputs(
            &two_asset_market(),
            &p,
            cfg.clone(),
            ScenarioSet::built_in(),
        ),
        backend,
        &|_| {},
    )
    .expect("evaluates");
    let with_extreme = evaluate(
        &run_inputs(&two_asset_market(), &p, cfg, extreme),
        backend,
        &|_| {},
    )
    .expect("evaluates");
    assert_eq!(
        with_built_in.sim.accounts[0].measures,
        with_extreme.sim.accounts[0].measures
    );
    let (a, b) = (
        &with_built_in.figures.margins[0],
        &with_extreme.figures.margins[0],
    );
    assert_eq!(a.es, b.es);
    assert!(b.scenario > a.scenario && b.initial >= b.scenario);
}

on_every_backend!(
    named_scenarios_match_black76,
    grid_losses_of_a_single_option,
    margin_components_follow_the_formula,
    coin_margined_is_usd_converted_path_by_path,
    coin_collateral_has_no_coin_risk,
    delta_hedged_straddle,
    stress_stays_out_of_the_tail,
);

// ---- The scenarios file and the built-in set (no backend involved). ----

#[test]
fn bad_scenario_files_name_file_field_and_value() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (r#"{"name":"x"}"#, "(top level)", "name", "array"),
        (r#"[{"name":"","shocks":{}}]"#, "[0].name", "\"\"", "empty"),
        (r#"[{"shocks":{}}]"#, "[0].name", "missing", "name"),
        (
            r#"[{"name":"a","shocks":{}},{"name":"a","shocks":{}}]"#,
            "[1].name",
            "\"a\"",
            "duplicate",
        ),
        (
            r#"[{"name":"a","shocks":{"BTC":{"spot":-1}}}]"#,
            "[0].shocks.BTC.spot",
            "-1",
            "greater than -1",
        ),
        (
            r#"[{"name":"a","shocks":{"BTC":{"vol":-1.5}}}]"#,
            "[0].shocks.BTC.vol",
            "-1.5",
            "greater than -1",
        ),
        (
            r#"[{"name":"a","shocks":{"BTC":{"spot":"big"}}}]"#,
            "[0].shocks.BTC.spot",
            "big",
            "number",
        ),
        // Non-finite numbers are named at their field, as in every input file.
        (
            r#"[{"name":"a","shocks":{"BTC":{"spot":1e400}}}]"#,
            "[0].shocks.BTC.spot",
            "1e400",
            "finite",
        ),
        (
            r#"[{"name":"a","shocks":{"BTC":{"vol":NaN}}}]"#,
            "[0].shocks.BTC.vol",
            "NaN",
            "finite",
        ),
        (
            r#"[{"name":"a","shocks":{"BTC":{"skew":0.1}}}]"#,
            "[0].shocks.BTC.skew",
            "0.1",
            "unknown field",
        ),
        (
            r#"[{"name":"a","shocks":{},"when":"now"}]"#,
            "[0].when",
            "now",
            "unknown field",
        ),
        (
            r#"[{"name":"a","shocks":{"BTC":{},"BTC":{"vol":1}}}]"#,
            "[0].shocks.BTC",
            "{\"vol\":1}",
            "duplicate",
        ),
        (
            r#"[{"name":"a","shocks":[]}]"#,
            "[0].shocks",
            "[]",
            "object",
        ),
        (r#"[{"name":"a","shocks":{}}"#, "line 1", "", "JSON"),
        ("", "(file)", "empty", "array"),
    ];
    for &(text, field, value, message) in cases {
        let err = ScenarioSet::parse(text, "bad.json").expect_err(text);
        assert_eq!(err.exit_code(), 65, "{text}");
        let shown = err.to_string();
        match err {
            tailrisk::Error::Input {
                file,
                field: f,
                value: v,
                message: m,
            } => {
                assert_eq!(file, "bad.json");
                assert!(f.contains(field), "{text}: field {f:?}, expected {field:?}");
                assert!(v.contains(value), "{text}: value {v:?}, expected {value:?}");
                assert!(
                    m.contains(message),
                    "{text}: message {m:?}, expected {message:?}"
                );
            }
            other => panic!("{text}: not an input error: {other}"),
        }
        assert!(shown.contains("bad.json"));
    }
}

#[test]
fn shocks_on_unsimulated_assets_are_skipped() {
    let cfg = RunConfig::default();
    let b = book(
        &two_asset_market(),
        &portfolio(&[("a", "USD", vec![("BTC", 1.0)])]),
        &cfg,
    );
    // A file's shock on an asset the market does not simulate is skipped (with a warning on
    // stderr), so one scenario file serves markets of different coverage; the rest applies.
    let set = ScenarioSet::parse(
        r#"[{"name":"doge","shocks":{"DOGE":{"spot":-0.5},"BTC":{"spot":-0.1}}}]"#,
        "s.json",
    )
    .expect("parses");
    let named = set.resolve(&b).expect("resolves without DOGE");
    assert_eq!(named[0].shocks[0].spot, -0.1);
    // The warning names the file, the field and the asset; the caller prints it.
    let warnings = set.skipped_shocks(&b);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("s.json: [0].shocks.DOGE: DOGE is not a simulated asset"),
        "{warnings:?}"
    );
    assert!(ScenarioSet::built_in().skipped_shocks(&b).is_empty());
    assert_eq!(named[0].shocks[1].spot, 0.0, "ETH is not named: unshocked");
    // The built-in set skips what is not simulated (SOL here), and shocks an unlisted asset by
    // its "other asset" move.
    let named = ScenarioSet::built_in()
        .resolve(&b)
        .expect("built-in resolves");
    assert_eq!(named.len(), 4);
    assert_eq!(named[0].shocks[0].spot, -0.40);
    let doge = book(
        &one_asset_market("DOGE", 0.4, 1.2),
        &portfolio(&[("a", "USD", vec![("DOGE", 1.0)])]),
        &cfg,
    );
    let named = ScenarioSet::built_in()
        .resolve(&doge)
        .expect("built-in resolves");
    let moves: Vec<f64> = named.iter().map(|n| n.shocks[0].spot).collect();
    assert_eq!(moves, vec![-0.50, -0.25, -0.25, 0.35]);
    assert!(
        (named[2].states[0].log_vol - 2f64.ln()).abs() < 1e-15,
        "vol doubles"
    );
}

// ---- The command line. ----

fn tailrisk(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .output()
        .expect("runs the binary")
}

#[test]
fn stress_command_lists_every_scenario_and_marks_the_margin_drivers() {
    let out = tailrisk(&[
        "stress",
        "--backend",
        "cpu",
        "--paths",
        "4000",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["scenario_set"], "built-in");
    assert_eq!(json["scenarios"].as_array().map(Vec::len), Some(4));
    let accounts = json["accounts"].as_array().expect("accounts");
    assert_eq!(accounts.len(), 4);
    for a in accounts {
        let grid = a["grid"].as_array().expect("grid");
        let scenarios = a["scenarios"].as_array().expect("scenarios");
        assert_eq!(grid.len() % 39, 0, "39 points per asset");
        assert_eq!(scenarios.len(), 4);
        let binding = a["binding"].as_str().expect("binding");
        let drivers = grid
            .iter()
            .chain(scenarios)
            .filter(|p| p["drives_margin"] == true)
            .count();
        match binding {
            "grid" => assert!(drivers >= 1),
            "scenario" => assert_eq!(drivers, 1),
            _ => assert_eq!(drivers, 0),
        }
        let worst = scenarios.iter().filter(|s| s["worst"] == true).count();
        assert_eq!(worst, 1);
        let im = a["margin"]["initial"].as_f64().expect("IM");
        assert!(im >= 0.0);
    }
    // The table names the scenarios and the marks.
    let out = tailrisk(&["stress", "--backend", "cpu", "--paths", "4000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("black-thursday-crash") && text.contains("set by") && text.contains('!'));
}

#[test]
fn run_report_has_stress_margin_and_greeks() {
    let out = tailrisk(&[
        "run",
        "--backend",
        "cpu",
        "--paths",
        "4000",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for a in json["accounts"].as_array().expect("accounts") {
        assert!(a["stress"]["grid_loss"].is_number());
        assert!(
            a["stress"]["grid"]
                .as_array()
                .is_some_and(|g| !g.is_empty())
        );
        assert!(a["margin"]["components"]["short_option_minimum"].is_number());
        let im = a["margin"]["initial"].as_f64().expect("IM");
        let mm = a["margin"]["maintenance"].as_f64().expect("MM");
        assert!((mm - 0.75 * im).abs() <= 1e-9 * im);
        assert!(a["greeks"].as_object().is_some_and(|g| !g.is_empty()));
    }
    let coin = json["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == "coin-margined"))
        .expect("coin account");
    assert_eq!(coin["currency"], "BTC");
    assert!(coin["greeks"]["BTC"]["delta_usd"].is_number());
}

#[test]
fn scenarios_flag_replaces_the_built_in_set() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/data/scenarios.json");
    let out = tailrisk(&[
        "stress",
        "--backend",
        "cpu",
        "--paths",
        "2000",
        "--format",
        "json",
        "--scenarios",
        file,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = json["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "crypto-crash",
            "short-squeeze-rally",
            "eth-selloff-vol-crush"
        ]
    );

    let dir = std::env::temp_dir().join(format!("tailrisk-stress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"[{"name":"x","shocks":{"BTC":{"spot":-2}}}]"#).expect("writes");
    let out = tailrisk(&[
        "stress",
        "--backend",
        "cpu",
        "--paths",
        "100",
        "--scenarios",
        bad.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(65));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("[0].shocks.BTC.spot") && err.contains("-2"),
        "{err}"
    );
    let out = tailrisk(&[
        "stress",
        "--backend",
        "cpu",
        "--scenarios",
        dir.join("missing.json").to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(66));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CLI prints the warning of a skipped shock on stderr, after the progress bar, and the
/// run succeeds; the library itself prints nothing.
#[test]
fn a_skipped_shock_is_warned_on_stderr() {
    let dir = std::env::temp_dir().join(format!("tailrisk-skipped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("doge.json");
    std::fs::write(
        &file,
        r#"[{"name":"doge","shocks":{"DOGE":{"spot":-0.5},"BTC":{"spot":-0.1}}}]"#,
    )
    .expect("scenario file");
    let path = file.display().to_string();
    for command in ["run", "stress"] {
        let out = tailrisk(&[
            command,
            "--backend",
            "cpu",
            "--paths",
            "2000",
            "--scenarios",
            &path,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "tailrisk: warning: {path}: [0].shocks.DOGE: DOGE is not"
            )),
            "{command}: {stderr}"
        );
    }
}
