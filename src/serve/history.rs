//! The figures history of S24 without `--state`: what went live since start, in memory.
//!
//! Each account has an entry for every snapshot that went live, the first at start: a
//! snapshot that did not recompute the account (a trade on another one) carries its figures
//! as they stand, the latest recomputation at or before it, with the snapshot's own time.
//! The state file answers the same query in SQL (`Store::history`).

use std::collections::HashMap;

use super::store::FigureRow;

/// The recomputed rows per account, and every live snapshot with the time it went live.
#[derive(Default)]
pub struct MemoryHistory {
    rows: HashMap<String, Vec<FigureRow>>,
    live: Vec<(u64, String)>,
}

impl MemoryHistory {
    /// Records a snapshot that went live: its recomputed accounts' rows (all at its time).
    pub fn record(&mut self, rows: Vec<FigureRow>) {
        if let Some(first) = rows.first() {
            self.live.push((first.snapshot, first.at.clone()));
        }
        for r in rows {
            self.rows.entry(r.account.clone()).or_default().push(r);
        }
    }

    /// `account`'s entries from snapshot `since` on, oldest first, at most `limit`; none for
    /// an account never recorded.
    pub fn entries(&self, account: &str, since: u64, limit: u64) -> Vec<FigureRow> {
        let Some(rows) = self.rows.get(account) else {
            return Vec::new();
        };
        let from = self.live.partition_point(|(s, _)| *s < since);
        self.live[from..]
            .iter()
            .take(limit.min(usize::MAX as u64) as usize)
            .filter_map(|(snapshot, at)| {
                // The latest recomputation at or before this snapshot (rows are in order).
                let upto = rows.partition_point(|r| r.snapshot <= *snapshot);
                let row = rows.get(upto.checked_sub(1)?)?;
                Some(FigureRow {
                    snapshot: *snapshot,
                    at: at.clone(),
                    ..row.clone()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(snapshot: u64, account: &str, initial: f64) -> FigureRow {
        FigureRow {
            snapshot,
            account: account.into(),
            at: format!("t{snapshot}"),
            initial,
            maintenance: initial / 2.0,
            es: initial / 3.0,
        }
    }

    #[test]
    fn every_live_snapshot_has_an_entry_with_the_figures_as_they_stand() {
        let mut h = MemoryHistory::default();
        h.record(vec![row(1, "a", 10.0), row(1, "b", 20.0)]);
        h.record(vec![row(2, "a", 11.0)]); // a trade on a
        h.record(vec![row(3, "b", 21.0)]); // a trade on b
        h.record(vec![row(4, "a", 12.0), row(4, "b", 22.0)]); // a market update
        let b = h.entries("b", 1, 1000);
        let got: Vec<_> = b
            .iter()
            .map(|r| (r.snapshot, r.at.as_str(), r.initial))
            .collect();
        assert_eq!(
            got,
            [
                (1, "t1", 20.0),
                (2, "t2", 20.0),
                (3, "t3", 21.0),
                (4, "t4", 22.0)
            ]
        );
        let a: Vec<_> = h.entries("a", 2, 2).iter().map(|r| r.initial).collect();
        assert_eq!(a, [11.0, 11.0], "since 2, limit 2: snapshots 2 and 3");
        assert!(h.entries("c", 1, 1000).is_empty());
        assert!(h.entries("a", 5, 1000).is_empty());
    }
}
