//! The service's shared state: the live snapshot (replaced whole, so a reader holds the old
//! or the new one, never a mix), the single writer that applies changes one at a time in
//! arrival order (S5), the trade ids already applied (S8) and the history of figures (S24).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::engine::{Engine, Snapshot};
use super::history::MemoryHistory;
use super::reply::{ApiError, position_value};
use super::store::{FigureRow, Store, StoredChange};
use crate::portfolio::Position;
use crate::report::AccountReport;

/// A change to apply, as the writer receives it.
pub enum Change {
    Trade {
        account: usize,
        add: Vec<Position>,
        trade_id: Option<String>,
        body: String,
    },
    Market {
        body: String,
    },
}

struct Job {
    change: Change,
    reply: oneshot::Sender<Result<String, ApiError>>,
}

/// Where the history of figures lives: in memory since start, or in the state file.
pub enum History {
    Memory(MemoryHistory),
    Store(Store),
}

/// What the writer keeps besides the snapshot.
pub struct Ledger {
    pub history: History,
    /// Trade id → the first answer (S8).
    pub trade_ids: HashMap<String, FirstTrade>,
}

/// The first trade of a trade id (S8): its account and the answer it got.
#[derive(Clone, Debug)]
pub struct FirstTrade {
    pub account: String,
    pub answer: String,
}

/// How a trade request names itself in errors (its route).
pub fn trade_request(account: &str) -> String {
    format!("POST /v1/accounts/{account}/trades")
}

impl History {
    /// Commits a change before it is computed (S23), after withdrawing any change answered
    /// with an error that is still in the file; a change that cannot be committed is
    /// withdrawn as [`History::withdraw`] says.
    fn commit_change(&mut self, change: &StoredChange) -> Result<(), ApiError> {
        let History::Store(store) = self else {
            return Ok(());
        };
        let live = change.snapshot - 1;
        if store.unwithdrawn() {
            store.withdraw_after(live).map_err(|e| {
                ApiError::internal(format!(
                    "state file {}: {e}: a change answered with an error earlier is still in \
                     the file and could not be withdrawn, so this change was not applied; a \
                     restart before the next successful write to the file would apply the \
                     earlier one",
                    store.file()
                ))
            })?;
        }
        match store.commit_change(change, &now_rfc3339()) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.withdraw(live, ApiError::internal(e.message))),
        }
    }

    /// The answer to a change that failed once its commit was tried (S12: the state stays
    /// as it was): the change is withdrawn from the state file, and a 500 says whether it
    /// could be. One that could not (the disk full, say) is withdrawn before the next change
    /// or at shutdown; until then it is in the file, and a restart would apply it.
    fn withdraw(&mut self, live: u64, error: ApiError) -> ApiError {
        let History::Store(store) = self else {
            return error;
        };
        match store.withdraw_after(live) {
            Ok(()) if error.status != axum::http::StatusCode::INTERNAL_SERVER_ERROR => error,
            Ok(()) => ApiError::internal(format!(
                "{}; the change was not applied and is not in the state file",
                error.message
            )),
            Err(e) => ApiError::internal(format!(
                "{}; the change was not applied, but it could not be withdrawn from the state \
                 file ({e}): a restart before the next successful write to the file would \
                 apply it",
                error.message
            )),
        }
    }
}

pub struct Service {
    pub engine: Arc<Engine>,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// Locked only to read or record, never during a computation.
    history: Mutex<Option<History>>,
    /// Touched by the writer only.
    trade_ids: Mutex<HashMap<String, FirstTrade>>,
    writer: mpsc::UnboundedSender<Job>,
    /// Permits for what-if and ad-hoc margin computations: one per two threads of the
    /// engine (at least one), so that however many clients send them, only that many run at
    /// once and the writer's recomputations of the book are not crowded out
    /// (docs/reference.md §12.6). A permit lives as long as its computation.
    pub adhoc: Arc<tokio::sync::Semaphore>,
}

/// The time of a snapshot going live: RFC 3339 UTC with milliseconds (S24).
pub fn now_rfc3339() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// The history row of account `i` of `snap`.
pub fn figure_row(snap: &Snapshot, i: usize, at: &str) -> FigureRow {
    let f = &snap.figures[i];
    let m = f.margin.as_ref();
    FigureRow {
        snapshot: snap.number,
        account: f.id.clone(),
        at: at.to_string(),
        initial: m.map_or(0.0, |m| m.initial),
        maintenance: m.map_or(0.0, |m| m.maintenance),
        es: m.map_or(0.0, |m| m.components.es),
    }
}

/// `{ "snapshot", "account", "positions" }`: an account and its book (S8).
pub fn account_answer(snap: &Snapshot, i: usize) -> Value {
    let positions: Vec<Value> = snap
        .account(i)
        .positions
        .iter()
        .map(position_value)
        .collect();
    json!({
        "snapshot": snap.number,
        "account": account_value(&snap.figures[i]),
        "positions": positions,
    })
}

pub fn account_value(report: &AccountReport) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}

impl Service {
    /// A service with no snapshot yet (answering 503 starting) and its writer task.
    pub fn new(engine: Engine) -> Arc<Self> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let adhoc = Arc::new(tokio::sync::Semaphore::new((engine.threads / 2).max(1)));
        let service = Arc::new(Service {
            adhoc,
            engine: Arc::new(engine),
            snapshot: RwLock::new(None),
            history: Mutex::new(None),
            trade_ids: Mutex::new(HashMap::new()),
            writer: tx,
        });
        let writer = service.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let svc = writer.clone();
                let result = tokio::task::spawn_blocking(move || svc.apply(job.change))
                    .await
                    .unwrap_or_else(|e| Err(ApiError::internal(format!("internal error: {e}"))));
                let _ = job.reply.send(result);
            }
        });
        service
    }

    /// Makes snapshot 1 (or the replayed one) live.
    pub fn go_live(&self, snapshot: Snapshot, ledger: Ledger) {
        *self.history.lock().unwrap_or_else(|e| e.into_inner()) = Some(ledger.history);
        *self.trade_ids.lock().unwrap_or_else(|e| e.into_inner()) = ledger.trade_ids;
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(snapshot));
    }

    /// The live snapshot; `None` while starting.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Queues a change behind every earlier one and waits for its answer (once live).
    pub async fn submit(&self, change: Change) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job { change, reply })
            .map_err(|_| ApiError::internal("the writer has stopped"))?;
        answer
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("the writer has stopped")))
    }

    /// An account's history entries from `since`, at most `limit`, oldest first.
    pub fn history(
        &self,
        account: &str,
        since: u64,
        limit: u64,
    ) -> Result<Vec<FigureRow>, ApiError> {
        let guard = self.history.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            None => Ok(Vec::new()),
            Some(History::Memory(memory)) => Ok(memory.entries(account, since, limit)),
            Some(History::Store(store)) => store
                .history(account, since, limit)
                .map_err(|e| ApiError::internal(e.message)),
        }
    }

    /// The writer's work for one change (on the blocking pool): check it, commit it, compute
    /// the next snapshot, commit its figures, make it live. A failure changes nothing.
    fn apply(&self, change: Change) -> Result<String, ApiError> {
        let before = self
            .snapshot()
            .ok_or_else(|| ApiError::internal("not started"))?;
        if let Change::Trade {
            account,
            trade_id: Some(id),
            ..
        } = &change
            && let Some(first) = self.trade_ids().get(id)
        {
            return repeated_trade(first, id, &before.account(*account).id);
        }
        let started = Instant::now();
        let request = request_name(&before, &change);
        let (prepared, stored) = prepare(&before, &change);
        let prepared = prepared.map_err(|e| ApiError::from_engine(attributed(&request, e)))?;
        let recomputed = prepared.recomputed();
        let live = before.number;
        self.with_history(|h| h.commit_change(&stored))?;
        let next = prepared
            .compute(&self.engine, &before)
            .map_err(|e| self.withdrawn(live, ApiError::from_engine(attributed(&request, e))))?;
        let answer = match &change {
            Change::Trade { account, .. } => account_answer(&next, *account),
            Change::Market { .. } => json!({
                "snapshot": next.number,
                "seconds": started.elapsed().as_secs_f64(),
            }),
        }
        .to_string();
        let at = now_rfc3339();
        let rows: Vec<FigureRow> = recomputed
            .iter()
            .map(|&i| figure_row(&next, i, &at))
            .collect();
        let with_id = stored
            .trade_id
            .as_ref()
            .map(|_| (next.number, answer.as_str()));
        self.with_history(|h| record(h, rows, with_id).map_err(|e| h.withdraw(live, e)))?;
        if let (Some(id), Some(account)) = (stored.trade_id, stored.account) {
            let first = FirstTrade {
                account,
                answer: answer.clone(),
            };
            self.trade_ids().insert(id, first);
        }
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(next));
        Ok(answer)
    }

    /// A change that failed after its commit, withdrawn ([`History::withdraw`]).
    fn withdrawn(&self, live: u64, error: ApiError) -> ApiError {
        let mut guard = self.history.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(h) => h.withdraw(live, error),
            None => error,
        }
    }

    /// At shutdown: withdraws a change answered with an error whose withdrawal failed, or
    /// warns that a restart will apply it. Nothing else is in flight then: the writer
    /// commits a change only once such a withdrawal has succeeded.
    pub fn close(&self) {
        let Some(live) = self.snapshot().map(|s| s.number) else {
            return;
        };
        let mut guard = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(History::Store(store)) = guard.as_mut()
            && store.unwithdrawn()
            && let Err(e) = store.withdraw_after(live)
        {
            eprintln!(
                "tailrisk: warning: state file {}: a change answered with an error is still in \
                 the file and could not be withdrawn ({e}): a restart will apply it",
                store.file()
            );
        }
    }

    fn trade_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, FirstTrade>> {
        self.trade_ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_history<T>(
        &self,
        f: impl FnOnce(&mut History) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self.history.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(h) => f(h),
            None => Err(ApiError::internal("not started")),
        }
    }
}

/// The request a change came from, as its errors name it.
fn request_name(before: &Snapshot, change: &Change) -> String {
    match change {
        Change::Trade { account, .. } => trade_request(&before.account(*account).id),
        Change::Market { .. } => "PUT /v1/market".into(),
    }
}

/// An input error the change causes in what it meets (a position of the portfolio file
/// expired by a new `as_of`, a figure no longer finite): named as the request's, with the
/// file and field it surfaced in, so the client sees which request to fix.
pub fn attributed(request: &str, e: crate::Error) -> crate::Error {
    e.relocated(|file, field| {
        (file != request).then(|| {
            let field = format!("after this change, {file}: {field}");
            (request.to_string(), field)
        })
    })
}

/// The change checked against `before`, and the row the state file keeps of it.
fn prepare(
    before: &Snapshot,
    change: &Change,
) -> (crate::Result<super::engine::PreparedChange>, StoredChange) {
    match change {
        Change::Trade {
            account,
            add,
            trade_id,
            body,
        } => (
            before.prepare_trade(*account, add),
            StoredChange {
                snapshot: before.number + 1,
                kind: "trade".into(),
                account: Some(before.account(*account).id.clone()),
                body: body.clone(),
                trade_id: trade_id.clone(),
                answer: None,
            },
        ),
        Change::Market { body } => (
            before.prepare_market(body, "PUT /v1/market"),
            StoredChange {
                snapshot: before.number + 1,
                kind: "market".into(),
                account: None,
                body: body.clone(),
                trade_id: None,
                answer: None,
            },
        ),
    }
}

/// Records a live snapshot's figures (and the answer of a trade with an id).
pub fn record(
    history: &mut History,
    rows: Vec<FigureRow>,
    answer: Option<(u64, &str)>,
) -> Result<(), ApiError> {
    match history {
        History::Memory(memory) => {
            memory.record(rows);
            Ok(())
        }
        History::Store(store) => store
            .commit_figures(&rows, answer)
            .map_err(|e| ApiError::internal(e.message)),
    }
}

/// A trade id seen before (S8): its first answer when it was for the same account; a trade
/// id names one trade, so the same id on another account is a conflict (409), not a replay
/// of the other account's answer.
fn repeated_trade(first: &FirstTrade, id: &str, account: &str) -> Result<String, ApiError> {
    if first.account == account {
        return Ok(first.answer.clone());
    }
    Err(ApiError::new(
        axum::http::StatusCode::CONFLICT,
        format!(
            "{}: trade_id: already used for account {} (got {})",
            trade_request(account),
            first.account,
            Value::from(id)
        ),
    ))
}
