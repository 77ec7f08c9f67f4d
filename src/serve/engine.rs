//! The service's figures: one snapshot of the market and the book with every account's
//! figures, and the changes that make the next snapshot. Synchronous: the HTTP side runs it
//! on the blocking pool.
//!
//! Accounts are independent (every asset of `correlation.symbols` is simulated whatever the
//! positions, draws are counter-based, exposures are summed in canonical instrument order,
//! and stress, Greeks and margin are per account), so a book of one account gives that
//! account's figures of a full run bit for bit: a trade recomputes one account, a what-if
//! or an ad-hoc margin reprices one account, and a market update recomputes the whole book
//! in one pass over the same draws.

use std::collections::HashMap;
use std::sync::Arc;

use crate::book::{Book, WarmBook};
use crate::engine::{Backend, BackendKind, Precision};
use crate::error::{Error, Result};
use crate::input::requests::MarketDocument;
use crate::model::historical::ScenarioTable;
use crate::portfolio::{Account, Portfolio, Position};
use crate::report::AccountReport;
use crate::run::{RunInputs, evaluate_book};

use super::warm::{PnlCache, Warm};

/// Most paths whose scenario states are kept warm (16 bytes per path and asset).
const MAX_WARM_PATHS: u64 = 2_000_000;

/// The backend and the CPU pool every computation of the server runs on.
pub struct Engine {
    pub backend: Box<dyn Backend>,
    pool: Option<rayon::ThreadPool>,
    /// The threads computations run on (`--threads`, or rayon's default: every core).
    pub threads: usize,
}

impl Engine {
    pub fn new(backend: Box<dyn Backend>, threads: Option<usize>) -> Self {
        let pool =
            threads.and_then(|n| rayon::ThreadPoolBuilder::new().num_threads(n).build().ok());
        let threads = pool
            .as_ref()
            .map_or_else(rayon::current_num_threads, |p| p.current_num_threads());
        Engine {
            backend,
            pool,
            threads,
        }
    }

    /// The figures of every account of `inputs`, `book` being their compiled book: the
    /// accounts of `tailrisk run` on that portfolio.
    pub fn figures(&self, inputs: &RunInputs, book: Book) -> Result<Vec<AccountReport>> {
        let work = || {
            let ev = evaluate_book(inputs, book, self.backend.as_ref(), &|_| {})?;
            Ok(crate::report::report(&ev, &inputs.config, self.backend.as_ref()).accounts)
        };
        self.on_pool(work)
    }

    /// The figures of `accounts` on the market, configuration and scenarios of `inputs`
    /// (a snapshot's), their book put together from the snapshot's compiled book and over
    /// its warm scenario states where it has them.
    pub fn account_figures(
        &self,
        inputs: &RunInputs,
        accounts: Vec<Account>,
        book: &WarmBook,
        warm: Option<&Arc<Warm>>,
    ) -> Result<Vec<AccountReport>> {
        let inputs = with_accounts(inputs, accounts);
        let book = book.compile(
            &inputs.market,
            &inputs.portfolio,
            &inputs.config,
            &inputs.files,
        )?;
        self.figures_warm(&inputs, book, warm)
    }

    /// The backend's description as computations see it: on the `--threads` pool, so the
    /// CPU's device names that pool's thread count, as `run --threads` does.
    pub fn info(&self) -> crate::engine::BackendInfo {
        self.on_pool(|| self.backend.info())
    }

    fn on_pool<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(pool) => pool.install(work),
            None => work(),
        }
    }

    /// The Monte Carlo scenario states of every path of `inputs`, kept warm between
    /// requests: on the CPU's f64 precisions only (the SIMD kernels and the reference),
    /// where a table of these states goes through exactly the stages a Monte Carlo path goes
    /// through (the states the scenario stage would compute, then the same revalue through
    /// `Backend::table_pnl_columns`, aggregate and tail), so the figures are bit-identical. `None` elsewhere (the f32 kernels and the GPU
    /// regenerate paths from their counters), for historical scenarios (already a table)
    /// and beyond [`MAX_WARM_PATHS`].
    pub fn warm_states(&self, inputs: &RunInputs, book: &WarmBook) -> Result<Option<Arc<Warm>>> {
        let info = self.backend.info();
        let paths = inputs.config.paths;
        let reference = info.backend == BackendKind::Cpu
            && matches!(info.precision, Precision::F64 | Precision::F64Reference);
        let Some(first) = inputs.portfolio.accounts.first() else {
            return Ok(None);
        };
        if !reference || inputs.historical.is_some() || paths > MAX_WARM_PATHS {
            return Ok(None);
        }
        let one = with_accounts(inputs, vec![first.clone()]);
        let mut book = book.compile(&one.market, &one.portfolio, &one.config, &one.files)?;
        // The states, and one instrument's P&L: `revalue_paths` walks paths by their P&L
        // rows, so it needs at least one instrument.
        if book.instruments.is_empty() {
            return Ok(None);
        }
        book.instruments.truncate(1);
        book.accounts.clear();
        let all: Vec<u32> = (0..paths as u32).collect();
        let states =
            self.on_pool(|| self.backend.revalue_paths(&book, inputs.config.seed, &all))?;
        let table = ScenarioTable::new(book.assets.len(), states.states);
        Ok(Some(Arc::new(Warm {
            table: Arc::new(table),
            pnl: PnlCache::default(),
        })))
    }

    /// [`Engine::figures`] over the warm state when there is one (`super::warm`: the same
    /// stages as `run` with the scenario and revalue stages read from memory).
    fn figures_warm(
        &self,
        inputs: &RunInputs,
        book: Book,
        warm: Option<&Arc<Warm>>,
    ) -> Result<Vec<AccountReport>> {
        let Some(warm) = warm else {
            return self.figures(inputs, book);
        };
        self.on_pool(|| super::warm::figures(inputs, book, self.backend.as_ref(), warm))
    }
}

/// `inputs` with a portfolio of `accounts`.
pub fn with_accounts(inputs: &RunInputs, accounts: Vec<Account>) -> RunInputs {
    RunInputs {
        market: inputs.market.clone(),
        portfolio: Portfolio { accounts },
        config: inputs.config.clone(),
        files: inputs.files.clone(),
        scenarios: inputs.scenarios.clone(),
        historical: inputs.historical.clone(),
    }
}

/// One state of the service: the market and book after the changes accepted so far, and
/// every account's figures on them. Never changed once built; a change builds the next.
#[derive(Clone)]
pub struct Snapshot {
    /// 1 for the initial state, +1 per accepted change (S4).
    pub number: u64,
    pub inputs: Arc<RunInputs>,
    /// The market as a document, which updates are merged into.
    pub document: Arc<MarketDocument>,
    /// Per account of `inputs.portfolio`, in its order.
    pub figures: Vec<Arc<AccountReport>>,
    /// The scenario states of this market and the P&L columns over them, where they are
    /// kept ([`Engine::warm_states`]).
    pub warm: Option<Arc<Warm>>,
    /// The compiled market part and every instrument row compiled on this market.
    pub book: Arc<WarmBook>,
    index: Arc<HashMap<String, usize>>,
}

impl Snapshot {
    /// Snapshot 1: every account of `inputs` computed in one run.
    pub fn initial(engine: &Engine, inputs: RunInputs, document: MarketDocument) -> Result<Self> {
        let book = inputs.compile()?;
        let warm_book = WarmBook::new(&book);
        let figures = engine.figures(&inputs, book)?;
        let index = inputs
            .portfolio
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        let warm = engine.warm_states(&inputs, &warm_book)?;
        Ok(Snapshot {
            number: 1,
            inputs: Arc::new(inputs),
            document: Arc::new(document),
            figures: figures.into_iter().map(Arc::new).collect(),
            warm,
            book: Arc::new(warm_book),
            index: Arc::new(index),
        })
    }

    /// The position of account `id`, if the book has it.
    pub fn account_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn account(&self, i: usize) -> &Account {
        &self.inputs.portfolio.accounts[i]
    }

    /// The next snapshot with `trade` added to account `i` (S7), checked against the market
    /// (one bad row rejects all) but not yet computed.
    pub fn prepare_trade(&self, i: usize, trade: &[Position]) -> Result<PreparedChange> {
        let mut account = self.account(i).clone();
        for p in trade {
            match account
                .positions
                .iter_mut()
                .find(|q| q.instrument == p.instrument)
            {
                Some(q) => q.quantity += p.quantity,
                None => account.positions.push(p.clone()),
            }
        }
        let one = with_accounts(&self.inputs, vec![account.clone()]);
        let book = self
            .book
            .compile(&one.market, &one.portfolio, &one.config, &one.files)?;
        let mut inputs = (*self.inputs).clone();
        inputs.portfolio.accounts[i] = account;
        Ok(PreparedChange {
            inputs,
            document: self.document.clone(),
            recompute: Some(i),
            book,
        })
    }

    /// The next snapshot with the market update `body` applied (S9), checked against the
    /// whole book but not yet computed.
    pub fn prepare_market(&self, body: &str, file: &str) -> Result<PreparedChange> {
        let calibrated = self.inputs.config.calibrated.is_some();
        if calibrated && MarketDocument::sets_correlation(body) {
            return Err(Error::input(
                file,
                "correlation",
                "(object)",
                "the correlation is calibrated from --history and cannot be replaced",
            ));
        }
        if let Some(as_of) = MarketDocument::updated_as_of(body) {
            // S9: an as_of at or past an expiry held in the book names the instrument, before
            // the market's own checks (its surface's expiries) can name anything else.
            let held = self
                .inputs
                .portfolio
                .accounts
                .iter()
                .flat_map(|a| &a.positions)
                .filter(|p| p.quantity != 0.0);
            for p in held {
                crate::book::time_to_expiry(as_of, p.instrument.expiry, &p.label, &p.origin)?;
            }
        }
        let (document, market) = self.document.updated(body, file)?;
        let mut inputs = (*self.inputs).clone();
        inputs.market = market;
        // A position netted to 0 (S7) holds nothing: once as_of reaches its expiry it leaves
        // the book, rather than block every later update of as_of.
        let as_of = inputs.market.as_of;
        for account in &mut inputs.portfolio.accounts {
            account.positions.retain(|p| {
                p.quantity != 0.0
                    || crate::book::time_to_expiry(as_of, p.instrument.expiry, "", &p.origin)
                        .is_ok()
            });
        }
        if let Some(c) = &inputs.config.calibrated {
            // With --history the calibration is not redone (S9): its correlation stays.
            inputs.market.correlation = Some(crate::market::CorrelationInput {
                symbols: c.correlation.symbols.clone(),
                matrix: c.correlation.matrix.iter().flatten().copied().collect(),
            });
        }
        inputs.files.market = file.to_string();
        let book = inputs.compile()?;
        Ok(PreparedChange {
            inputs,
            document: Arc::new(document),
            recompute: None,
            book,
        })
    }
}

/// A change checked and ready to compute.
pub struct PreparedChange {
    inputs: RunInputs,
    document: Arc<MarketDocument>,
    /// One account (a trade), or every account (a market update).
    recompute: Option<usize>,
    /// The compiled book of the recomputed accounts: the one account, or the whole book.
    book: Book,
}

impl PreparedChange {
    /// The accounts whose figures the change recomputes.
    pub fn recomputed(&self) -> Vec<usize> {
        match self.recompute {
            Some(i) => vec![i],
            None => (0..self.inputs.portfolio.accounts.len()).collect(),
        }
    }

    /// The snapshot after `before`: the recomputed accounts' figures, the others kept.
    pub fn compute(self, engine: &Engine, before: &Snapshot) -> Result<Snapshot> {
        let (figures, warm, book) = match self.recompute {
            Some(i) => {
                // The same market: the rows compiled so far stay, with the trade's new ones.
                let book = match before.book.with_rows_of(&self.book) {
                    Some(more) => Arc::new(more),
                    None => before.book.clone(),
                };
                let one = with_accounts(
                    &self.inputs,
                    vec![self.inputs.portfolio.accounts[i].clone()],
                );
                let mut f = engine.figures_warm(&one, self.book, before.warm.as_ref())?;
                let mut figures = before.figures.clone();
                figures[i] = Arc::new(f.remove(0));
                (figures, before.warm.clone(), book)
            }
            None => {
                let book = WarmBook::new(&self.book);
                let figures = engine.figures(&self.inputs, self.book)?;
                let warm = engine.warm_states(&self.inputs, &book)?;
                let figures = figures.into_iter().map(Arc::new).collect();
                (figures, warm, Arc::new(book))
            }
        };
        Ok(Snapshot {
            number: before.number + 1,
            inputs: Arc::new(self.inputs),
            document: self.document,
            figures,
            warm,
            book,
            index: before.index.clone(),
        })
    }
}
