//! Jump intensities against the simulation's cap of jumps per step (issue #8 item 5):
//! `Book::compile` rejects λ·dt for which P(N > MAX_JUMPS_PER_STEP) ≥ 1e-12 (λ·dt ≳ 23.26)
//! instead of letting counts be truncated silently.

mod common;

use common::*;
use tailrisk::Error;
use tailrisk::book::{Book, MAX_JUMP_TRUNCATION_PROBABILITY, SourceFiles, poisson_tail_above};
use tailrisk::config::{DynamicsInput, RunConfig};
use tailrisk::input;
use tailrisk::model::scenario::MAX_JUMPS_PER_STEP;

fn compile(jump_intensity: f64, horizon_days: f64, steps: u32) -> tailrisk::Result<Book> {
    let market = input::parse_market(&one_asset_market("BTC", 91_250.0, 0.55), "m").unwrap();
    let book = portfolio(&[("a1", "USD", vec![("BTC-PERPETUAL", 1.0)])]);
    let portfolio = input::parse_portfolio_json(&book, "p").unwrap();
    let mut config = RunConfig {
        horizon_days,
        steps,
        ..RunConfig::default()
    };
    config.dynamics.insert(
        "BTC".into(),
        DynamicsInput {
            jump_intensity,
            jump_mean: -0.04,
            jump_std: 0.08,
            ..Default::default()
        },
    );
    let files = SourceFiles {
        market: "market.json".into(),
        config: "config.json".into(),
    };
    Book::compile(&market, &portfolio, &config, &files)
}

#[test]
fn intensities_below_the_threshold_compile() {
    // λ·dt = 23.2 per one-day step: P(N > 64) just below 1e-12.
    assert!(poisson_tail_above(23.2, MAX_JUMPS_PER_STEP) < MAX_JUMP_TRUNCATION_PROBABILITY);
    assert!(compile(23.2 * 365.0, 1.0, 1).is_ok());
    assert!(compile(6.0, 10.0, 1).is_ok());
}

#[test]
fn an_intensity_the_cap_would_truncate_is_rejected_naming_field_value_and_limit() {
    let lambda = 23.3 * 365.0;
    match compile(lambda, 1.0, 1) {
        Err(Error::Input {
            file,
            field,
            value,
            message,
        }) => {
            assert_eq!(file, "config.json");
            assert_eq!(field, "dynamics.BTC.jump_intensity");
            assert_eq!(value, lambda.to_string());
            assert!(message.contains("at most 64 jumps per step"), "{message}");
            assert!(
                message.contains("23.3000 expected jumps per step"),
                "{message}"
            );
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    // The same intensity over steps half as long is fine: the cap is per step.
    assert!(compile(lambda, 1.0, 2).is_ok());
    // And a longer horizon in one step is not.
    assert!(compile(6_000.0, 2.0, 1).is_err());
}
