//! Per-stage CPU benchmarks on the generated 576-option, 3-asset, 1-step book
//! ([`tailrisk::bench_book`]): RNG, scenario, revalue, aggregate and tail, in
//! the f64 reference and the SIMD kernels (f64 and f32), then each end to end.
//!
//! Every group reports its throughput as full repricings per second
//! (`Throughput::Elements(paths × instruments)`): the rate the whole pipeline would reach if
//! that stage were all of it, so stages compare directly. Inputs are built outside the
//! timing (`iter_batched`). Single-threaded except `end_to_end`, which uses all of rayon's
//! threads. Run with `cargo bench --bench stages` (figures: docs/benchmarks.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tailrisk::bench_book::generated_book;
use tailrisk::book::Book;
use tailrisk::engine::cpu::fast::{self, BlockScratch, FastPipeline, Isa, LANES, Real};
use tailrisk::engine::cpu::{CpuBackend, Precision};
use tailrisk::engine::{AssetState, Backend, SimulationPlan, TailEntry, VolRule};
use tailrisk::model::aggregate::account_loss;
use tailrisk::model::historical::ScenarioTable;
use tailrisk::model::revalue::RevalueModel;
use tailrisk::model::scenario::{ScenarioModel, Scratch};
use tailrisk::model::tail::TailBuffer;
use tailrisk::risk;

const OPTIONS: usize = 576;
const ASSETS: usize = 3;
const SEED: u64 = 42;
/// Paths per timed batch of the stage groups: one fast block.
const PATHS: usize = LANES;
/// Paths of the end-to-end runs.
const END_TO_END_PATHS: u64 = 1 << 18;

fn bench_book() -> Book {
    generated_book(OPTIONS, ASSETS, 1, 7)
}

fn paths() -> Vec<u32> {
    (0..PATHS as u32).map(|p| p * 7 + 1_000).collect()
}

/// Reference states of `paths`, lane-major.
fn reference_states(book: &Book, paths: &[u32]) -> Vec<AssetState> {
    let model = ScenarioModel::new(book, SEED);
    let a = book.assets.len();
    let mut states = vec![AssetState::default(); paths.len() * a];
    let mut scratch = Scratch::default();
    for (out, &p) in states.chunks_mut(a).zip(paths) {
        model.simulate(p, &mut scratch, out);
    }
    states
}

fn stages(c: &mut Criterion) {
    let book = bench_book();
    let n = book.instruments.len();
    let paths = paths();
    let repricings = (PATHS * n) as u64;
    let scenarios = ScenarioModel::new(&book, SEED);
    let reference = RevalueModel::new(&book);
    let states = reference_states(&book, &paths);
    let isas: Vec<Isa> = [Isa::Baseline, Isa::Avx2Fma, Isa::Avx512]
        .into_iter()
        .filter(|&i| Isa::supported(i) == i)
        .collect();

    let mut g = c.benchmark_group("rng");
    g.throughput(Throughput::Elements(repricings));
    let draws = tailrisk::rng::DrawSource::new(SEED);
    let per_path = book.normals_per_step();
    g.bench_function("philox_normals", |b| {
        b.iter_batched_ref(
            || vec![0.0; per_path],
            |out| {
                for &p in &paths {
                    draws.normals_into(p, 0, out);
                    black_box(&out);
                }
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("scenario");
    g.throughput(Throughput::Elements(repricings));
    g.bench_function("f64", |b| {
        b.iter_batched_ref(
            || (Scratch::default(), vec![AssetState::default(); ASSETS]),
            |(scratch, out)| {
                for &p in &paths {
                    scenarios.simulate(p, scratch, out);
                    black_box(&out);
                }
            },
            BatchSize::SmallInput,
        )
    });
    let pipeline = FastPipeline::<f32>::new(&book, SEED, Isa::detect());
    g.bench_function("f32_lanes", |b| {
        b.iter_batched_ref(
            || BlockScratch::new(&book, &pipeline.model),
            |scratch| {
                scratch
                    .lanes
                    .simulate(pipeline.isa, &pipeline.scenarios, &pipeline.model, &paths);
                black_box(&scratch.lanes);
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("revalue");
    g.throughput(Throughput::Elements(repricings));
    g.bench_function("f64", |b| {
        b.iter_batched_ref(
            || vec![0.0; n],
            |pnl| {
                for s in states.chunks(ASSETS) {
                    reference.revalue_into(s, VolRule::TenorScaled, pnl);
                    black_box(&pnl);
                }
            },
            BatchSize::SmallInput,
        )
    });
    for &isa in &isas {
        revalue_kernel::<f32>(&mut g, &book, &paths, isa, "f32");
        revalue_kernel::<f64>(&mut g, &book, &paths, isa, "f64_kernels");
    }
    g.finish();

    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(repricings));
    let account = &book.accounts[0];
    let pnl_rows: Vec<f64> = states
        .chunks(ASSETS)
        .flat_map(|s| {
            let mut pnl = vec![0.0; n];
            reference.revalue_into(s, VolRule::TenorScaled, &mut pnl);
            pnl
        })
        .collect();
    g.bench_function("f64", |b| {
        b.iter_batched_ref(
            || 0.0,
            |total| {
                for (pnl, s) in pnl_rows.chunks(n).zip(states.chunks(ASSETS)) {
                    *total += account_loss(&book, account, pnl, s);
                }
                black_box(&total);
            },
            BatchSize::SmallInput,
        )
    });
    let mut block = BlockScratch::new(&book, &pipeline.model);
    pipeline.revalue_block(&paths, &mut block);
    g.bench_function(format!("f32_{}", pipeline.isa.name()), |b| {
        b.iter_batched_ref(
            || Box::new([0.0; LANES]),
            |loss| {
                fast::kernel::aggregate(
                    pipeline.isa,
                    &book,
                    account,
                    &block.lanes,
                    &block.pnl,
                    loss,
                );
                black_box(&loss);
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // Tail: one account's losses into its buffer, as the runs at 10⁶ paths keep
    // k = 1% of them; the losses are the f64 reference's (their order decides the work).
    let mut g = c.benchmark_group("tail");
    let tail_paths = 1 << 16;
    g.throughput(Throughput::Elements((tail_paths * n) as u64));
    let losses: Vec<TailEntry> = (0..tail_paths as u32)
        .map(|p| TailEntry {
            loss: pnl_rows[(p as usize % PATHS) * n] * (1.0 + f64::from(p % 977) * 1e-3),
            path: p,
        })
        .collect();
    g.bench_function("push_1pct", |b| {
        b.iter_batched(
            || TailBuffer::new(tail_paths / 100),
            |mut tail| {
                for &e in &losses {
                    tail.push(e);
                }
                black_box(tail.finish())
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The SIMD revalue kernel of lane type `T` on one block, compiled for `isa`.
fn revalue_kernel<T: Real>(
    g: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    book: &Book,
    paths: &[u32],
    isa: Isa,
    name: &str,
) {
    let pipeline = FastPipeline::<T>::new(book, SEED, isa);
    g.bench_function(format!("{name}_{}", isa.name()), |b| {
        b.iter_batched_ref(
            || {
                let mut scratch = BlockScratch::new(book, &pipeline.model);
                scratch
                    .lanes
                    .simulate(pipeline.isa, &pipeline.scenarios, &pipeline.model, paths);
                scratch
            },
            |scratch| {
                fast::kernel::revalue(
                    isa,
                    &pipeline.model,
                    &scratch.lanes,
                    &mut scratch.kernel,
                    &mut scratch.pnl,
                );
                black_box(&scratch.pnl);
            },
            BatchSize::LargeInput,
        )
    });
}

fn end_to_end(c: &mut Criterion) {
    let book = bench_book();
    let mut g = c.benchmark_group("end_to_end");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    let book = &book;
    let instruments = book.instruments.len() as u64;
    let run = |backend: CpuBackend, paths: u64| {
        let plan = SimulationPlan {
            paths,
            first_path: 0,
            seed: SEED,
            tail_len: risk::tail_len(paths, &[0.99, 0.995]),
            chunk_paths: None,
        };
        move |b: &mut criterion::Bencher| {
            b.iter(|| black_box(backend.tails(book, &plan, &|_| {}).unwrap()))
        }
    };
    let f64_paths = END_TO_END_PATHS / 16;
    g.throughput(Throughput::Elements(f64_paths * instruments));
    g.bench_function("f64", run(CpuBackend::new(), f64_paths));
    g.throughput(Throughput::Elements(END_TO_END_PATHS * instruments));
    for isa in [Isa::Baseline, Isa::Avx2Fma, Isa::Avx512] {
        if Isa::supported(isa) == isa {
            for (precision, name) in [(Precision::F32, "f32"), (Precision::F64, "f64_kernels")] {
                let backend = CpuBackend::with_precision(precision).with_isa(isa);
                g.bench_function(
                    format!("{name}_{}", isa.name()),
                    run(backend, END_TO_END_PATHS),
                );
            }
        }
    }
    g.finish();
    historical(c, book);
}

/// Historical scenarios (hs/fhs) against Monte Carlo at equal scenario counts on the f64
/// reference: a table of 2,000 days (the Monte Carlo states of 2,000 paths, so the repricing
/// work is the same) through `table_tails`, and 2,000 Monte Carlo paths through `tails`.
fn historical(c: &mut Criterion, book: &Book) {
    const DAYS: u64 = 2_000;
    let mut g = c.benchmark_group("historical");
    g.sample_size(10);
    g.throughput(Throughput::Elements(DAYS * book.instruments.len() as u64));
    let paths: Vec<u32> = (0..DAYS as u32).collect();
    let table = ScenarioTable::new(book.assets.len(), reference_states(book, &paths));
    let backend = CpuBackend::new();
    let tail_len = risk::tail_len(DAYS, &[0.99, 0.995]);
    g.bench_function("table_tails_f64", |b| {
        b.iter(|| black_box(backend.table_tails(book, &table, tail_len, None).unwrap()))
    });
    let plan = SimulationPlan {
        paths: DAYS,
        first_path: 0,
        seed: SEED,
        tail_len,
        chunk_paths: None,
    };
    g.bench_function("monte_carlo_tails_f64", |b| {
        b.iter(|| black_box(backend.tails(book, &plan, &|_| {}).unwrap()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = stages, end_to_end
}
criterion_main!(benches);
