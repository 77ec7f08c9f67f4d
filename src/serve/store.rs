//! `--state FILE`: the service's changes and figures in SQLite (WAL, `synchronous=FULL`,
//! locked exclusively for the life of the process), S22–S24.
//!
//! Tables (`schema`): `meta` (format, version, the SHA-256 of every starting input and of
//! the figure-changing flags, and each such flag's value), `changes` (one row per accepted
//! change, committed before its recomputation starts: kind, account, body as received, trade
//! id, and the answer once live) and `figures` (per snapshot that went live and account
//! recomputed: initial, maintenance, ES at the margin confidence; the first at start). Floats
//! are stored as SQLite REALs, the same 8 bytes as the `f64`, so replayed figures compare bit
//! for bit. A change answered with an error is withdrawn again, and a withdrawal that fails
//! is retried before the next change and at shutdown ([`Store::withdraw_after`]).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, params};

use super::schema::{self, Part};

/// Why a state file cannot be used, with the exit code of SPEC §8.
#[derive(Debug)]
pub struct StoreError {
    pub code: u8,
    pub message: String,
}

impl StoreError {
    fn new(code: u8, message: String) -> Self {
        StoreError { code, message }
    }
}

/// Any SQLite failure after opening: exit 1 at start (65 for a damaged file), 500 while
/// serving.
fn failed(file: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::new(
            65,
            format!("{file}: not a valid tailrisk state file (damaged: {e})"),
        ),
        _ => StoreError::new(1, format!("state file {file}: {e}")),
    }
}

/// A change as the file holds it.
#[derive(Clone, Debug)]
pub struct StoredChange {
    pub snapshot: u64,
    /// `trade` or `market`.
    pub kind: String,
    pub account: Option<String>,
    pub body: String,
    pub trade_id: Option<String>,
    pub answer: Option<String>,
}

/// One account's figures at a snapshot that went live (S24).
#[derive(Clone, Debug, PartialEq)]
pub struct FigureRow {
    pub snapshot: u64,
    pub account: String,
    pub at: String,
    pub initial: f64,
    pub maintenance: f64,
    pub es: f64,
}

pub struct Store {
    conn: Connection,
    file: String,
    /// A change answered with an error may still be in the file ([`Store::withdraw_after`]).
    unwithdrawn: bool,
}

impl Store {
    /// Opens (or, when missing or empty, creates) `path`, checks that it is a tailrisk state
    /// made from the same inputs, flags and version (`parts`, in order: the first that
    /// differs is named) before anything is written to it, then takes its exclusive lock.
    /// A locked file is exit 75, a file that is not a tailrisk state 65.
    pub fn open(path: &Path, parts: &[Part]) -> Result<Self, StoreError> {
        let file = path.display().to_string();
        let new = schema::is_new(path, &file)?;
        // A state that cannot be made, or an existing one that cannot be written, is an
        // output that cannot be created (73); an existing one that cannot be opened, 66.
        let cannot_write = |e: &dyn std::fmt::Display| {
            let what = if new { "create" } else { "write" };
            StoreError::new(73, format!("cannot {what} state file {file}: {e}"))
        };
        let conn = Connection::open(path).map_err(|e| match new {
            true => cannot_write(&e),
            false => StoreError::new(66, format!("cannot open state file {file}: {e}")),
        })?;
        let classify = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                StoreError::new(75, format!("state file {file} is locked by another server"))
            }
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                cannot_write(&e)
            }
            Some(ErrorCode::DiskFull) if new => cannot_write(&e),
            Some(ErrorCode::NotADatabase) => StoreError::new(
                65,
                format!("{file}: not a tailrisk state file (not an SQLite database)"),
            ),
            _ => failed(&file, e),
        };
        conn.busy_timeout(Duration::ZERO).map_err(classify)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(classify)?;
        if !new {
            schema::verify(&conn, &file, parts, &classify)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(classify)?;
        // A write transaction takes the exclusive lock, held until the connection closes.
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
            .map_err(classify)?;
        if new {
            // Another server may have made it between the look and the lock.
            let tables: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |r| r.get(0),
                )
                .map_err(classify)?;
            match tables {
                0 => schema::create(&conn, parts).map_err(classify)?,
                _ => schema::verify(&conn, &file, parts, &classify)?,
            }
        }
        Ok(Store {
            conn,
            file,
            unwithdrawn: false,
        })
    }

    /// The file's name, as messages give it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Whether a change newer than the live snapshot may still be in the file (a change
    /// answered with an error whose withdrawal failed).
    pub fn unwithdrawn(&self) -> bool {
        self.unwithdrawn
    }

    /// Withdraws every change (and figure) newer than the live snapshot `live`: the changes
    /// that were answered with an error. On failure the SQLite error, and the withdrawal is
    /// owed until one succeeds.
    pub fn withdraw_after(&mut self, live: u64) -> Result<(), String> {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK;");
        }
        let live = live.min(i64::MAX as u64) as i64;
        // A read first: nothing to withdraw (the change never reached the file) is no write.
        let newer = self.conn.query_row(
            "SELECT count(*) FROM changes WHERE snapshot > ?1",
            [live],
            |r| r.get::<_, i64>(0),
        );
        if let Ok(0) = newer {
            self.unwithdrawn = false;
            return Ok(());
        }
        let done = self.conn.transaction().and_then(|tx| {
            tx.execute("DELETE FROM figures WHERE snapshot > ?1", [live])?;
            tx.execute("DELETE FROM changes WHERE snapshot > ?1", [live])?;
            tx.commit()
        });
        self.unwithdrawn = done.is_err();
        done.map_err(|e| e.to_string())
    }

    /// Every change, oldest first.
    pub fn changes(&self) -> Result<Vec<StoredChange>, StoreError> {
        let f = |e| failed(&self.file, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT snapshot, kind, account, body, trade_id, answer FROM changes
                 ORDER BY snapshot",
            )
            .map_err(f)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredChange {
                    snapshot: r.get::<_, i64>(0)? as u64,
                    kind: r.get(1)?,
                    account: r.get(2)?,
                    body: r.get(3)?,
                    trade_id: r.get(4)?,
                    answer: r.get(5)?,
                })
            })
            .map_err(f)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(f)
    }

    /// Commits a change before it is computed (S23).
    pub fn commit_change(&self, change: &StoredChange, at: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO changes (snapshot, kind, account, body, trade_id, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change.snapshot as i64,
                    change.kind,
                    change.account,
                    change.body,
                    change.trade_id,
                    at
                ],
            )
            .map(|_| ())
            .map_err(|e| failed(&self.file, e))
    }

    /// Commits a snapshot's figures, and the answer of its change, when it goes live.
    pub fn commit_figures(
        &mut self,
        rows: &[FigureRow],
        answer: Option<(u64, &str)>,
    ) -> Result<(), StoreError> {
        let file = self.file.clone();
        let f = |e| failed(&file, e);
        let tx = self.conn.transaction().map_err(f)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR REPLACE INTO figures
                     (snapshot, account, at, initial, maintenance, es)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(f)?;
            for r in rows {
                insert
                    .execute(params![
                        r.snapshot as i64,
                        r.account,
                        r.at,
                        r.initial,
                        r.maintenance,
                        r.es
                    ])
                    .map_err(f)?;
            }
        }
        if let Some((snapshot, answer)) = answer {
            tx.execute(
                "UPDATE changes SET answer = ?2 WHERE snapshot = ?1",
                params![snapshot as i64, answer],
            )
            .map_err(f)?;
        }
        tx.commit().map_err(f)
    }

    /// The figures stored for one snapshot.
    pub fn figures_at(&self, snapshot: u64) -> Result<Vec<FigureRow>, StoreError> {
        self.select(
            "SELECT snapshot, account, at, initial, maintenance, es FROM figures
             WHERE snapshot = ?1 ORDER BY account",
            params![snapshot as i64],
        )
    }

    /// An account's entries from snapshot `since` on, oldest first, at most `limit`: one per
    /// live snapshot (S24), with the account's latest figures at or before it and the
    /// snapshot's own time, as `MemoryHistory::entries`. The live snapshots are 1 and every
    /// change with figures; a snapshot's time is that of the figures of the account its
    /// change recomputed (a trade's account; every account for a market update).
    pub fn history(
        &self,
        account: &str,
        since: u64,
        limit: u64,
    ) -> Result<Vec<FigureRow>, StoreError> {
        self.select(
            "WITH live (snapshot, recomputed) AS (
                 SELECT 1, ?1 WHERE ?2 <= 1
                 UNION ALL
                 SELECT snapshot, coalesce(account, ?1) FROM changes WHERE snapshot >= ?2
             )
             SELECT live.snapshot, f.account, t.at, f.initial, f.maintenance, f.es
             FROM live
             JOIN figures AS t ON t.account = live.recomputed AND t.snapshot = live.snapshot
             JOIN figures AS f ON f.account = ?1 AND f.snapshot = (
                 SELECT max(snapshot) FROM figures
                 WHERE account = ?1 AND snapshot <= live.snapshot)
             ORDER BY live.snapshot LIMIT ?3",
            params![
                account,
                since.min(i64::MAX as u64) as i64,
                limit.min(i64::MAX as u64) as i64
            ],
        )
    }

    fn select(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<FigureRow>, StoreError> {
        let f = |e| failed(&self.file, e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(f)?;
        let rows = stmt
            .query_map(params, |r| {
                Ok(FigureRow {
                    snapshot: r.get::<_, i64>(0)? as u64,
                    account: r.get(1)?,
                    at: r.get(2)?,
                    initial: r.get(3)?,
                    maintenance: r.get(4)?,
                    es: r.get(5)?,
                })
            })
            .map_err(f)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(snapshot: u64, body: &str) -> StoredChange {
        StoredChange {
            snapshot,
            kind: "trade".into(),
            account: Some("a".into()),
            body: body.into(),
            trade_id: None,
            answer: None,
        }
    }

    /// A change answered with an error whose withdrawal failed (the disk full: here the
    /// connection made read-only) is withdrawn before the next change, so that change can
    /// take the same snapshot number instead of failing on the orphan row for ever.
    #[test]
    fn a_failed_withdrawal_is_retried_before_the_next_change() {
        let dir = std::env::temp_dir().join(format!("tailrisk-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("withdraw.db");
        let _ = std::fs::remove_file(&path);
        let parts = [Part {
            name: "version".into(),
            value: "test".into(),
            flag: false,
        }];
        let mut store = Store::open(&path, &parts).unwrap();
        store.commit_change(&change(2, "failed"), "t").unwrap();
        store.conn.pragma_update(None, "query_only", true).unwrap();
        assert!(store.withdraw_after(1).is_err());
        assert!(store.unwithdrawn(), "the withdrawal is owed");
        // While it is owed the orphan row blocks the snapshot number.
        assert!(store.commit_change(&change(2, "next"), "t").is_err());
        store.conn.pragma_update(None, "query_only", false).unwrap();
        store.withdraw_after(1).unwrap();
        assert!(!store.unwithdrawn());
        store.commit_change(&change(2, "next"), "t").unwrap();
        let bodies: Vec<_> = store
            .changes()
            .unwrap()
            .into_iter()
            .map(|c| c.body)
            .collect();
        assert_eq!(bodies, ["next"]);
        // Nothing newer than the live snapshot: a withdrawal that writes nothing succeeds.
        store.conn.pragma_update(None, "query_only", true).unwrap();
        store.withdraw_after(2).unwrap();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
