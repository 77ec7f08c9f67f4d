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
use tailrisk::engine::gpu::stages::{self, BookBuffers, ChunkBuffers, PathSource, TailBuffers};
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

fn stage_benches(c: &mut Criterion) {
    let Some(gpu) = backend() else { return };
    let book = bench_book();
    let ctx = gpu.context();
    let b = BookBuffers::new(ctx, &book).unwrap();
    let count = PATHS.min(stages::chunk_paths(ctx, &b, None) as u32);
    let chunk = ChunkBuffers::new(ctx, &b, u64::from(count), false);
    let repricings = u64::from(count) * u64::from(b.instruments);
    let encoder = || ctx.device.create_command_encoder(&Default::default());
    let source = PathSource::Range { base: 0, count };
    eprintln!(
        "GPU stages on {}: {count} paths, {} instruments, {} revalue blocks, fused {}",
        ctx.info.name, b.instruments, b.instrument_block_count, b.fused
    );

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
    g.bench_function("simulate", |bch| {
        bch.iter_batched(
            || {
                let mut e = encoder();
                stages::encode_scenario(ctx, &mut e, &b, &chunk, SEED, source).unwrap();
                e.finish()
            },
            |commands| run(ctx, commands),
            BatchSize::PerIteration,
        )
    });
    g.finish();
    // The states every later stage reads.
    let mut e = encoder();
    stages::encode_scenario(ctx, &mut e, &b, &chunk, SEED, source).unwrap();
    run(ctx, e.finish());

    let mut g = c.benchmark_group("gpu_revalue");
    g.throughput(Throughput::Elements(repricings));
    if b.fused {
        g.bench_function("accumulate_fused", |bch| {
            bch.iter_batched(
                || {
                    let mut e = encoder();
                    stages::encode_accumulate(ctx, &mut e, &b, &chunk, count).unwrap();
                    e.finish()
                },
                |commands| run(ctx, commands),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
    // P&L rows (factored form) need their own buffers.
    let explicit = ChunkBuffers::new(ctx, &b, u64::from(count), true);
    let mut e = encoder();
    stages::encode_scenario(ctx, &mut e, &b, &explicit, SEED, source).unwrap();
    run(ctx, e.finish());
    let mut g = c.benchmark_group("gpu_revalue");
    g.throughput(Throughput::Elements(repricings));
    g.bench_function("pnl_rows", |bch| {
        bch.iter_batched(
            || {
                let mut e = encoder();
                stages::encode_revalue(ctx, &mut e, &b, &explicit, count, false).unwrap();
                e.finish()
            },
            |commands| run(ctx, commands),
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("gpu_aggregate");
    g.throughput(Throughput::Elements(repricings));
    g.bench_function("holdings_over_pnl_rows", |bch| {
        bch.iter_batched(
            || {
                let mut e = encoder();
                stages::encode_aggregate(ctx, &mut e, &b, &explicit, count).unwrap();
                e.finish()
            },
            |commands| run(ctx, commands),
            BatchSize::PerIteration,
        )
    });
    if b.fused {
        let mut e = encoder();
        stages::encode_accumulate(ctx, &mut e, &b, &chunk, count).unwrap();
        run(ctx, e.finish());
        g.bench_function("finish_fused", |bch| {
            bch.iter_batched(
                || {
                    let mut e = encoder();
                    stages::encode_finish(ctx, &mut e, &b, &chunk, count).unwrap();
                    e.finish()
                },
                |commands| run(ctx, commands),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();

    // Tail: the chunk's losses, k = 1% of them (as a run at this many paths keeps).
    let mut e = encoder();
    stages::encode_losses(ctx, &mut e, &b, &chunk, count).unwrap();
    run(ctx, e.finish());
    let tail_len = count / 100;
    let tail = TailBuffers::new(ctx, b.accounts, tail_len).unwrap();
    let mut g = c.benchmark_group("gpu_tail");
    g.throughput(Throughput::Elements(repricings));
    g.bench_function("radix_select_1pct", |bch| {
        bch.iter_batched(
            || vec![TailBuffer::new(tail_len as usize); b.accounts as usize],
            |mut tails| {
                stages::run_tail(ctx, &b, &chunk, &tail, 0, count, &mut tails).unwrap();
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
