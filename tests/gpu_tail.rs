//! The GPU tail stage alone, on given losses, against the CPU's `model::tail::TailBuffer` on
//! the same f32 losses (skipped loudly without an adapter; `TAILRISK_REQUIRE_GPU=1` makes a
//! missing adapter a failure). Both select under the order of SPEC 4 (larger loss first,
//! ties by the lower path), so the selected (loss, path) entries must be identical, bit for
//! bit: no tolerance, the losses are the same f32 values on both sides.

mod common;

use common::test_backend;
use tailrisk::engine::{AccountTail, TailEntry};
use tailrisk::model::tail::TailBuffer;

const PATHS: usize = 5_000;

/// A small deterministic generator (64-bit LCG, high word).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 32) as u32
    }
}

/// Account rows of `PATHS` losses each (row-major, account-major), built to put ties at the
/// cut of the tails below and across chunk boundaries:
/// 0. every loss equal: the tail is the lowest paths;
/// 1. five distinct values, each on a fifth of the paths: the cut falls inside a tie;
/// 2. random f32 bit patterns (finite), with ±0, ±∞, subnormals and negatives among them;
/// 3. a few large losses, then one value repeated on every 7th path (ties at the cut of
///    every tail length used, spread over every chunk), the rest below it;
/// 4. all zero but one path of −0.0 and one of the smallest subnormal.
fn losses() -> (Vec<f32>, usize) {
    let mut rng = Lcg(7);
    let mut rows: Vec<Vec<f32>> = vec![
        vec![1.5; PATHS],
        (0..PATHS).map(|p| ((p * 7919) % 5) as f32 * 0.25).collect(),
    ];
    let mut random: Vec<f32> = (0..PATHS)
        .map(|_| {
            loop {
                let x = f32::from_bits(rng.next());
                if x.is_finite() {
                    break x;
                }
            }
        })
        .collect();
    random[10..16].copy_from_slice(&[
        0.0,
        -0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::from_bits(1),
        -f32::from_bits(1),
    ]);
    rows.push(random);
    rows.push(
        (0..PATHS)
            .map(|p| match p {
                _ if p % 1000 == 999 => 1e6 + p as f32,
                _ if p % 7 == 3 => 250.0,
                _ => (p % 97) as f32,
            })
            .collect(),
    );
    let mut zeros = vec![0.0f32; PATHS];
    zeros[4321] = -0.0;
    zeros[77] = f32::from_bits(1);
    rows.push(zeros);
    let accounts = rows.len();
    (rows.concat(), accounts)
}

/// The CPU's tail of one account row.
fn cpu_tail(row: &[f32], tail_len: usize) -> AccountTail {
    let mut buffer = TailBuffer::new(tail_len);
    for (path, &loss) in row.iter().enumerate() {
        buffer.push(TailEntry {
            loss: f64::from(loss),
            path: path as u32,
        });
    }
    buffer.finish()
}

/// (loss bits, path): distinguishes −0.0 from 0.0, which `==` on f64 does not.
fn bits(tail: &AccountTail) -> Vec<(u64, u32)> {
    tail.worst
        .iter()
        .map(|e| (e.loss.to_bits(), e.path))
        .collect()
}

#[test]
fn tail_stage_selects_what_the_cpu_selects() {
    let Some(gpu) = test_backend() else { return };
    let (losses, accounts) = losses();
    for tail_len in [0, 1, 50, 1001, PATHS + 10] {
        let want: Vec<AccountTail> = losses
            .chunks(PATHS)
            .map(|row| cpu_tail(row, tail_len))
            .collect();
        // One chunk, a histogram tile (4096), and chunks that cut tie runs.
        for chunk in [PATHS as u32, 4096, 1000, 333] {
            let got = gpu
                .tail_of_losses(&losses, accounts, tail_len, chunk)
                .unwrap();
            assert_eq!(got.len(), accounts);
            for (a, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(w.worst.len(), tail_len.min(PATHS));
                assert_eq!(
                    bits(g),
                    bits(w),
                    "account {a}, tail {tail_len}, chunk {chunk}"
                );
            }
        }
    }
}

/// A tail of 0 selects nothing, on the device as in the CPU's `TailBuffer`.
#[test]
fn an_empty_tail_selects_nothing() {
    let Some(gpu) = test_backend() else { return };
    let (losses, accounts) = losses();
    let got = gpu.tail_of_losses(&losses, accounts, 0, 1000).unwrap();
    assert_eq!(got.len(), accounts);
    assert!(got.iter().all(|t| t.worst.is_empty()));
}

/// The losses above do put ties at the cut (so the test above exercises the path order):
/// for accounts 0, 1 and 3 and a tail of 50 and 1001, the loss at the cut also occurs just
/// outside the tail.
#[test]
fn the_test_losses_tie_at_the_cut() {
    let (losses, _) = losses();
    let rows: Vec<&[f32]> = losses.chunks(PATHS).collect();
    for a in [0, 1, 3] {
        for tail_len in [50, 1001] {
            let tail = cpu_tail(rows[a], tail_len);
            let cut = tail.worst.last().unwrap().loss;
            let ties = rows[a].iter().filter(|&&x| f64::from(x) == cut).count();
            let inside = tail.worst.iter().filter(|e| e.loss == cut).count();
            assert!(
                ties > inside,
                "account {a}, tail {tail_len}: no tie at the cut"
            );
        }
    }
}

/// Chunks of one and a few paths: the running tail's floor decides what later chunks may
/// add (only a strictly larger loss), on every tie pattern above.
#[test]
fn tiny_chunks_agree() {
    let Some(gpu) = test_backend() else { return };
    let (losses, accounts) = losses();
    let paths = 60;
    let short: Vec<f32> = losses
        .chunks(PATHS)
        .flat_map(|row| row[..paths].iter().copied())
        .collect();
    for tail_len in [1, 7, 60] {
        for chunk in [1, 3, 16] {
            let got = gpu
                .tail_of_losses(&short, accounts, tail_len, chunk)
                .unwrap();
            for (a, row) in short.chunks(paths).enumerate() {
                let want = cpu_tail(row, tail_len);
                assert_eq!(
                    bits(&got[a]),
                    bits(&want),
                    "account {a}, tail {tail_len}, chunk {chunk}"
                );
            }
        }
    }
}
