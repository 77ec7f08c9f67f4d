//! Accounts and positions (SPEC §2 `--portfolio`).

use crate::instrument::InstrumentSpec;

/// A validated portfolio: account ids unique, quantities finite.
#[derive(Clone, Debug, Default)]
pub struct Portfolio {
    pub accounts: Vec<Account>,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    /// `USD` or the symbol of a simulated asset (SPEC §7).
    pub margin_currency: String,
    pub positions: Vec<Position>,
    /// Where the account was written: its file (or request), for errors about the account as
    /// a whole (an account without positions names it too), and the field of its margin
    /// currency, for errors found when the book is compiled.
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Position {
    /// The instrument as the user named it (a Deribit name), or the canonical Deribit-style
    /// name of an explicit object; used in reports.
    pub label: String,
    pub instrument: InstrumentSpec,
    /// Signed; negative = short. Units per SPEC §2.
    pub quantity: f64,
    /// Where the position was written, for errors found later (unknown asset, expiry):
    /// the file and the field (`accounts[0].positions[2].instrument` or `line 7, instrument`).
    pub origin: Origin,
}

/// A place in an input file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub field: String,
}
