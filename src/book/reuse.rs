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
    /// The warm parts of `book` (its market part and its rows; its accounts are dropped).
    pub fn new(book: Book) -> Self {
        let index = book
            .instruments
            .iter()
            .enumerate()
            .map(|(i, row)| (InstrumentKey::of(&row.spec), i))
            .collect();
        WarmBook {
            base: Book {
                accounts: Vec::new(),
                ..book
            },
            index,
        }
    }

    /// The row of an instrument already compiled, if any.
    pub(super) fn row(&self, key: &InstrumentKey) -> Option<&InstrumentRow> {
        self.index.get(key).map(|&i| &self.base.instruments[i])
    }

    /// Instrument rows held.
    pub fn rows(&self) -> usize {
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
        let same_assets = symbols.len() == self.base.assets.len()
            && symbols
                .iter()
                .zip(&self.base.assets)
                .all(|(s, a)| *s == a.symbol);
        if !same_assets {
            // Without a correlation block the simulated asset follows the positions.
            return Book::compile(market, portfolio, config, files);
        }
        let mut book = Book {
            as_of: self.base.as_of,
            horizon: self.base.horizon,
            steps: self.base.steps,
            student_t_dof: self.base.student_t_dof,
            assets: self.base.assets.clone(),
            correlation: self.base.correlation.clone(),
            correlation_root: self.base.correlation_root.clone(),
            correlation_repair: self.base.correlation_repair.clone(),
            instruments: Vec::new(),
            accounts: Vec::with_capacity(portfolio.accounts.len()),
        };
        book.push_accounts(market, portfolio, Some(self))?;
        checks::check_finite_positions(&book, portfolio)?;
        Ok(book)
    }

    /// This warm book with the rows of `book` (compiled on the same market) it lacks, or
    /// `None` when it has them all.
    pub fn with_rows_of(&self, book: &Book) -> Option<WarmBook> {
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
