//! The large-book path at small scale (issue #5 item 1): many accounts over a shared
//! instrument set, simulated in account groups when the tail budget is exceeded, give the
//! same figures as one pass, on every backend; the clearing book's accounts are independent
//! of each other.

#[macro_use]
mod common;

use tailrisk::bench_book::generated_book;
use tailrisk::config::RunConfig;
use tailrisk::engine::Backend;
use tailrisk::run::{simulate, simulate_within};

fn account_groups_change_nothing(backend: &dyn Backend) {
    let book = generated_book(120, 3, 300, 5);
    let config = RunConfig {
        paths: 4_000,
        seed: 9,
        confidence: vec![0.99, 0.995],
        ..RunConfig::default()
    };
    let one_pass = simulate(book.clone(), &config, backend, &|_| {}).unwrap();
    // tail_len is 55 here: a budget of 1 000 entries makes groups of 9 accounts (34 passes).
    let grouped = simulate_within(book, &config, backend, &|_| {}, 1_000).unwrap();
    assert_eq!(one_pass.accounts.len(), 300);
    for (a, b) in one_pass.accounts.iter().zip(&grouped.accounts) {
        assert_eq!(a.measures, b.measures);
        assert_eq!(a.margin_es, b.margin_es);
        assert_eq!(a.components, b.components);
        assert_eq!(a.tail, b.tail);
    }
}

on_every_backend!(account_groups_change_nothing);
