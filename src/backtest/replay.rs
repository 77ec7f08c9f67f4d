//! The daily replay of a book (SPEC §11, settled details 8–10): the run inputs of the
//! forecast made at d_{t−1}, and the realised loss of the same book at d_t.
//!
//! At d_{t−1} every simulated asset's spot is P_{t−1} and its implied surface is flat at
//! that day's `vol_used`; quantities are unchanged; an option keeps its time to expiry
//! τ = expiry − as_of (the snapshot's `as_of` is kept, so τ is frozen) and its moneyness,
//! K = K₀·P_{t−1}/S₀ with S₀ the snapshot's spot; perpetuals and futures open at d_{t−1}
//! (worth 0, F₀ = P_{t−1}·e^{rate·τ}). The realised loss revalues that book at d_t as the
//! scenario ln(S/S₀) = r_t with the surface moved uniformly from vol_used_{t−1} to
//! vol_used_t: spot P_t, τ − 1 day (≤ 0 settles at intrinsic on P_t), flat vol_used_t.

use crate::book::Book;
use crate::calibrate::{self, Calibration};
use crate::config::CalibrationConfig;
use crate::engine::{AssetState, Backend, StressScenario, VolRule};
use crate::error::{Error, Result};
use crate::input::History;
use crate::instrument::InstrumentKind;
use crate::market::VolSurface;
use crate::model::aggregate::account_loss;
use crate::model::historical::HistoricalMethod;
use crate::run::RunInputs;

/// The history as it stood at the close of return `t` (returns 1..t, closes 0..t): what a
/// calibration at d_t may see.
pub fn history_through(history: &History, t: usize) -> History {
    History {
        symbols: history.symbols.clone(),
        dates: history.dates[..t].to_vec(),
        returns: history.returns[..t].to_vec(),
        closes: history.closes[..=t].to_vec(),
        gaps: 0,
        file: history.file.clone(),
    }
}

/// The run inputs of the forecast at d_{t−1}: the book replayed at the closes `closes`
/// (P_{t−1}, in the history's asset order), calibrated by `calibration` (returns 1..t−1),
/// with the historical days 1..t−1 of `past` as scenarios for hs and fhs.
pub fn forecast_inputs(
    base: &RunInputs,
    past: &History,
    calibration: &Calibration,
    params: &CalibrationConfig,
    method: Option<HistoricalMethod>,
) -> Result<RunInputs> {
    let closes = past.closes.last().expect("a history has closes");
    let mut inputs = base.clone();
    let mut ratios = Vec::with_capacity(past.symbols.len());
    for ((symbol, &close), cal) in past.symbols.iter().zip(closes).zip(&calibration.assets) {
        let quote = inputs
            .market
            .assets
            .iter_mut()
            .find(|a| a.symbol == *symbol)
            .ok_or_else(|| {
                Error::input(
                    &inputs.files.market,
                    "assets",
                    symbol,
                    "the history's asset is not in the market",
                )
            })?;
        ratios.push((symbol.clone(), close / quote.spot));
        quote.spot = close;
        quote.surface = VolSurface::Flat(cal.vol_used);
    }
    for account in &mut inputs.portfolio.accounts {
        for position in &mut account.positions {
            let spec = &mut position.instrument;
            if spec.kind != InstrumentKind::Option {
                continue;
            }
            if let (Some(strike), Some((_, ratio))) = (
                spec.strike.as_mut(),
                ratios.iter().find(|(s, _)| *s == spec.underlying),
            ) {
                *strike *= ratio;
            }
        }
    }
    let historical = method.map(|m| calibrate::historical_scenarios(past, params, calibration, m));
    let mut inputs = calibrate::apply(inputs, calibration.clone());
    inputs.historical = historical;
    Ok(inputs)
}

/// Each account's realised loss L_t = V_{t−1} − V_t of the replayed `book` (compiled at
/// d_{t−1}), in its margin currency: the scenario of return `r_t` (history order) with the
/// flat surface moved from `vol_before` to `vol_after` (vol_used of the calibrations
/// through t − 1 and t), revalued on `reference` at the book's horizon of one day.
pub fn realised_losses(
    book: &Book,
    symbols: &[String],
    r_t: &[f64],
    vol_before: &[f64],
    vol_after: &[f64],
    reference: &dyn Backend,
) -> Result<Vec<f64>> {
    let states: Vec<AssetState> = book
        .assets
        .iter()
        .map(|asset| {
            let a = symbols
                .iter()
                .position(|s| *s == asset.symbol)
                .expect("every simulated asset is a history column");
            AssetState {
                log_return: r_t[a],
                // Uniform rule: σ₁ = vol_before·(1 + vol) = vol_after.
                log_vol: (vol_after[a] / vol_before[a]).ln(),
            }
        })
        .collect();
    let scenario = StressScenario {
        states: states.clone(),
        vol_rule: VolRule::Uniform,
        only_asset: None,
    };
    let pnl = reference.revalue_scenarios(book, std::slice::from_ref(&scenario))?;
    Ok(book
        .accounts
        .iter()
        .map(|account| account_loss(book, account, &pnl, &states))
        .collect())
}
