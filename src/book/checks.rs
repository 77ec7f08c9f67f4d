//! Checks of a compiled book that need its tables: jump intensities the simulation can draw
//! without truncation, and finite today's values and notionals of every position; and the
//! one check of a position against `as_of`, that it has not expired.

use super::{Book, SourceFiles};
use crate::error::{Error, Result};
use crate::model::scenario::MAX_JUMPS_PER_STEP;
use crate::portfolio::Portfolio;
use crate::time::{Timestamp, year_fraction};

/// The largest probability allowed for a step's jump count N ~ Poisson(λ·dt) to exceed
/// [`MAX_JUMPS_PER_STEP`] (the simulation truncates counts at the cap). 10⁻¹² is more than two
/// orders of magnitude below the smallest probability a run can resolve (one path in
/// 2³² − 1, 2.3·10⁻¹⁰), so truncation cannot move a figure; it admits λ·dt up to about 23.26
/// jumps per step (8 490 jumps a year at a one-day step).
pub const MAX_JUMP_TRUNCATION_PROBABILITY: f64 = 1e-12;

/// τ₀ in years from `as_of` to a position's expiry (∞ without one); an expiry at or before
/// `as_of` is the input error naming the position (its label, file and field).
pub fn time_to_expiry(
    as_of: Timestamp,
    expiry: Option<Timestamp>,
    label: &str,
    origin: &crate::portfolio::Origin,
) -> Result<f64> {
    let Some(expiry) = expiry else {
        return Ok(f64::INFINITY);
    };
    let tau0 = year_fraction(as_of, expiry);
    if tau0 > 0.0 {
        return Ok(tau0);
    }
    let truncated = match expiry == as_of {
        true => " (timestamps are read to the millisecond)",
        false => "",
    };
    Err(Error::input(
        &origin.file,
        &origin.field,
        label,
        format!(
            "expired: expiry {} is not after as_of {}{truncated}",
            crate::time::format_rfc3339(expiry),
            crate::time::format_rfc3339(as_of),
        ),
    ))
}

/// P(N > cap) for N ~ Poisson(mean), summed from the terms above the cap (no cancellation);
/// 1 for a mean above the cap (the tail is then at least about a half).
pub fn poisson_tail_above(mean: f64, cap: u32) -> f64 {
    if mean.is_nan() || mean > f64::from(cap) {
        return 1.0;
    }
    if mean == 0.0 {
        return 0.0;
    }
    // ln pₙ = −mean + n·ln(mean) − ln n!, for n = cap + 1, then pₙ₊₁ = pₙ·mean/(n + 1).
    let n0 = cap + 1;
    let ln_factorial: f64 = (2..=n0).map(|k| f64::from(k).ln()).sum();
    let mut p = (-mean + f64::from(n0) * mean.ln() - ln_factorial).exp();
    let mut tail = 0.0;
    let mut n = n0;
    while p > tail * 1e-17 && n < n0 + 10_000 {
        tail += p;
        n += 1;
        p *= mean / f64::from(n);
    }
    tail
}

/// Rejects an asset whose jump count per step could exceed the simulation's cap with a
/// probability of [`MAX_JUMP_TRUNCATION_PROBABILITY`] or more.
pub(super) fn check_jump_intensities(book: &Book, files: &SourceFiles) -> Result<()> {
    let dt = book.horizon / f64::from(book.steps.max(1));
    for asset in &book.assets {
        let lambda = asset.dynamics.jump_intensity;
        let mean = lambda * dt;
        let tail = poisson_tail_above(mean, MAX_JUMPS_PER_STEP);
        if tail >= MAX_JUMP_TRUNCATION_PROBABILITY {
            return Err(Error::input(
                &files.config,
                format!("dynamics.{}.jump_intensity", asset.symbol),
                lambda,
                format!(
                    "{} expected jumps per step of {:.4} days: the simulation draws at \
                     most {MAX_JUMPS_PER_STEP} jumps per step, and P(more than \
                     {MAX_JUMPS_PER_STEP}) = {tail:.2e} is not below \
                     {MAX_JUMP_TRUNCATION_PROBABILITY:e} (λ·dt must stay below about 23.26); \
                     lower the intensity, the horizon, or use more steps",
                    readable(mean),
                    dt * 365.0
                ),
            ));
        }
    }
    Ok(())
}

/// A number with 4 decimals, or in scientific notation when large.
fn readable(x: f64) -> String {
    if x.abs() < 1e6 {
        format!("{x:.4}")
    } else {
        format!("{x:.3e}")
    }
}

/// A number as `{}` writes it, or in scientific notation when that would be long.
fn short(x: f64) -> String {
    if x == 0.0 || (1e-6..1e15).contains(&x.abs()) || !x.is_finite() {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// Rejects a position whose today's value or USD notional is not a finite number (inputs
/// that parse but overflow, e.g. a spot, quantity, strike or multiplier of 1e300), naming
/// the position and the value, and an account whose today's value overflows.
/// `portfolio` is the one the book was compiled from (holdings in position order).
pub(super) fn check_finite_positions(book: &Book, portfolio: &Portfolio) -> Result<()> {
    for (account, input) in book.accounts.iter().zip(&portfolio.accounts) {
        for (h, position) in account.holdings.iter().zip(&input.positions) {
            let row = &book.instruments[h.instrument];
            let notional = book.instrument_notional(h.instrument);
            let figures = [
                ("forward price", row.forward0),
                ("value per unit", row.base_value),
                ("notional per unit", notional),
                ("today's value", h.quantity * row.base_value),
                ("notional", h.quantity * notional),
            ];
            if let Some((what, value)) = figures.into_iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::input(
                    &position.origin.file,
                    &position.origin.field,
                    &h.label,
                    format!(
                        "in account {}: its {what} is {value} USD (quantity {}, spot {} of \
                         {}); the quantity, spot, rate, strike or multiplier is too large \
                         for finite arithmetic",
                        account.id,
                        short(h.quantity),
                        short(book.assets[row.asset].spot),
                        book.assets[row.asset].symbol
                    ),
                ));
            }
        }
        if !account.base_value_usd.is_finite() {
            let file = &input.origin.file;
            return Err(Error::input(
                file,
                format!("accounts[{}]", account.id),
                account.base_value_usd,
                "today's value of the account is not a finite number: its positions are too \
                 large for finite arithmetic",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_tail_matches_direct_sums() {
        // P(N > 2) for mean 1: 1 − e⁻¹(1 + 1 + ½).
        let direct = 1.0 - (-1.0f64).exp() * 2.5;
        assert!((poisson_tail_above(1.0, 2) - direct).abs() < 1e-15);
        assert_eq!(poisson_tail_above(0.0, MAX_JUMPS_PER_STEP), 0.0);
        assert_eq!(poisson_tail_above(65.0, MAX_JUMPS_PER_STEP), 1.0);
        // The documented limit: λ·dt ≈ 23.26 is where the tail crosses 1e-12.
        assert!(poisson_tail_above(23.2, MAX_JUMPS_PER_STEP) < MAX_JUMP_TRUNCATION_PROBABILITY);
        assert!(poisson_tail_above(23.3, MAX_JUMPS_PER_STEP) > MAX_JUMP_TRUNCATION_PROBABILITY);
        // λ·dt = 5: about 2.4e-48.
        let t5 = poisson_tail_above(5.0, MAX_JUMPS_PER_STEP);
        assert!(t5 > 2.3e-48 && t5 < 2.5e-48, "{t5:e}");
    }
}
