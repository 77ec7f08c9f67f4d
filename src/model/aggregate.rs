//! Aggregate stage, CPU twin of `shaders/aggregate.wgsl`: holdings × instrument P&L → the
//! loss of every account on a path (SPEC §1: loss = −(value at horizon − value now)).
//!
//! USD account: L = −Σ_i q_i·pnl_i over the account's net exposure per instrument.
//! Coin-margined account in asset c (SPEC §7), with P = Σ q·pnl and V₀ its USD value today:
//! L = −((V₀ + P)/S_c,1 − V₀/S_c,0) = −P/S_c,1 − (V₀/S_c,0)·expm1(−r_c),
//! exact zero when nothing moves. An inverse contract's coin P&L is then q·(1/F₀ − 1/F₁).

use crate::book::{AccountBook, Book, Currency};
use crate::model::AssetState;

/// Loss of one account on one path, from the P&L per unit of every instrument.
#[inline]
pub fn account_loss(book: &Book, account: &AccountBook, pnl: &[f64], states: &[AssetState]) -> f64 {
    let usd_pnl: f64 = account
        .exposures
        .iter()
        .map(|e| e.quantity * pnl[e.instrument])
        .sum();
    loss_of_usd_pnl(book, account, usd_pnl, states)
}

/// An account's loss in its currency from its USD P&L on a path whose asset states are
/// `states`: −P&L for a USD account, [`coin_loss`] for a coin-margined one.
#[inline]
pub fn loss_of_usd_pnl(
    book: &Book,
    account: &AccountBook,
    usd_pnl: f64,
    states: &[AssetState],
) -> f64 {
    match account.currency {
        Currency::Usd => -usd_pnl,
        Currency::Coin(c) => coin_loss(
            book,
            account.base_value_usd,
            usd_pnl,
            states[c].log_return,
            c,
        ),
    }
}

/// The coin loss of a USD value V₀ that gains `usd_pnl` while the coin's log return is `r`.
#[inline]
pub fn coin_loss(book: &Book, base_value_usd: f64, usd_pnl: f64, r: f64, coin: usize) -> f64 {
    coin_loss_at(book.assets[coin].spot, base_value_usd, usd_pnl, r)
}

/// [`coin_loss`] for a coin whose spot today is `spot0`.
#[inline]
pub fn coin_loss_at(spot0: f64, base_value_usd: f64, usd_pnl: f64, r: f64) -> f64 {
    let spot1 = spot0 * r.exp();
    -usd_pnl / spot1 - (base_value_usd / spot0) * (-r).exp_m1()
}

/// Loss contribution of each holding of an account on one path (component ES): the same
/// decomposition as [`account_loss`], position by position, so that the parts sum to it.
pub fn holding_losses(
    book: &Book,
    account: &AccountBook,
    pnl: &[f64],
    states: &[AssetState],
    out: &mut [f64],
) {
    let coin = match account.currency {
        Currency::Usd => None,
        Currency::Coin(c) => Some((book.assets[c].spot, states[c].log_return)),
    };
    for (o, h) in out.iter_mut().zip(&account.holdings) {
        let row = &book.instruments[h.instrument];
        *o = if row.is_margin_coin(account.currency) {
            0.0
        } else {
            holding_loss(h.quantity, pnl[h.instrument], row.base_value, coin)
        };
    }
}

/// The loss of one holding of `quantity` units whose P&L per unit is `pnl` and today's value
/// per unit `base_value`: in USD, or with `coin` = (S_c,0, r_c) in that coin (SPEC §7).
/// Shard merges recompute component ES with it from the P&L a shard stored.
#[inline]
pub fn holding_loss(quantity: f64, pnl: f64, base_value: f64, coin: Option<(f64, f64)>) -> f64 {
    let usd = quantity * pnl;
    match coin {
        None => -usd,
        Some((spot0, r)) => coin_loss_at(spot0, quantity * base_value, usd, r),
    }
}
