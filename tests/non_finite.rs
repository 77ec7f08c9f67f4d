//! No non-finite figure, ever (issue #8 item 5): inputs that parse but overflow f64 are input
//! errors (exit 65) naming the account, the position or figure, and the value — at
//! `Book::compile` when a position's today's value, forward or notional overflows, else in
//! the last check of every figure — never a report with `null` in it.

mod common;

use common::*;
use tailrisk::Error;
use tailrisk::book::{Book, SourceFiles};
use tailrisk::engine::cpu::CpuBackend;
use tailrisk::error::EXIT_DATA;
use tailrisk::input;
use tailrisk::run::{RunInputs, evaluate};
use tailrisk::stress::ScenarioSet;

/// A BTC market with the given spot, rate and `adv_usd`.
fn market(spot: f64, rate: f64, adv_usd: f64) -> String {
    format!(
        r#"{{"as_of":"{AS_OF}","assets":{{"BTC":{{"spot":{spot:e},"rate":{rate:e},"vol":0.5,"adv_usd":{adv_usd:e}}}}}}}"#
    )
}

/// Account `a1` with one position: an explicit option object (right, strike, multiplier,
/// quantity) or a Deribit name.
fn option_book(right: &str, strike: f64, multiplier: f64, quantity: f64) -> String {
    format!(
        r#"{{"accounts":[{{"id":"a1","margin_currency":"USD","positions":[
        {{"instrument":"BTC-PERPETUAL","quantity":1}},
        {{"instrument":{{"kind":"option","underlying":"BTC","right":"{right}","strike":{strike:e},
          "expiry":"2026-12-25T08:00:00Z","settlement":"linear","multiplier":{multiplier:e}}},
          "quantity":{quantity:e}}}]}}]}}"#
    )
}

fn inputs(market: &str, portfolio: &str) -> RunInputs {
    run_inputs(
        market,
        portfolio,
        config(2_000, 7, &[0.99]),
        ScenarioSet::built_in(),
    )
}

/// The parts of an input error.
fn input_error<T: std::fmt::Debug>(r: tailrisk::Result<T>) -> (String, String, String) {
    match r {
        Err(Error::Input {
            field,
            value,
            message,
            ..
        }) => (field, value, message),
        other => panic!("expected an input error, got {other:?}"),
    }
}

/// Compiling fails naming the position (its field and name), the account and the figure.
fn compile_error(market_json: &str, portfolio_json: &str) -> (String, String, String) {
    let m = input::parse_market(market_json, "market.json").unwrap();
    let p = input::parse_portfolio_json(portfolio_json, "portfolio.json").unwrap();
    let cfg = config(2_000, 7, &[0.99]);
    input_error(Book::compile(&m, &p, &cfg, &SourceFiles::default()))
}

/// The run fails in the figure check, naming the account and a non-finite value.
fn assert_figure_error(market_json: &str, portfolio_json: &str) -> String {
    let r = evaluate(
        &inputs(market_json, portfolio_json),
        &CpuBackend::new(),
        &|_| {},
    );
    let (field, value, message) = input_error(r);
    assert_eq!(field, "accounts[a1]", "{message}");
    assert!(
        message.contains("of account a1 is not a finite number"),
        "{message}"
    );
    let v: f64 = value.parse().expect("the value is a number");
    assert!(!v.is_finite(), "{value}");
    message
}

#[test]
fn sane_inputs_pass_both_checks() {
    // The same books at ordinary sizes run: the checks reject only overflow.
    let book = option_book("call", 90_000.0, 1.0, 3.0);
    let ev = evaluate(
        &inputs(&market(90_000.0, 0.0, 1e10), &book),
        &CpuBackend::new(),
        &|_| {},
    );
    assert!(ev.is_ok(), "{:?}", ev.err());
}

#[test]
fn huge_spot_names_the_account_and_figure() {
    assert_figure_error(
        &market(1e300, 0.0, 1e10),
        &option_book("call", 90_000.0, 1.0, 1.0),
    );
}

#[test]
fn huge_quantity_fails_in_the_figures() {
    assert_figure_error(
        &market(90_000.0, 0.0, 1e10),
        &option_book("call", 90_000.0, 1.0, 1e300),
    );
}

#[test]
fn quantity_with_an_infinite_notional_fails_at_compile() {
    // A linear perpetual is worth 0 today: its notional, 1e305 coins × 90 000 USD, overflows.
    let book = portfolio(&[("a1", "USD", vec![("BTC_USDC-PERPETUAL", 1e305)])]);
    let (field, value, message) = compile_error(&market(90_000.0, 0.0, 1e10), &book);
    assert_eq!(field, "accounts[0].positions[0].instrument", "{message}");
    assert_eq!(value, "BTC_USDC-PERPETUAL");
    assert!(
        message.contains("in account a1: its notional is inf"),
        "{message}"
    );
    assert!(
        message.contains("quantity 1e305, spot 90000 of BTC"),
        "{message}"
    );
}

#[test]
fn huge_strike_fails_at_compile_on_today_s_value() {
    // A put struck at 1e300 is worth 1e300 per unit: 1e10 of them overflow.
    let book = option_book("put", 1e300, 1.0, 1e10);
    let (field, _, message) = compile_error(&market(90_000.0, 0.0, 1e10), &book);
    assert_eq!(field, "accounts[0].positions[1].instrument", "{message}");
    assert!(message.contains("today's value is inf"), "{message}");
}

#[test]
fn huge_multiplier_fails_in_the_figures() {
    assert_figure_error(
        &market(90_000.0, 0.0, 1e10),
        &option_book("call", 90_000.0, 1e300, 1.0),
    );
}

#[test]
fn tiny_adv_under_a_large_delta_fails_on_the_liquidity_add_on() {
    // The add-on |Δ|^{3/2}/√ADV overflows: the first non-finite figure is initial margin.
    let message = assert_figure_error(
        &market(90_000.0, 0.0, 5e-324),
        &option_book("call", 90_000.0, 1.0, 1e100),
    );
    assert!(message.starts_with("initial margin"), "{message}");
}

#[test]
fn huge_rate_fails_at_compile_on_the_forward() {
    let book = option_book("call", 90_000.0, 1.0, 1.0);
    let (field, _, message) = compile_error(&market(90_000.0, 1e4, 1e10), &book);
    assert_eq!(field, "accounts[0].positions[1].instrument", "{message}");
    assert!(message.contains("forward price is inf"), "{message}");
}

#[test]
fn what_if_checks_its_figures_too() {
    let inputs = inputs(
        &market(90_000.0, 0.0, 1e10),
        &option_book("call", 90_000.0, 1.0, 1.0),
    );
    let (label, instrument, quantity) =
        input::parse_added_position("BTC-25DEC26-90000-C:1e300", "added").unwrap();
    let added = [tailrisk::whatif::AddedPosition {
        label,
        instrument,
        quantity,
        origin: Default::default(),
    }];
    let r = tailrisk::whatif::what_if(&inputs, "a1", &added, &CpuBackend::new(), &|_| {});
    let (field, _, message) = input_error(r);
    assert_eq!(field, "accounts[a1]", "{message}");
}

#[test]
fn the_cli_exits_65_with_the_message_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("tailrisk-non-finite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = dir.join("market.json");
    let p = dir.join("portfolio.json");
    let out = dir.join("report.json");
    std::fs::write(&m, market(1e300, 0.0, 1e10)).unwrap();
    std::fs::write(&p, option_book("call", 90_000.0, 1.0, 1.0)).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args([
            "run",
            "--backend",
            "cpu",
            "--paths",
            "2000",
            "--format",
            "json",
        ])
        .args([
            "--market",
            m.to_str().unwrap(),
            "--portfolio",
            p.to_str().unwrap(),
        ])
        .args(["-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(i32::from(EXIT_DATA)), "{stderr}");
    assert!(
        stderr.contains("portfolio.json: accounts[a1]: "),
        "{stderr}"
    );
    assert!(
        stderr.contains("of account a1 is not a finite number"),
        "{stderr}"
    );
    assert!(!out.exists(), "no report is written");
}

#[test]
fn f32_overflow_is_an_error_on_f32_backends_and_finite_in_f64() {
    // A spot of 1e39 is beyond f32 (3.4e38): the GPU and the CPU's f32 kernels overflow, and
    // the figure check turns that into an input error; the f64 reference computes it.
    let inputs = inputs(
        &market(1e39, 0.0, 1e10),
        &option_book("call", 90_000.0, 1.0, 1.0),
    );
    let f64_run = evaluate(&inputs, &CpuBackend::new(), &|_| {});
    assert!(f64_run.is_ok(), "{:?}", f64_run.err());
    let f32_cpu = CpuBackend::with_precision(tailrisk::engine::Precision::F32);
    let (field, _, message) = input_error(evaluate(&inputs, &f32_cpu, &|_| {}));
    assert_eq!(field, "accounts[a1]", "{message}");
    if let Some(gpu) = test_backend() {
        let (field, _, message) = input_error(evaluate(&inputs, &gpu, &|_| {}));
        assert_eq!(field, "accounts[a1]", "{message}");
        assert!(message.contains("not a finite number"), "{message}");
    }
}
