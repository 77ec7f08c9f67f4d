//! Shards beyond one machine (SPEC §14): `run --shard I/N` simulates only paths
//! [⌊I·P/N⌋, ⌊(I+1)·P/N⌋) and writes a [`file::ShardFile`]; [`merge::merge`] turns the N
//! files into exactly the report the same run without `--shard` gives.
//!
//! Why it is exact: the Philox counter holds the global path index, so a shard's losses are
//! bit for bit those of the same paths in the whole run. The whole run's tail (its
//! `tail_len` largest losses under the total order loss descending, path ascending) is the
//! tail of the union of the shards' tails, each shard keeping K = min(n_I, tail_len)
//! (settled detail H1). VaR, ES and their intervals are functions of that tail and P
//! ([`crate::risk::measure`], summed in the tail's order, H2), and component ES sums the
//! holdings' losses over the first k entries in the same order, recomputed from the P&L per
//! unit that the shard stored for its paths ([`crate::model::aggregate::holding_loss`], the
//! arithmetic of the whole run's own component ES). Everything else of the report does not
//! depend on the paths and travels in the header.
//!
//! `merge --report` (R7) renders `run --report`'s page: each shard also keeps the report's
//! inset losses (its tail raised to [`crate::run::inset_len`]) and counts every account's
//! loss histogram in the same tail pass; histograms add, and the inset of the union of the
//! shards' tails is the whole run's for the same reason as the tail.

mod digest;
pub mod file;
pub mod merge;
pub mod simulate;

use std::ops::Range;

use crate::error::{Error, Result};

pub use digest::inputs_sha256;
pub use merge::{Merged, NamedShard, merge, merge_with_extras};
pub use simulate::run_shard;

/// `--shard I/N` as written: two integers (I may be written negative: that is a value error,
/// exit 65, not a usage error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: i128,
    pub count: i128,
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let form = || format!("{s:?} is not of the form I/N (shard I of N, e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(form)?;
        let int = |t: &str| -> std::result::Result<i128, String> {
            let digits = t.strip_prefix('-').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(form());
            }
            t.parse().map_err(|_| form())
        };
        Ok(ShardSpec {
            index: int(i)?,
            count: int(n)?,
        })
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Shard `index` of `count`, checked against the run's paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardIndex {
    pub index: u64,
    pub count: u64,
}

impl ShardSpec {
    /// H6: 0 ≤ I < N ≤ P, else an input error (65) naming `--shard`.
    pub fn check(self, paths: u64) -> Result<ShardIndex> {
        let bad = |why: String| Err(Error::input("command line", "--shard", self, why));
        if self.index < 0 || self.index >= self.count {
            return bad("needs 0 <= I < N".into());
        }
        if self.count > i128::from(paths) {
            return bad(format!(
                "needs N <= paths ({paths}): every shard simulates at least one path"
            ));
        }
        Ok(ShardIndex {
            index: self.index as u64,
            count: self.count as u64,
        })
    }
}

impl ShardIndex {
    /// Paths [⌊I·P/N⌋, ⌊(I+1)·P/N⌋) of P (exact in 128-bit integers).
    pub fn range(self, paths: u64) -> Range<u64> {
        let at = |i: u64| (u128::from(i) * u128::from(paths) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_paths_once() {
        for (p, n) in [(10u64, 3u64), (7, 7), (1_000_003, 4), (5, 1)] {
            let ranges: Vec<_> = (0..n)
                .map(|i| ShardIndex { index: i, count: n }.range(p))
                .collect();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[n as usize - 1].end, p);
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
            assert!(ranges.iter().all(|r| !r.is_empty()));
        }
    }

    #[test]
    fn spec_parses_only_the_form_i_over_n() {
        assert_eq!(
            "2/7".parse::<ShardSpec>(),
            Ok(ShardSpec { index: 2, count: 7 })
        );
        assert!("-1/4".parse::<ShardSpec>().is_ok());
        for bad in ["", "1", "1/", "/4", "a/4", "1/4/5", "1.0/4", " 1/4"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
        let s: ShardSpec = "4/4".parse().unwrap();
        assert!(s.check(10).is_err());
        let s: ShardSpec = "0/11".parse().unwrap();
        assert!(s.check(10).is_err());
        assert!("-1/4".parse::<ShardSpec>().unwrap().check(10).is_err());
    }
}
