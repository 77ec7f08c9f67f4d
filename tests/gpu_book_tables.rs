//! The book's tables reach the device once per book, not once per call (issue 13, item 3):
//! a run builds its GPU stages several times from one book (the tails, the regenerated tail
//! paths of component ES, the stress scenarios), and every build after the first reuses the
//! tables already uploaded. Reused tables change no figure: a second run, and a run of a
//! changed book on the same device, give the bits a fresh device gives. Skipped loudly
//! without an adapter (`TAILRISK_REQUIRE_GPU=1` makes that a failure).

#[macro_use]
mod common;

use common::{sample_inputs, test_backend};
use tailrisk::engine::gpu::GpuBackend;

/// Every figure of a whole run (VaR, ES, components, stress, margin, Greeks) of `inputs`.
fn figures(inputs: &tailrisk::run::RunInputs, backend: &GpuBackend) -> String {
    let report = tailrisk::run::run(inputs, backend, &|_| {}).expect("the sample run");
    serde_json::to_string(&report.accounts).expect("figures serialise")
}

#[test]
fn a_run_uploads_each_book_table_once() {
    let Some(gpu) = test_backend() else { return };
    let ctx = gpu.context();
    let inputs = sample_inputs(20_000);
    let first = figures(&inputs, &gpu);
    let tables = ctx.book_tables();
    let uploads = ctx.book_table_uploads();
    // Scenario (step assets, correlation root, jump thresholds), revalue (instrument
    // blocks, and holding blocks when fused) and aggregate (accounts, holdings).
    assert!(tables >= 6, "{tables} book tables");
    assert_eq!(
        uploads, tables as u64,
        "one upload per table in a run that builds its stages several times"
    );
    let second = figures(&inputs, &gpu);
    assert_eq!(
        ctx.book_table_uploads(),
        uploads,
        "a second run uploads nothing"
    );
    assert_eq!(second, first, "the reused tables give the same bits");
}

#[test]
fn a_changed_book_uploads_only_what_changed() {
    let Some(gpu) = test_backend() else { return };
    let ctx = gpu.context();
    let inputs = sample_inputs(10_000);
    figures(&inputs, &gpu);
    let uploads = ctx.book_table_uploads();
    // The same market and simulation, one position changed: the scenario tables stay.
    let mut changed = sample_inputs(10_000);
    let position = &mut changed.portfolio.accounts[0].positions[0];
    position.quantity *= 2.0;
    let on_the_same_device = figures(&changed, &gpu);
    let new = ctx.book_table_uploads() - uploads;
    assert!(
        (1..=4).contains(&new),
        "{new} tables uploaded for a changed position (holdings, accounts, blocks)"
    );
    let Some(fresh) = test_backend() else { return };
    assert_eq!(
        on_the_same_device,
        figures(&changed, &fresh),
        "a changed book on a device holding the old tables gives a fresh device's bits"
    );
}
