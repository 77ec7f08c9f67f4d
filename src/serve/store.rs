//! `--state FILE`: the service's changes and figures in SQLite (WAL, `synchronous=FULL`,
//! locked exclusively for the life of the process), S22–S24.
//!
//! Tables: `meta` (format, version and the SHA-256 of every starting input and figure-
//! changing flag), `changes` (one row per accepted change, committed before its
//! recomputation starts: kind, account, body as received, trade id, and the answer once live)
//! and `figures` (per snapshot that went live and account recomputed: initial, maintenance,
//! ES at the margin confidence; the first at start). Floats are stored as SQLite REALs, the
//! same 8 bytes as the `f64`, so replayed figures compare bit for bit.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

/// The `meta.format` of a tailrisk state file.
const FORMAT: &str = "tailrisk-state-1";

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

/// Any SQLite failure after opening: exit 1 at start, 500 while serving.
fn failed(file: &str, e: rusqlite::Error) -> StoreError {
    StoreError::new(1, format!("state file {file}: {e}"))
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
}

impl Store {
    /// Opens (or creates) `path`, takes its exclusive lock, and checks that it was made
    /// from the same inputs, flags and version (`parts`, in order: the first that differs
    /// is named). A locked file is exit 75, a file that is not a tailrisk state 65.
    pub fn open(path: &Path, parts: &[(String, String)]) -> Result<Self, StoreError> {
        let file = path.display().to_string();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::new(66, format!("cannot open state file {file}: {e}")))?;
        let classify = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                StoreError::new(75, format!("state file {file} is locked by another server"))
            }
            Some(ErrorCode::NotADatabase) => StoreError::new(
                65,
                format!("{file}: not a tailrisk state file (not an SQLite database)"),
            ),
            _ => failed(&file, e),
        };
        conn.busy_timeout(Duration::ZERO).map_err(classify)?;
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(classify)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(classify)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(classify)?;
        // A write transaction takes the exclusive lock, held until the connection closes.
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
            .map_err(classify)?;
        let store = Store { conn, file };
        store.check_or_create(parts)?;
        Ok(store)
    }

    fn check_or_create(&self, parts: &[(String, String)]) -> Result<(), StoreError> {
        let f = |e| failed(&self.file, e);
        let tables: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(f)?;
        if tables == 0 {
            return self.create(parts);
        }
        let format: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .unwrap_or(None);
        if format.as_deref() != Some(FORMAT) {
            return Err(StoreError::new(
                65,
                format!("{}: not a tailrisk state file", self.file),
            ));
        }
        for (name, value) in parts {
            let stored: Option<String> = self
                .conn
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [format!("input:{name}")],
                    |r| r.get(0),
                )
                .optional()
                .map_err(f)?;
            if stored.as_deref() != Some(value.as_str()) {
                return Err(StoreError::new(
                    65,
                    format!(
                        "{}: the state was made with a different {name} (stored {}, now {value})",
                        self.file,
                        stored.unwrap_or_else(|| "(none)".into())
                    ),
                ));
            }
        }
        Ok(())
    }

    fn create(&self, parts: &[(String, String)]) -> Result<(), StoreError> {
        let f = |e| failed(&self.file, e);
        self.conn
            .execute_batch(
                "BEGIN;
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE changes (snapshot INTEGER PRIMARY KEY, kind TEXT NOT NULL,
                     account TEXT, body TEXT NOT NULL, trade_id TEXT UNIQUE, answer TEXT,
                     at TEXT NOT NULL);
                 CREATE TABLE figures (snapshot INTEGER NOT NULL, account TEXT NOT NULL,
                     at TEXT NOT NULL, initial REAL NOT NULL, maintenance REAL NOT NULL,
                     es REAL NOT NULL, PRIMARY KEY (account, snapshot));",
            )
            .map_err(f)?;
        let insert = |k: &str, v: &str| {
            self.conn
                .execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [k, v])
                .map(|_| ())
        };
        insert("format", FORMAT).map_err(f)?;
        for (name, value) in parts {
            insert(&format!("input:{name}"), value).map_err(f)?;
        }
        self.conn.execute_batch("COMMIT;").map_err(f)
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

    /// Forgets a change whose computation failed (it never went live).
    pub fn remove_change(&self, snapshot: u64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM changes WHERE snapshot = ?1", [snapshot as i64])
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

    /// An account's entries from snapshot `since` on, oldest first, at most `limit`.
    pub fn history(
        &self,
        account: &str,
        since: u64,
        limit: u64,
    ) -> Result<Vec<FigureRow>, StoreError> {
        self.select(
            "SELECT snapshot, account, at, initial, maintenance, es FROM figures
             WHERE account = ?1 AND snapshot >= ?2 ORDER BY snapshot LIMIT ?3",
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
