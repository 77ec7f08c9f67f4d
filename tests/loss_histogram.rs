//! The loss histogram counted in the tail pass (SPEC §12, R3): counts sum to N, equal the
//! histogram of every loss of a small run binned by the same rule, do not depend on the
//! chunk size, and agree between the f32 backends and the f64 reference except for losses
//! within the f32 error of a bin edge.

mod common;

use common::{F32_LOSS_PER_GROSS, gross_in_currency, sample_inputs};
use tailrisk::book::Book;
use tailrisk::engine::{Backend, CountedTails, SimulationPlan};
use tailrisk::model::distribution::{BINS, LossHistogram, bin_range};

fn plan(paths: u64, tail_len: usize, chunk_paths: Option<u32>) -> SimulationPlan {
    SimulationPlan {
        paths,
        first_path: 0,
        seed: 42,
        tail_len,
        chunk_paths,
    }
}

fn sample_book() -> Book {
    sample_inputs(1).compile().expect("sample book compiles")
}

fn counted(backend: &dyn Backend, book: &Book, plan: &SimulationPlan) -> CountedTails {
    backend
        .counted_tails(book, plan, None, &|_| {})
        .expect("counted tails")
}

/// Every loss of every account on paths 0..n, account by account.
fn all_losses(backend: &dyn Backend, book: &Book, n: u32) -> Vec<Vec<f64>> {
    let paths: Vec<u32> = (0..n).collect();
    let rows = backend.path_losses(book, 42, &paths).expect("path losses");
    let a = book.accounts.len();
    (0..a)
        .map(|i| rows.iter().skip(i).step_by(a).copied().collect())
        .collect()
}

/// Checks that `got` is the histogram of `reference` losses up to losses that lie within
/// `tol(x)` of a bin edge: per bin, |got − expected| is at most the number of reference losses
/// near one of its edges. `tol` = 0 asks for equality.
fn assert_agrees(got: &LossHistogram, reference: &[f64], tol: impl Fn(f64) -> f64, what: &str) {
    let expected = LossHistogram::of(reference.iter().copied());
    let mut near = vec![0u64; BINS as usize];
    for &x in reference {
        let t = tol(x);
        if t == 0.0 {
            continue;
        }
        for (b, n) in near.iter_mut().enumerate() {
            let (lo, hi) = bin_range(b as u32);
            if (x - lo).abs() <= t || (x - hi).abs() <= t {
                *n += 1;
            }
        }
    }
    for (b, &near) in near.iter().enumerate() {
        let diff = got.counts[b].abs_diff(expected.counts[b]);
        assert!(
            diff <= near,
            "{what}: bin {b} {:?}: got {}, expected {}, only {} losses within the f32 error \
             of its edges",
            bin_range(b as u32),
            got.counts[b],
            expected.counts[b],
            near
        );
    }
    assert_eq!(
        got.total(),
        reference.len() as u64,
        "{what}: counts sum to N"
    );
}

/// Counting changes no tail, and every account's counts sum to N.
fn counts_sum_to_n_and_leave_the_tails_alone(backend: &dyn Backend) {
    let book = sample_book();
    let p = plan(20_000, 400, None);
    let c = counted(backend, &book, &p);
    let plain = backend.tails(&book, &p, &|_| {}).unwrap();
    assert_eq!(c.tails, plain);
    assert_eq!(c.histograms.len(), book.accounts.len());
    for h in &c.histograms {
        assert_eq!(h.total(), 20_000);
    }
}

/// The histogram of the tail pass is the histogram of every loss of the run, as the
/// backend's own `path_losses` computes them: exact on the f64 reference and the GPU (whose
/// `path_losses` runs the very aggregate stage of the pass), and on the CPU's f32 kernels up
/// to the host's regeneration of the loss (summation order: within f32 error of an edge).
fn histogram_is_that_of_every_loss(backend: &dyn Backend) {
    let book = sample_book();
    let n = 3_000;
    let c = counted(backend, &book, &plan(u64::from(n), 30, Some(1_000)));
    let losses = all_losses(backend, &book, n);
    let exact = backend.info().precision != tailrisk::engine::Precision::F32
        || backend.info().backend == tailrisk::engine::BackendKind::Gpu;
    for (a, (h, l)) in c.histograms.iter().zip(&losses).enumerate() {
        let gross = gross_in_currency(&book, a);
        // Half an f32 ulp of the loss, as a different summation may round it (f32 kernels).
        let tol = |x: f64| {
            if exact {
                0.0
            } else {
                1e-9 * gross + 6e-8 * x.abs()
            }
        };
        assert_agrees(h, l, tol, &format!("account {a}"));
    }
}

/// The f32 backends' histograms against the f64 reference's losses: bins differ only for
/// losses within the documented f32 loss error (`F32_LOSS_PER_GROSS` × gross, plus the
/// rounding of the loss to f32 for binning, 2⁻²⁴·|x|) of a bin edge.
fn f32_histogram_matches_the_reference(backend: &dyn Backend) {
    let book = sample_book();
    let n = 4_000;
    let c = counted(backend, &book, &plan(u64::from(n), 40, None));
    let reference = all_losses(&tailrisk::engine::cpu::CpuBackend::new(), &book, n);
    for (a, (h, l)) in c.histograms.iter().zip(&reference).enumerate() {
        let gross = gross_in_currency(&book, a);
        let tol = |x: f64| F32_LOSS_PER_GROSS * gross + 6e-8 * x.abs();
        assert_agrees(h, l, tol, &format!("account {a}"));
    }
}

/// Chunks of 1, 777 and 4 096 paths and the backend's own choice give the same counts.
fn histogram_does_not_depend_on_chunks(backend: &dyn Backend) {
    let book = sample_book();
    let n = 5_000;
    let whole = counted(backend, &book, &plan(n, 60, None));
    for chunk in [777, 4_096] {
        let parts = counted(backend, &book, &plan(n, 60, Some(chunk)));
        assert_eq!(parts, whole, "chunks of {chunk}");
    }
    let tiny = counted(backend, &book, &plan(300, 5, Some(1)));
    let one = counted(backend, &book, &plan(300, 5, None));
    assert_eq!(tiny, one, "chunks of 1 path");
}

/// Counts are additive over path ranges: the histogram of paths 0..n is the sum of those of
/// disjoint ranges (what a shard merge adds), here built from the path losses of each range.
#[test]
fn histograms_of_path_ranges_add_up() {
    let book = sample_book();
    let cpu = tailrisk::engine::cpu::CpuBackend::new();
    let whole = counted(&cpu, &book, &plan(2_000, 20, None));
    let losses = all_losses(&cpu, &book, 2_000);
    for (h, l) in whole.histograms.iter().zip(&losses) {
        let mut sum = LossHistogram::of(l[..700].iter().copied());
        sum.merge(&LossHistogram::of(l[700..].iter().copied()));
        assert_eq!(&sum, h);
    }
}

/// Historical tables (hs, fhs) are counted row by row, whatever the chunking, and counting
/// changes no tail.
fn table_histograms_count_every_row(backend: &dyn Backend) {
    use tailrisk::model::historical::{HistoricalMethod, ScenarioTable};
    let b = common::book(
        &common::one_asset_market("ETH", 3050.0, 0.6),
        &common::portfolio(&[
            (
                "a",
                "USD",
                vec![("ETH-25DEC26-3000-P", 10.0), ("ETH", -4.0)],
            ),
            ("b", "ETH", vec![("ETH-PERPETUAL", 5000.0)]),
        ]),
        &common::config(1000, 1, &[0.99]),
    );
    let n = 777;
    let returns: Vec<f64> = (0..n)
        .map(|t| 0.04 * ((t * 37 % 101) as f64 / 50.0 - 1.0))
        .collect();
    let sigma: Vec<f64> = (0..=n)
        .map(|t| 0.03 + 0.01 * (t as f64 * 0.05).cos())
        .collect();
    let table =
        ScenarioTable::historical(HistoricalMethod::Fhs, 1, &returns, &sigma, &[0.025], 1.0)
            .unwrap();
    let at = |chunk| {
        backend
            .counted_tails(&b, &plan(n as u64, 9, chunk), Some(&table), &|_| {})
            .unwrap()
    };
    let whole = at(None);
    assert_eq!(
        whole.tails,
        backend.table_tails(&b, &table, 9, None).unwrap()
    );
    for h in &whole.histograms {
        assert_eq!(h.total(), n as u64);
    }
    for chunk in [1, 100] {
        assert_eq!(at(Some(chunk)), whole, "chunks of {chunk}");
    }
}

/// A run with a report gives the same figures, bit for bit, as one without; each account's
/// distribution counts every path and keeps the worst max(2k, N/100) losses, whose k-th is VaR.
fn a_report_changes_no_figure(backend: &dyn Backend) {
    let inputs = sample_inputs(5_000);
    let plain = tailrisk::run::evaluate(&inputs, backend, &|_| {}).unwrap();
    let (ev, dists) =
        tailrisk::run::evaluate_with_distributions(&inputs, backend, &|_| {}).unwrap();
    let json = |e: &tailrisk::run::Evaluation| {
        let mut r = tailrisk::report::report(e, &inputs.config, backend);
        r.run.seconds = 0.0;
        r.to_json()
    };
    assert_eq!(json(&plain), json(&ev));
    let levels = inputs.config.confidence.iter().copied();
    let inset = tailrisk::run::inset_len(5_000, levels.chain([inputs.config.margin.confidence]));
    assert_eq!(dists.len(), ev.sim.accounts.len());
    for (d, a) in dists.iter().zip(&ev.sim.accounts) {
        assert_eq!(d.histogram.total(), 5_000);
        assert_eq!(d.worst_losses.len(), inset);
        assert!(d.worst_losses.windows(2).all(|w| w[0] >= w[1]));
        for m in &a.measures {
            assert_eq!(d.worst_losses[m.k - 1], m.var);
        }
    }
}

on_every_backend!(
    table_histograms_count_every_row,
    a_report_changes_no_figure,
    counts_sum_to_n_and_leave_the_tails_alone,
    histogram_is_that_of_every_loss,
    histogram_does_not_depend_on_chunks,
);

mod against_the_reference {
    use super::*;
    on_every_f32_backend!(f32_histogram_matches_the_reference);
}
