//! Warm figures on the CPU's f64 precisions (the SIMD kernels and the reference): over the scenario states kept per market, with
//! the P&L per unit of every instrument kept as a column over all scenarios, so that a
//! what-if or a trade revalues only the instruments no earlier request has revalued.
//!
//! The arithmetic is that of `run`'s stages, value for value: the P&L of instrument i on a
//! scenario is the backend's revalue stage on that scenario's states
//! (`Backend::table_pnl_columns`, independent of the other instruments and of the other
//! paths of a block), an account's loss is `aggregate::account_loss` over its netted exposures
//! (accumulated column by column: the same operations in the same order), tails are
//! `TailBuffer`s under the total order of reference §6.1 (the same for any batching), and
//! component ES sums `holding_losses` over the k tail scenarios in tail
//! order, as `run` does. So the figures are bit-identical to `run` on the same inputs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::book::Book;
use crate::engine::Backend;
use crate::error::Result;
use crate::model::TailEntry;
use crate::model::aggregate::{holding_losses, loss_of_usd_pnl};
use crate::model::historical::{HistoricalMethod, ScenarioTable};
use crate::model::tail::TailBuffer;
use crate::report::AccountReport;
use crate::run::{
    AccountFigures, Evaluation, RunInputs, ScenarioSource, Simulation, check_figures,
    margin_figures,
};

/// Most P&L values the cache holds (8 bytes each: 256 MiB); beyond, columns are computed
/// for the request and not kept.
const MAX_CACHED_VALUES: usize = 1 << 25;

/// The warm state of one market: the scenario states and the P&L columns over them.
pub struct Warm {
    pub table: Arc<ScenarioTable>,
    pub pnl: PnlCache,
}

/// P&L columns by instrument (its specification), for one market and scenario set.
#[derive(Default)]
pub struct PnlCache {
    columns: Mutex<HashMap<String, Arc<Vec<f64>>>>,
}

fn key(book: &Book, i: usize) -> String {
    format!("{:?}", book.instruments[i].spec)
}

impl PnlCache {
    /// The column of every instrument of `book`, computing the missing ones with
    /// `backend`'s revalue stage.
    fn columns(
        &self,
        book: &Book,
        table: &ScenarioTable,
        backend: &dyn Backend,
    ) -> Result<Vec<Arc<Vec<f64>>>> {
        let n = book.instruments.len();
        let mut found: Vec<Option<Arc<Vec<f64>>>> = {
            let cached = self.columns.lock().unwrap_or_else(|e| e.into_inner());
            (0..n).map(|i| cached.get(&key(book, i)).cloned()).collect()
        };
        let missing: Vec<usize> = (0..n).filter(|&i| found[i].is_none()).collect();
        if !missing.is_empty() {
            let rows = table.len();
            let computed = backend.table_pnl_columns(book, table, &missing)?;
            let mut cached = self.columns.lock().unwrap_or_else(|e| e.into_inner());
            let held: usize = cached.values().map(|c| c.len()).sum();
            let room = held + missing.len() * rows <= MAX_CACHED_VALUES;
            for (&i, column) in missing.iter().zip(computed) {
                let column = Arc::new(column);
                if room {
                    cached.insert(key(book, i), column.clone());
                }
                found[i] = Some(column);
            }
        }
        Ok(found.into_iter().flatten().collect())
    }
}

/// Paths an account's losses are accumulated over at a time (32 KiB of f64: in L1 with the
/// column slices it reads).
const BLOCK: usize = 4096;

/// An account's tail over every row of `table`: its loss on each path is
/// [`account_loss`]'s, value for value, accumulated column by column (one pass per
/// exposure over a block of paths, which vectorises) instead of path by path. Bit for bit
/// the same: each path's sum starts from the value `f64`'s `Sum` starts from and adds
/// q·pnl exposure by exposure in the same order, and the loss is the same
/// [`loss_of_usd_pnl`] call.
fn account_tail(
    book: &Book,
    account: &crate::book::AccountBook,
    columns: &[Arc<Vec<f64>>],
    table: &ScenarioTable,
    tail_len: usize,
) -> TailBuffer {
    let start = std::iter::empty::<f64>().sum::<f64>();
    let mut tail = TailBuffer::new(tail_len);
    let mut usd = vec![start; BLOCK];
    for first in (0..table.len()).step_by(BLOCK) {
        let len = BLOCK.min(table.len() - first);
        let sums = &mut usd[..len];
        sums.fill(start);
        for e in &account.exposures {
            let column = &columns[e.instrument][first..first + len];
            for (sum, pnl) in sums.iter_mut().zip(column) {
                *sum += e.quantity * pnl;
            }
        }
        for (i, &usd_pnl) in sums.iter().enumerate() {
            let p = first + i;
            tail.push(TailEntry {
                loss: loss_of_usd_pnl(book, account, usd_pnl, table.row(p)),
                path: p as u32,
            });
        }
    }
    tail
}

/// The accounts of `inputs` (already holding only the accounts wanted; `book` compiled from
/// them) over `table`: the stages of `run` with the scenario and revalue stages read from
/// the warm state.
pub fn figures(
    inputs: &RunInputs,
    book: Book,
    backend: &dyn Backend,
    warm: &Warm,
) -> Result<Vec<AccountReport>> {
    let (table, cache) = (&warm.table, &warm.pnl);
    let named = inputs.scenarios.resolve(&book)?;
    let config = &inputs.config;
    let plan = crate::run::plan(config);
    let columns = cache.columns(&book, table, backend)?;
    let pnl_row = |p: usize, row: &mut [f64]| {
        for (value, column) in row.iter_mut().zip(&columns) {
            *value = column[p];
        }
    };
    let mut row = vec![0.0; book.instruments.len()];
    let tails: Vec<TailBuffer> = book
        .accounts
        .iter()
        .map(|account| account_tail(&book, account, &columns, table, plan.tail_len))
        .collect();
    let mut accounts = Vec::with_capacity(tails.len());
    for (account, tail) in book.accounts.iter().zip(tails) {
        let mut tail = tail.finish();
        let margin_es = crate::risk::measure(&tail, plan.paths, config.margin.confidence);
        let k = margin_es.k;
        // Component ES: mean loss of each holding over the k tail scenarios, summed in tail
        // order (as `run` sums them).
        let mut sums = vec![0.0; account.holdings.len()];
        let mut parts = vec![0.0; account.holdings.len()];
        for entry in &tail.worst[..k] {
            let p = entry.path as usize;
            pnl_row(p, &mut row);
            holding_losses(&book, account, &row, table.row(p), &mut parts);
            sums.iter_mut().zip(&parts).for_each(|(s, x)| *s += x);
        }
        let measures = config
            .confidence
            .iter()
            .map(|&c| crate::risk::measure(&tail, plan.paths, c))
            .collect();
        tail.worst.truncate(k);
        accounts.push(AccountFigures {
            measures,
            margin_es,
            components: sums.into_iter().map(|s| s / k as f64).collect(),
            tail,
        });
    }
    let sim = Simulation {
        book,
        plan,
        source: ScenarioSource::Table {
            method: HistoricalMethod::Hs,
            table: table.clone(),
        },
        accounts,
    };
    let es: Vec<f64> = sim.accounts.iter().map(|a| a.margin_es.es).collect();
    let margins = margin_figures(&sim.book, &es, config, backend, named)?;
    check_figures(&sim, &margins, &inputs.portfolio)?;
    let ev = Evaluation {
        sim,
        figures: margins,
        seconds: 0.0,
        warnings: Vec::new(),
    };
    Ok(crate::report::report(&ev, config, backend).accounts)
}
