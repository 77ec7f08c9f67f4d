//! A compiled book kept warm between requests (the service's snapshots): the parts of a book
//! that depend on the market and the configuration only, and every instrument row compiled
//! so far, so that the book of one account, or of one account with added positions, is put
//! together from rows already compiled instead of compiling the market and every position
//! again.
//!
//! A row depends only on its instrument's specification and the market (τ₀, F₀ and today's
//! value on today's surface), and the market part only on the market, the configuration and
//! which assets are simulated; so [`WarmBook::compile`] gives the book [`Book::compile`]
//! gives, field for field (tests/warm_book.rs).

use std::collections::HashMap;

use super::{Book, InstrumentKey, InstrumentRow, SourceFiles, checks};
use crate::config::RunConfig;
use crate::error::Result;
use crate::market::Market;
use crate::portfolio::Portfolio;

/// The market part of a compiled book and the instrument rows compiled on that market.
#[derive(Clone, Debug)]
pub struct WarmBook {
    /// Assets, correlation and horizon of the book; no account. `instruments` holds every
    /// row compiled so far, in the order they were added.
    base: Book,
    index: HashMap<InstrumentKey, usize>,
}

impl WarmBook {
    /// The warm parts of `book`: its market part and its rows (not its accounts).
    pub fn new(book: &Book) -> Self {
        let index = book
            .instruments
            .iter()
            .enumerate()
            .map(|(i, row)| (InstrumentKey::of(&row.spec), i))
            .collect();
        let mut base = market_part(book);
        base.instruments = book.instruments.clone();
        WarmBook { base, index }
    }

    /// The row of an instrument already compiled, if any.
    pub(super) fn row(&self, key: &InstrumentKey) -> Option<&InstrumentRow> {
        self.index.get(key).map(|&i| &self.base.instruments[i])
    }

    /// Instrument rows held.
    pub fn row_count(&self) -> usize {
        self.base.instruments.len()
    }

    /// [`Book::compile`] of `portfolio` on the market and configuration this book was
    /// compiled from (the caller's promise): the market part is copied when the same assets
    /// are simulated (always, with a correlation block), known rows are copied, new ones
    /// compiled; every per-position check is made as `compile` makes it.
    pub fn compile(
        &self,
        market: &Market,
        portfolio: &Portfolio,
        config: &RunConfig,
        files: &SourceFiles,
    ) -> Result<Book> {
        let (symbols, _) = super::simulated_assets(market, portfolio, files)?;
        if !same_symbols(symbols.iter().map(String::as_str), &self.base) {
            // Without a correlation block the simulated asset follows the positions.
            return Book::compile(market, portfolio, config, files);
        }
        let mut book = market_part(&self.base);
        book.accounts.reserve(portfolio.accounts.len());
        book.push_accounts(market, portfolio, Some(self))?;
        checks::check_finite_positions(&book, portfolio)?;
        Ok(book)
    }

    /// This warm book with the rows of `book` (compiled on the same market) it lacks, or
    /// `None` when it has them all or simulates other assets (its rows' asset indices would
    /// not be this book's).
    pub fn with_rows_of(&self, book: &Book) -> Option<WarmBook> {
        if !same_symbols(book.assets.iter().map(|a| a.symbol.as_str()), &self.base) {
            return None;
        }
        let new: Vec<&InstrumentRow> = book
            .instruments
            .iter()
            .filter(|row| !self.index.contains_key(&InstrumentKey::of(&row.spec)))
            .collect();
        if new.is_empty() {
            return None;
        }
        let mut more = self.clone();
        for row in new {
            more.index
                .insert(InstrumentKey::of(&row.spec), more.base.instruments.len());
            more.base.instruments.push(row.clone());
        }
        Some(more)
    }
}

/// Whether `symbols` are the simulated assets of `book`, in order.
fn same_symbols<'a>(symbols: impl ExactSizeIterator<Item = &'a str>, book: &Book) -> bool {
    symbols.len() == book.assets.len() && symbols.zip(&book.assets).all(|(s, a)| s == a.symbol)
}

/// The market part of `book`: assets, correlation, horizon; no instrument, no account.
fn market_part(book: &Book) -> Book {
    Book {
        as_of: book.as_of,
        horizon: book.horizon,
        steps: book.steps,
        student_t_dof: book.student_t_dof,
        assets: book.assets.clone(),
        correlation: book.correlation.clone(),
        correlation_root: book.correlation_root.clone(),
        correlation_repair: book.correlation_repair.clone(),
        instruments: Vec::new(),
        accounts: Vec::new(),
        importance: None,
    }
}
