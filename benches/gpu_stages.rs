//! Per-stage GPU benchmarks on the generated 576-option, 3-asset, 1-step book
//! ([`tailrisk::bench_book`]), on whatever adapter `GpuBackend::any` finds
//! (lavapipe included): RNG (raw Philox words), scenario, revalue, aggregate and tail on one
//! chunk of paths, then [`Backend::tails`] end to end.
//!
//! Every group reports its throughput as full repricings per second
//! (`Throughput::Elements(paths × instruments)`), as `benches/stages.rs` does for the CPU: the
//! rate the pipeline would reach if that stage were all of it. Each timed iteration submits
//! the stage's commands and waits for the device; encoding happens in the setup of
//! `iter_batched`, outside the timing. Without an adapter the benches print a skip message
//! and return. Run with `cargo bench --bench gpu_stages` (figures: docs/benchmarks.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tailrisk::bench_book::generated_book;
use tailrisk::book::Book;
use tailrisk::engine::gpu::stage::{self, PathSource, Stages, TailStage};
use tailrisk::engine::gpu::{GpuBackend, GpuContext};
use tailrisk::engine::{Backend, SimulationPlan};
use tailrisk::model::tail::TailBuffer;
use tailrisk::risk;

const SEED: u64 = 42;
/// Paths of one benchmarked chunk.
const PATHS: u32 = 1 << 15;
/// Paths of the end-to-end runs.
const END_TO_END_PATHS: u64 = 1 << 18;

fn bench_book() -> Book {
    generated_book(576, 3, 1, 7)
}

fn backend() -> Option<GpuBackend> {
    match GpuBackend::any() {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("SKIPPED: no GPU adapter ({e}); the GPU benches need one (lavapipe counts)");
            None
        }
    }
}

/// Submits the commands and waits for the device.
fn run(ctx: &GpuContext, commands: wgpu::CommandBuffer) {
    ctx.queue.submit([commands]);
    ctx.wait().unwrap();
}

/// Encodes with `encode` into a fresh encoder: the commands of one iteration.
fn commands(
    ctx: &GpuContext,
    encode: impl FnOnce(&mut wgpu::CommandEncoder),
) -> wgpu::CommandBuffer {
    let mut e = ctx.device.create_command_encoder(&Default::default());
    encode(&mut e);
    e.finish()
}

/// A benchmark of the commands `encode` makes: encoded in the setup, submitted and waited
/// for in the timing.
fn bench_commands(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    ctx: &GpuContext,
    encode: impl Fn(&mut wgpu::CommandEncoder),
) {
    g.bench_function(name, |bch| {
        bch.iter_batched(
            || commands(ctx, &encode),
            |commands| run(ctx, commands),
            BatchSize::PerIteration,
        )
    });
}

fn stage_benches(c: &mut Criterion) {
    let Some(gpu) = backend() else { return };
    let book = bench_book();
    let ctx = gpu.context();
    let count = PATHS.min(stage::chunk_paths(ctx, &book, None) as u32);
    let s = Stages::new(ctx, &book, u64::from(count), false).unwrap();
    // P&L rows (factored form) need their own buffers.
    let explicit = Stages::new(ctx, &book, u64::from(count), true).unwrap();
    let repricings = u64::from(count) * book.instruments.len() as u64;
    eprintln!(
        "GPU stages on {}: {count} paths, {} instruments, {} revalue blocks, fused {}",
        ctx.info.name,
        book.instruments.len(),
        s.revalue.instrument_blocks(),
        s.fused()
    );

    bench_rng_scenario(c, &gpu, [&s, &explicit], count, repricings);
    bench_revalue_aggregate(c, ctx, [&s, &explicit], count, repricings);
    bench_tail(c, ctx, &s, count, repricings);
}

/// Raw Philox words, then the scenario stage (which also leaves the states every later
/// stage reads, in both sets of buffers).
fn bench_rng_scenario(
    c: &mut Criterion,
    gpu: &GpuBackend,
    [s, explicit]: [&Stages; 2],
    count: u32,
    repricings: u64,
) {
    let ctx = gpu.context();
    let source = PathSource::Range { base: 0, count };
    let mut g = c.benchmark_group("gpu_rng");
    g.throughput(Throughput::Elements(repricings));
    let paths: Vec<u32> = (0..count).collect();
    // 3 Philox blocks of 4 words a path: the 9 normals of one step of this book (z, w and
    // jump sizes of 3 assets); includes the upload of the path list and the readback.
    g.bench_function("philox_words", |bch| {
        bch.iter(|| black_box(gpu.philox_words(SEED, &paths, 0, 3, 0).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("gpu_scenario");
    g.throughput(Throughput::Elements(repricings));
    bench_commands(&mut g, "simulate", ctx, |e| {
        s.scenario.encode(ctx, e, SEED, source).unwrap();
    });
    g.finish();
    // The states every later stage reads.
    for stages in [s, explicit] {
        run(
            ctx,
            commands(ctx, |e| {
                stages.scenario.encode(ctx, e, SEED, source).unwrap();
            }),
        );
    }
}

/// Revalue (fused sums, P&L rows) and aggregate (over P&L rows, fused finish).
fn bench_revalue_aggregate(
    c: &mut Criterion,
    ctx: &GpuContext,
    [s, explicit]: [&Stages; 2],
    count: u32,
    repricings: u64,
) {
    let mut g = c.benchmark_group("gpu_revalue");
    g.throughput(Throughput::Elements(repricings));
    if s.fused() {
        bench_commands(&mut g, "accumulate_fused", ctx, |e| {
            s.revalue
                .encode_accumulate(ctx, e, &s.chunk, count)
                .unwrap();
        });
    }
    bench_commands(&mut g, "pnl_rows", ctx, |e| {
        explicit
            .revalue
            .encode_revalue(ctx, e, count, false)
            .unwrap();
    });
    g.finish();

    let mut g = c.benchmark_group("gpu_aggregate");
    g.throughput(Throughput::Elements(repricings));
    bench_commands(&mut g, "holdings_over_pnl_rows", ctx, |e| {
        explicit.aggregate.encode_aggregate(ctx, e, count).unwrap();
    });
    if s.fused() {
        run(
            ctx,
            commands(ctx, |e| {
                s.revalue
                    .encode_accumulate(ctx, e, &s.chunk, count)
                    .unwrap();
            }),
        );
        bench_commands(&mut g, "finish_fused", ctx, |e| {
            s.aggregate.encode_finish(ctx, e, count).unwrap();
        });
    }
    g.finish();
}

/// The tail stage on the chunk's losses.
fn bench_tail(c: &mut Criterion, ctx: &GpuContext, s: &Stages, count: u32, repricings: u64) {
    let accounts = s.aggregate.accounts as usize;
    // Tail: the chunk's losses, k = 1% of them (as a run at this many paths keeps).
    run(
        ctx,
        commands(ctx, |e| s.encode_losses(ctx, e, count).unwrap()),
    );
    let tail_len = count / 100;
    let tail = TailStage::new(ctx, accounts as u32, tail_len, &s.chunk.loss).unwrap();
    let mut g = c.benchmark_group("gpu_tail");
    g.throughput(Throughput::Elements(repricings));
    g.bench_function("radix_select_1pct", |bch| {
        bch.iter_batched(
            || vec![TailBuffer::new(tail_len as usize); accounts],
            |mut tails| {
                tail.run(ctx, 0, count, &mut tails).unwrap();
                black_box(tails)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn end_to_end(c: &mut Criterion) {
    let Some(gpu) = backend() else { return };
    let book = bench_book();
    let plan = SimulationPlan {
        paths: END_TO_END_PATHS,
        first_path: 0,
        seed: SEED,
        tail_len: risk::tail_len(END_TO_END_PATHS, &[0.99, 0.995]),
        chunk_paths: None,
    };
    let mut g = c.benchmark_group("gpu_end_to_end");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.throughput(Throughput::Elements(
        END_TO_END_PATHS * book.instruments.len() as u64,
    ));
    g.bench_function("tails", |bch| {
        bch.iter(|| black_box(gpu.tails(&book, &plan, &|_| {}).unwrap()))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = benches;
    config = config();
    targets = stage_benches, end_to_end
}
criterion_main!(benches);
