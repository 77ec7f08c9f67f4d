//! `tailrisk whatif`: an account's ES and initial margin before and after adding positions,
//! on the same scenarios as a full run.
//!
//! Only the chosen account is simulated, twice in one pass (as it is, and with the added
//! positions): the draws are counter-based and every asset of `correlation.symbols` is
//! simulated whatever the positions, so the scenarios are those of a full run, and an
//! account's losses do not depend on the other accounts (exposures are summed in canonical
//! instrument order, [`crate::book::AccountBook::exposures`]). A full run of the changed book
//! gives the same figures for that account, bit for bit on the same backend.

use serde::Serialize;

use crate::engine::Backend;
use crate::error::{Error, Result};
use crate::instrument::InstrumentSpec;
use crate::portfolio::{Origin, Portfolio, Position};
use crate::report::{MarginCurrency, RunInfo, margin_currency, run_info};
use crate::run::{Evaluation, RunInputs, evaluate};

/// A position to add (on the command line, `whatif --add INSTRUMENT:QUANTITY`).
#[derive(Clone, Debug)]
pub struct AddedPosition {
    pub label: String,
    pub instrument: InstrumentSpec,
    pub quantity: f64,
    /// Where the position was given, for errors found when the book is compiled.
    pub origin: Origin,
}

/// ES at the margin confidence and initial margin.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EsAndMargin {
    pub es: f64,
    pub initial: f64,
}

/// The answer of SPEC §8's `whatif`, with the `run` object every report carries (seed,
/// version, backend) first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhatIf {
    pub run: RunInfo,
    pub account: String,
    pub currency: MarginCurrency,
    pub before: EsAndMargin,
    pub after: EsAndMargin,
    pub increment: EsAndMargin,
    /// What the caller should tell the user (shocks on unsimulated assets skipped); not
    /// part of the report.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl WhatIf {
    pub fn to_json(&self) -> String {
        crate::report::pretty_json(self)
    }

    pub fn to_table(&self) -> String {
        use crate::report::money;
        format!(
            "tailrisk {} what-if — {} paths, seed {}, {} backend ({}, {})\naccount {} ({})\n  {:<10} {:>18} {:>18}\n  {:<10} {:>18} {:>18}\n  {:<10} {:>18} {:>18}\n  {:<10} {:>18} {:>18}\n",
            self.run.version,
            self.run.paths,
            self.run.seed,
            self.run.backend,
            self.run.device,
            self.run.precision,
            self.account,
            self.currency,
            "",
            "ES",
            "initial margin",
            "before",
            money(self.before.es),
            money(self.before.initial),
            "after",
            money(self.after.es),
            money(self.after.initial),
            "increment",
            money(self.increment.es),
            money(self.increment.initial),
        )
    }
}

/// Evaluates `account_id` with and without `added`.
pub fn what_if(
    inputs: &RunInputs,
    account_id: &str,
    added: &[AddedPosition],
    backend: &dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<WhatIf> {
    let Some(account) = inputs
        .portfolio
        .accounts
        .iter()
        .find(|a| a.id == account_id)
    else {
        return Err(Error::input(
            "what-if",
            "account",
            account_id,
            "no such account in the portfolio",
        ));
    };
    let mut changed = account.clone();
    changed.positions.extend(added.iter().map(|p| Position {
        label: p.label.clone(),
        instrument: p.instrument.clone(),
        quantity: p.quantity,
        origin: p.origin.clone(),
    }));
    let portfolio = Portfolio {
        accounts: vec![account.clone(), changed],
    };
    // The same evaluation as a run, of a book of the account before and after.
    let changed = RunInputs {
        market: inputs.market.clone(),
        portfolio,
        config: inputs.config.clone(),
        files: inputs.files.clone(),
        scenarios: inputs.scenarios.clone(),
        historical: inputs.historical.clone(),
    };
    let Evaluation {
        sim,
        figures,
        seconds,
        warnings,
    } = evaluate(&changed, backend, progress)?;
    let es: Vec<f64> = sim.accounts.iter().map(|a| a.margin_es.es).collect();
    let pick = |i: usize| EsAndMargin {
        es: es[i],
        initial: figures.margins[i].initial,
    };
    let (before, after) = (pick(0), pick(1));
    Ok(WhatIf {
        run: run_info(&inputs.config, &sim, backend, seconds),
        account: account_id.to_string(),
        currency: margin_currency(&sim.book, &sim.book.accounts[0]),
        before,
        after,
        increment: EsAndMargin {
            es: after.es - before.es,
            initial: after.initial - before.initial,
        },
        warnings,
    })
}
