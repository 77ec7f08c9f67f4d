//! Tail stage, CPU twin of `shaders/tail_*.wgsl`: the largest losses of each account under
//! the order of SPEC §4 (larger loss first, ties by the lower path index), without keeping
//! all N losses: a buffer holds at most 2·cap candidates and is cut back to the best `cap`
//! by selection (no full sort) whenever it fills. The order is total, so the tail of any
//! union of chunks is the tail of their tails: the result does not depend on chunk size,
//! block size or thread count. The GPU backend merges its chunk tails on the host into the
//! same buffers, and uses [`TailBuffer::floor`] to skip on the device what cannot enter.

use std::cmp::Ordering;

use crate::model::distribution::LossHistogram;
use crate::model::{AccountTail, TailEntry};

/// Tails at least this long are sorted on every thread.
const PARALLEL_SORT_LEN: usize = 1 << 15;

/// An integer key whose ascending order is [`TailEntry::worse_first`]: the loss's bits in
/// `f64::total_cmp`'s order, complemented (worst first), then the path. Comparing keys is
/// a few integer instructions, where the comparator's two-level float order is a call.
fn worse_first_key(e: &TailEntry) -> (i64, u32) {
    let bits = e.loss.to_bits() as i64;
    let total_order = bits ^ ((((bits >> 63) as u64) >> 1) as i64);
    (!total_order, e.path)
}

/// The best `cap` losses seen so far of one account.
#[derive(Clone, Debug)]
pub struct TailBuffer {
    cap: usize,
    entries: Vec<TailEntry>,
    /// The cap-th best entry after the last cut: anything not better can never enter.
    threshold: Option<TailEntry>,
    /// With [`TailBuffer::counting`]: every loss pushed, binned (candidates or not).
    histogram: Option<LossHistogram>,
}

impl TailBuffer {
    /// A buffer for the best `cap` losses (`cap` 0 keeps none, as the GPU's tail does).
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            entries: Vec::new(),
            threshold: None,
            histogram: None,
        }
    }

    /// A buffer that also counts every loss pushed into a [`LossHistogram`] (the CPU's tail
    /// pass; the GPU counts on the device and pushes only candidates, into plain buffers).
    pub fn counting(cap: usize) -> Self {
        Self {
            histogram: Some(LossHistogram::new()),
            ..Self::new(cap)
        }
    }

    /// One scenario's loss: counted (when counting) and offered to the tail.
    #[inline]
    pub fn push(&mut self, entry: TailEntry) {
        if let Some(h) = &mut self.histogram {
            h.add(entry.loss);
        }
        self.offer(entry);
    }

    /// A tail candidate, not counted in the histogram (merges, and the GPU's selected
    /// entries, whose losses the device has counted).
    #[inline]
    pub fn offer(&mut self, entry: TailEntry) {
        if self.cap == 0 {
            return;
        }
        if let Some(t) = &self.threshold
            && TailEntry::worse_first(&entry, t) != Ordering::Less
        {
            return;
        }
        self.entries.push(entry);
        if self.entries.len() >= 2 * self.cap {
            self.cut();
        }
    }

    /// Keeps the best `cap` entries (selection, O(len)).
    fn cut(&mut self) {
        if self.cap > 0 && self.entries.len() >= self.cap {
            self.entries
                .select_nth_unstable_by(self.cap - 1, TailEntry::worse_first);
            self.entries.truncate(self.cap);
            self.threshold = Some(self.entries[self.cap - 1]);
        }
    }

    /// Once `cap` entries are held, the worst of them: an entry that is not better can never
    /// enter (the GPU skips such losses on the device). `None` while the tail is not full.
    pub fn floor(&mut self) -> Option<TailEntry> {
        self.cut();
        self.threshold
    }

    /// Adds another buffer's candidates and counts (another chunk or thread).
    pub fn merge(&mut self, other: TailBuffer) {
        if let (Some(h), Some(o)) = (&mut self.histogram, &other.histogram) {
            h.merge(o);
        }
        // While neither can cut, the candidates are simply all of them (what offering them
        // one by one would keep): the larger list absorbs the smaller. A tail that keeps
        // every path (importance sampling) merges so without a pass over each entry.
        let mut other = other.entries;
        if self.threshold.is_none() && self.entries.len() + other.len() < 2 * self.cap {
            if other.len() > self.entries.len() {
                std::mem::swap(&mut self.entries, &mut other);
            }
            self.entries.extend(other);
            return;
        }
        for e in other {
            self.offer(e);
        }
    }

    /// The best `cap` entries, sorted worst loss first.
    pub fn finish(self) -> AccountTail {
        self.finish_counted().0
    }

    /// [`TailBuffer::finish`] and the histogram of every loss pushed (`None` unless
    /// [`TailBuffer::counting`]).
    pub fn finish_counted(mut self) -> (AccountTail, Option<LossHistogram>) {
        // Exactly `cap` entries are all kept: no selection.
        if self.entries.len() > self.cap {
            self.cut();
        }
        // The order is total, so a parallel sort gives the same entries in the same order;
        // it pays for the long tails of importance sampling, which keep every path.
        if self.entries.len() >= PARALLEL_SORT_LEN {
            use rayon::slice::ParallelSliceMut;
            self.entries.par_sort_unstable_by_key(worse_first_key);
        } else {
            self.entries.sort_unstable_by(TailEntry::worse_first);
        }
        let tail = AccountTail {
            worst: self.entries,
        };
        (tail, self.histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(losses: &[f64]) -> Vec<TailEntry> {
        losses
            .iter()
            .enumerate()
            .map(|(i, &loss)| TailEntry {
                loss,
                path: i as u32,
            })
            .collect()
    }

    #[test]
    fn keeps_the_largest_with_ties_by_lower_path() {
        let mut buf = TailBuffer::new(3);
        for e in entries(&[1.0, 5.0, 2.0, 5.0, 0.0, 3.0, 5.0, -1.0]) {
            buf.push(e);
        }
        let tail = buf.finish();
        let got: Vec<(f64, u32)> = tail.worst.iter().map(|e| (e.loss, e.path)).collect();
        assert_eq!(got, vec![(5.0, 1), (5.0, 3), (5.0, 6)]);
    }

    /// A tail of length 0 keeps nothing, on the CPU as on the GPU (tests/gpu_tail.rs).
    #[test]
    fn a_tail_of_zero_keeps_nothing() {
        let mut t = TailBuffer::new(0);
        entries(&[3.0, 1.0, 2.0])
            .into_iter()
            .for_each(|e| t.push(e));
        assert_eq!(t.floor(), None);
        assert!(t.finish().worst.is_empty());
    }

    #[test]
    fn merge_of_parts_equals_the_whole() {
        let losses: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1009) as f64).collect();
        let all = entries(&losses);
        let mut whole = TailBuffer::new(17);
        all.iter().for_each(|&e| whole.push(e));
        let mut parts = TailBuffer::new(17);
        for chunk in all.chunks(33) {
            let mut part = TailBuffer::new(17);
            chunk.iter().for_each(|&e| part.push(e));
            parts.merge(part);
        }
        assert_eq!(whole.finish(), parts.finish());
    }

    #[test]
    fn the_sort_key_orders_as_worse_first() {
        let losses = [
            3.5,
            -2.0,
            0.0,
            -0.0,
            1e300,
            -1e300,
            5e-324,
            -5e-324,
            3.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            7.25,
            -7.25,
            1.0,
            1.0,
        ];
        let entries: Vec<TailEntry> = losses
            .iter()
            .enumerate()
            .map(|(i, &loss)| TailEntry {
                loss,
                path: (i * 7 % 5) as u32,
            })
            .collect();
        for a in &entries {
            for b in &entries {
                assert_eq!(
                    worse_first_key(a).cmp(&worse_first_key(b)),
                    TailEntry::worse_first(a, b),
                    "{a:?} against {b:?}"
                );
            }
        }
    }
}
