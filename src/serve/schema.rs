//! What a state file must be before the server writes to it (S22, S23): a missing or
//! empty file is a new state; anything else must be an SQLite database with tailrisk's
//! `meta`, every table and column, and the same inputs, flags and version (the first part
//! that differs is named). These checks only read: a file that is refused is left as it was.

use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::store::StoreError;

/// The `meta.format` of a tailrisk state file.
pub const FORMAT: &str = "tailrisk-state-1";

/// The tables of a state file and their columns, in order.
const TABLES: [(&str, &[&str]); 3] = [
    ("meta", &["key", "value"]),
    (
        "changes",
        &[
            "snapshot", "kind", "account", "body", "trade_id", "answer", "at",
        ],
    ),
    (
        "figures",
        &["snapshot", "account", "at", "initial", "maintenance", "es"],
    ),
];

/// Creates the tables (inside the caller's transaction).
pub const CREATE: &str = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE changes (snapshot INTEGER PRIMARY KEY, kind TEXT NOT NULL,
         account TEXT, body TEXT NOT NULL, trade_id TEXT UNIQUE, answer TEXT,
         at TEXT NOT NULL);
     CREATE TABLE figures (snapshot INTEGER NOT NULL, account TEXT NOT NULL,
         at TEXT NOT NULL, initial REAL NOT NULL, maintenance REAL NOT NULL,
         es REAL NOT NULL, PRIMARY KEY (account, snapshot));";

/// One thing the state file records of the starting inputs: a file's or the flags'
/// SHA-256, the version and backend, or (`flag`) one figure-changing flag's canonical value.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub value: String,
    pub flag: bool,
}

/// The parts in the order they are compared: `digest` (as the command line describes the
/// inputs), with each figure-changing flag's value (`flags`) just before the `flags` hash,
/// so that a changed flag is named with its stored and current value.
pub fn parts(digest: &[(String, String)], flags: &[(String, String)]) -> Vec<Part> {
    let part = |(name, value): &(String, String), flag: bool| Part {
        name: name.clone(),
        value: value.clone(),
        flag,
    };
    let at = digest
        .iter()
        .position(|(name, _)| name == "flags")
        .unwrap_or(digest.len());
    let mut out: Vec<Part> = digest[..at].iter().map(|d| part(d, false)).collect();
    out.extend(flags.iter().map(|f| part(f, true)));
    out.extend(digest[at..].iter().map(|d| part(d, false)));
    out
}

/// Whether `path` is a new state (missing or 0 bytes); any other file must start as an
/// SQLite database does (else 65), and an unreadable one is 66.
pub fn is_new(path: &Path, file: &str) -> Result<bool, StoreError> {
    let unreadable = |e: std::io::Error| StoreError {
        code: 66,
        message: format!("cannot open state file {file}: {e}"),
    };
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(unreadable(e)),
    };
    if len == 0 {
        return Ok(true);
    }
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).map_err(unreadable)?;
    let got = f.read(&mut head).map_err(unreadable)?;
    if got < head.len() || &head != b"SQLite format 3\0" {
        return Err(refused(
            file,
            "not a tailrisk state file (not an SQLite database)",
        ));
    }
    Ok(false)
}

fn refused(file: &str, why: &str) -> StoreError {
    StoreError {
        code: 65,
        message: format!("{file}: {why}"),
    }
}

/// Checks an existing file: tailrisk's `meta`, every table and column, then the parts in
/// order. Only reads.
pub fn verify(
    conn: &Connection,
    file: &str,
    parts: &[Part],
    classify: &dyn Fn(rusqlite::Error) -> StoreError,
) -> Result<(), StoreError> {
    let columns = |table: &str| -> Result<Vec<String>, StoreError> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .map_err(classify)?;
        let names = stmt
            .query_map([table], |r| r.get::<_, String>(0))
            .map_err(classify)?;
        names.collect::<Result<Vec<_>, _>>().map_err(classify)
    };
    let stored = |key: &str| -> Result<Option<String>, StoreError> {
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(classify)
    };
    if columns("meta")? != TABLES[0].1 || stored("format")?.as_deref() != Some(FORMAT) {
        return Err(refused(file, "not a tailrisk state file"));
    }
    for (table, want) in &TABLES[1..] {
        let have = columns(table)?;
        if have != *want {
            let why = match have.is_empty() {
                true => format!("not a valid tailrisk state file (the table {table} is missing)"),
                false => format!(
                    "not a valid tailrisk state file (the table {table} has columns {}, not {})",
                    have.join(", "),
                    want.join(", ")
                ),
            };
            return Err(refused(file, &why));
        }
    }
    for part in parts {
        let stored = stored(&format!("input:{}", part.name))?;
        if let Some(why) = difference(part, stored) {
            return Err(refused(file, &why));
        }
    }
    Ok(())
}

/// How a part differs from what the file recorded, if it does. A flag the file has no
/// value of (a file made before flags were recorded one by one) is compared through the
/// `flags` hash only.
fn difference(part: &Part, stored: Option<String>) -> Option<String> {
    let value = &part.value;
    match (part.flag, stored) {
        (_, Some(s)) if s == *value => None,
        (true, None) => None,
        (true, Some(s)) => Some(format!(
            "the state was made with different flags: {}: stored {s}, now {value}",
            part.name
        )),
        (false, stored) => Some(format!(
            "the state was made with a different {} (stored {}, now {value})",
            part.name,
            stored.as_deref().unwrap_or("(none)")
        )),
    }
}

/// Writes a new file's tables and parts (one transaction).
pub fn create(conn: &Connection, parts: &[Part]) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("BEGIN; {CREATE}"))?;
    let insert = |k: &str, v: &str| {
        conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", [k, v])
            .map(|_| ())
    };
    let written = insert("format", FORMAT).and_then(|()| {
        parts
            .iter()
            .try_for_each(|p| insert(&format!("input:{}", p.name), &p.value))
    });
    match written {
        Ok(()) => conn.execute_batch("COMMIT;"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK;");
            Err(e)
        }
    }
}
