//! No non-finite figure, ever: the last check of an evaluation before any report is built.
//!
//! Inputs that parse but overflow (a spot, quantity, strike or multiplier of 1e300, an
//! `adv_usd` of 5e-324 under a large delta) are caught where they first show: a position
//! whose today's value or notional overflows when the book is compiled
//! ([`crate::book::Book::compile`]), anything else here, naming the account, the figure and
//! its value (`Error::Input`, exit 65), instead of a report with `null` in it.

use super::{MarginFigures, Simulation};
use crate::error::{Error, Result};
use crate::portfolio::Portfolio;

/// Checks every figure of every account: VaR, ES and their intervals at each confidence,
/// ES at the margin confidence, component ES, grid and named-scenario losses, margin and its
/// components, and Greeks. `portfolio` is the one the book was compiled from (for the file
/// to name).
pub fn check_figures(
    sim: &Simulation,
    figures: &MarginFigures,
    portfolio: &Portfolio,
) -> Result<()> {
    for (i, account) in sim.book.accounts.iter().enumerate() {
        let Some((figure, value)) = non_finite_figure(sim, figures, i) else {
            continue;
        };
        let file = portfolio
            .accounts
            .get(i)
            .map_or_else(|| "portfolio".into(), |a| a.origin.file.clone());
        return Err(Error::input(
            file,
            format!("accounts[{}]", account.id),
            value,
            format!(
                "{figure} of account {} is not a finite number: its positions or their market \
                 data (spot, quantity, strike, multiplier, adv_usd), or the configuration's \
                 dynamics (vol of vol, mean reversion, jumps) or stress moves, are too large \
                 for finite arithmetic (f32 backends overflow above 3.4e38; the f64 CPU \
                 backend above 1.8e308)",
                account.id
            ),
        ));
    }
    Ok(())
}

/// The first figure of `named` that is not a finite number, as the input error of account
/// `id` of `file` (shard files check their parts and their merge with it).
pub fn first_non_finite(
    file: &str,
    id: &str,
    named: impl IntoIterator<Item = (String, f64)>,
) -> Result<()> {
    match named.into_iter().find(|(_, v)| !v.is_finite()) {
        None => Ok(()),
        Some((figure, value)) => Err(Error::input(
            file,
            format!("accounts[{id}]"),
            value,
            format!(
                "{figure} of account {id} is not a finite number: its positions or their market \
                 data, or the configuration's dynamics or stress moves, are too large for \
                 finite arithmetic"
            ),
        )),
    }
}

/// The first non-finite figure of account `i`, named, with its value.
fn non_finite_figure(sim: &Simulation, figures: &MarginFigures, i: usize) -> Option<(String, f64)> {
    let book = &sim.book;
    let fig = &sim.accounts[i];
    for m in fig.measures.iter().chain([&fig.margin_es]) {
        let named = [
            ("VaR", m.var),
            ("ES", m.es),
            ("the lower bound of the VaR interval", m.var_ci[0]),
            ("the upper bound of the VaR interval", m.var_ci[1]),
            ("the lower bound of the ES interval", m.es_ci[0]),
            ("the upper bound of the ES interval", m.es_ci[1]),
        ];
        if let Some((what, v)) = named.into_iter().find(|(_, v)| !v.is_finite()) {
            return Some((format!("{what} at {}%", m.confidence * 100.0), v));
        }
    }
    let holdings = &book.accounts[i].holdings;
    if let Some((h, &v)) = holdings
        .iter()
        .zip(&fig.components)
        .find(|(_, v)| !v.is_finite())
    {
        return Some((format!("the component ES of {}", h.label), v));
    }
    let stress = &figures.stress;
    let s = &stress.accounts[i];
    if !s.grid_loss.is_finite() {
        return Some(("the grid stress loss".into(), s.grid_loss));
    }
    if let Some((p, &v)) = stress
        .grid
        .iter()
        .zip(&s.grid_losses)
        .find(|(_, v)| !v.is_finite())
    {
        return Some((
            format!(
                "the loss at grid point {} price {:+}, vol {:+}",
                book.assets[p.asset].symbol, p.price_move, p.vol_move
            ),
            v,
        ));
    }
    if let Some((n, &v)) = stress
        .named
        .iter()
        .zip(&s.named_losses)
        .find(|(_, v)| !v.is_finite())
    {
        return Some((format!("the loss of named scenario {}", n.name), v));
    }
    let m = &figures.margins[i];
    let margin = [
        ("initial margin", m.initial),
        ("maintenance margin", m.maintenance),
        ("the ES margin component", m.es),
        ("the grid margin component", m.grid),
        ("the scenario margin component", m.scenario),
        ("the liquidity add-on", m.liquidity),
        ("the short-option minimum", m.short_option_minimum),
    ];
    if let Some((what, v)) = margin.into_iter().find(|(_, v)| !v.is_finite()) {
        return Some((what.into(), v));
    }
    for (asset, g) in book.assets.iter().zip(&figures.greeks[i]) {
        let greeks = [
            ("delta", g.delta),
            ("gamma", g.gamma),
            ("vega", g.vega),
            ("theta", g.theta),
        ];
        if let Some((what, v)) = greeks.into_iter().find(|(_, v)| !v.is_finite()) {
            return Some((format!("the {} {what}", asset.symbol), v));
        }
    }
    None
}
