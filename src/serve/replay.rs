//! Start-up: snapshot 1 from the input files, then, with `--state`, every stored change
//! replayed in order (S22, S23): each recomputed figure must equal the stored one bit for
//! bit (else exit 1); a change whose figures were never stored (a crash between its commit
//! and its going live) is applied now and its figures stored.

use std::collections::HashMap;

use super::engine::{Engine, Snapshot};
use super::state::{FirstTrade, History, Ledger, account_answer, figure_row, now_rfc3339, record};
use super::store::{FigureRow, Store, StoreError};
use crate::input::requests::{MarketDocument, parse_trades_request};
use crate::run::RunInputs;

/// The live snapshot after start-up and the writer's ledger; errors carry their exit code.
pub fn start(
    engine: &Engine,
    inputs: RunInputs,
    document: MarketDocument,
    store: Option<Store>,
) -> Result<(Snapshot, Ledger), StoreError> {
    let engine_error = |e: crate::Error| StoreError {
        code: e.exit_code(),
        message: e.to_string(),
    };
    let mut snap = Snapshot::initial(engine, inputs, document).map_err(engine_error)?;
    let at = now_rfc3339();
    let all: Vec<usize> = (0..snap.figures.len()).collect();
    let initial_rows: Vec<FigureRow> = all.iter().map(|&i| figure_row(&snap, i, &at)).collect();
    let Some(store) = store else {
        let mut history = History::Memory(Default::default());
        record(&mut history, initial_rows, None).map_err(internal)?;
        let ledger = Ledger {
            history,
            trade_ids: HashMap::new(),
        };
        return Ok((snap, ledger));
    };
    let mut history = History::Store(store);
    let mut trade_ids = HashMap::new();
    check_or_record(&mut history, &snap, initial_rows, None)?;
    let changes = match &history {
        History::Store(store) => store.changes()?,
        History::Memory(_) => Vec::new(),
    };
    for change in changes {
        let prepared = match (change.kind.as_str(), change.account.as_deref()) {
            ("trade", Some(id)) => {
                let trade =
                    parse_trades_request(&change.body, "state file").map_err(engine_error)?;
                let i = snap.account_index(id).ok_or_else(|| StoreError {
                    code: 65,
                    message: format!("state file: a trade on unknown account {id:?}"),
                })?;
                snap.prepare_trade(i, &trade.add)
            }
            ("market", None) => snap.prepare_market(&change.body, "PUT /v1/market"),
            (kind, _) => {
                return Err(StoreError {
                    code: 65,
                    message: format!("state file: a change of unknown kind {kind:?}"),
                });
            }
        }
        .map_err(engine_error)?;
        let recomputed = prepared.recomputed();
        let next = prepared.compute(engine, &snap).map_err(engine_error)?;
        if next.number != change.snapshot {
            return Err(StoreError {
                code: 65,
                message: format!(
                    "state file: change {} does not follow snapshot {}",
                    change.snapshot, snap.number
                ),
            });
        }
        let at = now_rfc3339();
        let rows = recomputed
            .iter()
            .map(|&i| figure_row(&next, i, &at))
            .collect();
        let answer = match (&change.answer, change.account.as_deref()) {
            (Some(a), _) => a.clone(),
            (None, Some(id)) => {
                account_answer(&next, next.account_index(id).unwrap_or(0)).to_string()
            }
            (None, None) => String::new(),
        };
        let with_id = change
            .trade_id
            .as_ref()
            .map(|_| (next.number, answer.as_str()));
        check_or_record(&mut history, &next, rows, with_id)?;
        if let (Some(id), Some(account)) = (change.trade_id, change.account) {
            trade_ids.insert(id, FirstTrade { account, answer });
        }
        snap = next;
    }
    Ok((snap, Ledger { history, trade_ids }))
}

fn internal(e: super::reply::ApiError) -> StoreError {
    StoreError {
        code: 1,
        message: e.message,
    }
}

/// Compares a replayed snapshot's figures with the stored ones, or stores them when the
/// snapshot never went live.
fn check_or_record(
    history: &mut History,
    snap: &Snapshot,
    rows: Vec<FigureRow>,
    answer: Option<(u64, &str)>,
) -> Result<(), StoreError> {
    let (stored, file) = match history {
        History::Store(store) => (store.figures_at(snap.number)?, store.file().to_string()),
        History::Memory(_) => (Vec::new(), String::new()),
    };
    if stored.is_empty() {
        return record(history, rows, answer).map_err(internal);
    }
    let by_account: HashMap<&str, &FigureRow> =
        stored.iter().map(|r| (r.account.as_str(), r)).collect();
    for r in &rows {
        let same = by_account.get(r.account.as_str()).is_some_and(|s| {
            s.initial.to_bits() == r.initial.to_bits()
                && s.maintenance.to_bits() == r.maintenance.to_bits()
                && s.es.to_bits() == r.es.to_bits()
        });
        if !same {
            return Err(StoreError {
                code: 1,
                message: format!(
                    "state file {file}: replayed figures of account {:?} at snapshot {} \
                     differ from the stored ones",
                    r.account, snap.number
                ),
            });
        }
    }
    Ok(())
}
