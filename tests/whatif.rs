//! What-if against a full rerun (issue #5 item 2, SPEC §8): adding positions to one account
//! gives the same ES and initial margin as a full run of the changed book, bit for bit on
//! the same backend, on every backend.

#[macro_use]
mod common;

use common::*;
use tailrisk::engine::Backend;
use tailrisk::input::parse_added_position;
use tailrisk::portfolio::{Origin, Position};
use tailrisk::run::evaluate;
use tailrisk::whatif::{AddedPosition, what_if};

fn added(args: &[&str]) -> Vec<AddedPosition> {
    args.iter()
        .map(|a| {
            let (label, instrument, quantity) = parse_added_position(a, "--add").unwrap();
            AddedPosition {
                label,
                instrument,
                quantity,
                origin: Origin {
                    file: "command line".into(),
                    field: format!("--add {a}"),
                },
            }
        })
        .collect()
}

/// The positions of `account` in `inputs`, to change.
fn positions_of<'a>(
    inputs: &'a mut tailrisk::run::RunInputs,
    account: &str,
) -> &'a mut Vec<Position> {
    let target = inputs
        .portfolio
        .accounts
        .iter_mut()
        .find(|a| a.id == account);
    &mut target.expect("the account").positions
}

/// An added position as a book position.
fn position(p: &AddedPosition) -> Position {
    Position {
        label: p.label.clone(),
        instrument: p.instrument.clone(),
        quantity: p.quantity,
        origin: Origin::default(),
    }
}

fn whatif_equals_a_full_rerun(backend: &dyn Backend) {
    let inputs = sample_inputs(20_000);
    for (account, adds) in [
        (
            "hedged-options",
            vec!["BTC-25DEC26-100000-C:-5", "BTC-PERPETUAL:100000"],
        ),
        // A new instrument the book did not hold, on a coin-margined account.
        ("coin-margined", vec!["ETH_USDC-26MAR27-2500-P:40"]),
        // Closing a position exactly.
        ("pair-trade", vec!["SOL_USDC-PERPETUAL:-5000"]),
    ] {
        let adds = added(&adds);
        let answer = what_if(&inputs, account, &adds, backend, &|_| {}).unwrap();

        let mut changed = inputs.clone();
        positions_of(&mut changed, account).extend(adds.iter().map(position));
        let full = evaluate(&changed, backend, &|_| {}).unwrap();
        let i = full
            .sim
            .book
            .accounts
            .iter()
            .position(|a| a.id == account)
            .unwrap();
        assert_eq!(
            answer.after.es, full.sim.accounts[i].margin_es.es,
            "{account} ES"
        );
        assert_eq!(
            answer.after.initial, full.figures.margins[i].initial,
            "{account} IM"
        );

        // The same change written netted (an add to a held instrument folded into its
        // position, as a service trade is): the same exposures, the same bits on every
        // backend, the GPU's fixed-point sums included.
        let mut netted = inputs.clone();
        let target = positions_of(&mut netted, account);
        for p in &adds {
            match target.iter_mut().find(|h| h.label == p.label) {
                Some(held) => held.quantity += p.quantity,
                None => target.push(position(p)),
            }
        }
        let netted = evaluate(&netted, backend, &|_| {}).unwrap();
        assert_eq!(
            answer.after.es, netted.sim.accounts[i].margin_es.es,
            "{account} ES, netted"
        );
        assert_eq!(answer.after.initial, netted.figures.margins[i].initial);

        let before = evaluate(&inputs, backend, &|_| {}).unwrap();
        assert_eq!(
            answer.before.es, before.sim.accounts[i].margin_es.es,
            "{account} ES before"
        );
        assert_eq!(answer.before.initial, before.figures.margins[i].initial);
        assert_eq!(answer.increment.es, answer.after.es - answer.before.es);
    }
}

fn unknown_account_is_an_input_error(backend: &dyn Backend) {
    let inputs = sample_inputs(1_000);
    let err = what_if(&inputs, "nobody", &added(&["BTC:1"]), backend, &|_| {}).unwrap_err();
    assert_eq!(err.exit_code(), 65);
    assert!(err.to_string().contains("nobody"));
}

on_every_backend!(
    whatif_equals_a_full_rerun,
    unknown_account_is_an_input_error
);
