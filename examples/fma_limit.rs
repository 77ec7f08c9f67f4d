//! The machine's f32 fused multiply-add limit, the ceiling the f32 kernels are stated against
//! (docs/benchmarks.md, `benches/compare.py`).
//!
//! Each thread runs 12 independent chains of `acc ← acc·m + a` (more chains than the FMA
//! latency × pipes of any x86 core, so the pipes, not the latency, bound the rate) for a
//! fixed count of iterations, on 256-bit (AVX2 + FMA) and, where the CPU has it, 512-bit
//! (AVX-512F) vectors, on one thread and on every logical CPU at once. It prints one line per
//! measurement, `width threads fmas_per_s flops_per_s`, where an FMA is one vector
//! instruction and a FLOP is one lane's multiply or add (16 per 256-bit FMA, 32 per 512-bit).
//!
//! Run: `cargo run --release --example fma_limit`.

use std::time::Instant;

/// Vector FMAs per chain and measurement: long enough (~0.3 s a thread) to swamp timer and
/// thread start-up, short enough for a benchmark script.
const ITERATIONS: u64 = 100_000_000;
const CHAINS: u64 = 12;

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            report("avx2", 256, threads, || unsafe { chains_256() });
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            report("avx512", 512, threads, || unsafe { chains_512() });
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    eprintln!("fma_limit measures x86-64 vector FMAs only; nothing measured here");
}

/// Times `run` on one thread, then on `threads` threads at once, and prints both.
fn report(name: &str, bits: u64, threads: usize, run: fn() -> f32) {
    let lanes = bits / 32;
    for count in [1, threads] {
        let start = Instant::now();
        let sinks: Vec<f32> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..count).map(|_| s.spawn(run)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let seconds = start.elapsed().as_secs_f64();
        let fmas = (ITERATIONS * CHAINS * count as u64) as f64 / seconds;
        // The sum keeps the chains' results alive, so the loop cannot be optimised away.
        let sink: f32 = sinks.iter().sum();
        println!(
            "{name} {count} {fmas:.4e} {:.4e} (sink {sink:.3})",
            fmas * 2.0 * lanes as f64
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn chains_256() -> f32 {
    use std::arch::x86_64::*;
    let m = _mm256_set1_ps(0.999_999);
    let a = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); CHAINS as usize];
    for _ in 0..ITERATIONS {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, m, a);
        }
    }
    let mut out = [0.0f32; 8];
    let total = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &x| _mm256_add_ps(s, x));
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), total) };
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn chains_512() -> f32 {
    use std::arch::x86_64::*;
    let m = _mm512_set1_ps(0.999_999);
    let a = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); CHAINS as usize];
    for _ in 0..ITERATIONS {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, m, a);
        }
    }
    _mm512_reduce_add_ps(
        acc.iter()
            .fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x)),
    )
}
