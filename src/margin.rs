//! Portfolio margin of an account (SPEC §6, methodology §11), in its margin currency:
//!
//! ```text
//! IM = max( max(ES_α, grid loss, worst named scenario) + liquidity add-on,
//!           short-option minimum, 0 ),        MM = mm_ratio · IM,
//! ```
//!
//! with α = `margin.confidence`. Every component is reported. With the anti-procyclicality
//! buffer tool (`margin.apc`, SPEC §9 settled detail 6) the IM above is IM₀ and
//!
//! ```text
//! apc_buffer = buffer · IM₀,   IM = IM₀ + apc_buffer,   MM = mm_ratio · IM.
//! ```
//!
//! # Liquidity (concentration) add-on
//!
//! The cost of liquidating the account's net exposures within a day, by the square-root law
//! of market impact (the relative price impact of trading Q against a daily volume V is
//! Y·σ_day·√(Q/V), Y of order 1; Almgren et al. 2005, Tóth et al. 2011), so the cost of
//! trading Q is Y·σ_day·Q^{3/2}/√V: superlinear in size, zero for a flat book. Per asset a,
//! with Δₐ = the account's net delta in USD (S·∂V/∂S, from [`crate::greeks`]), νₐ = its net
//! vega in USD per vol point, ADVₐ = `adv_usd`, σ_day = `spot_vol`·√(1/365):
//!
//! ```text
//! add-onₐ = Y · σ_day · |Δₐ|^{3/2} / √ADVₐ  +  |νₐ|^{3/2} / √(λ · ADVₐ),
//! ```
//!
//! the second term the same law for unwinding vega in the options market, whose daily capacity
//! in vega is taken as λ·ADV (USD per vol point traded per day): unwinding |ν| moves implied
//! vol by √(|ν|/(λ·ADV)) vol points. Constants: Y = [`IMPACT_COEFFICIENT`] = 1,
//! λ = [`VEGA_CAPACITY_PER_ADV`] = 5·10⁻⁵ (a listed crypto options market trades roughly 5% of
//! the spot market's notional, at about 0.1% vega per unit notional for one-month options).
//! An asset without `adv_usd` (or with a non-positive one) is charged as if its ADV were
//! [`ADV_FALLBACK_USD`] = 10⁸ USD, a thinly traded coin: missing liquidity data never lowers
//! margin. The add-on is the sum over assets. For a coin-margined account in coin c the Greeks
//! are those of the coin value (whose coin delta includes the numeraire's own, see
//! [`crate::greeks`]), taken to USD at S_c, and the add-on is divided by S_c.
//!
//! # Short-option minimum
//!
//! A floor for books of short options whose scenario losses net to little (deep out-of-the-money
//! shorts, spreads), after SPAN's short option minimum. Per asset a, with Cₐ and Pₐ the net short
//! calls and puts in coins (Σ over option series with a net short quantity of |q|·multiplier;
//! no netting across series), and S the spot:
//!
//! ```text
//! SOMₐ = ρ · S · max(Cₐ, Pₐ),      short-option minimum = Σₐ SOMₐ,
//! ```
//!
//! (a short straddle counts once: only one leg can finish in the money), ρ =
//! [`SHORT_OPTION_MINIMUM_RATE`] = 1% of the underlying's value per net short contract. Divided
//! by S_c for an account margined in coin c.

use crate::book::{AccountBook, Book, Currency};
use crate::greeks::Greeks;
use crate::instrument::{InstrumentKind, Right};
use crate::time::DAY;

/// Y of the square-root impact law.
pub const IMPACT_COEFFICIENT: f64 = 1.0;
/// λ: the options market's daily vega capacity (USD per vol point) per USD of spot ADV.
pub const VEGA_CAPACITY_PER_ADV: f64 = 5e-5;
/// The ADV assumed for an asset without `adv_usd`, USD.
pub const ADV_FALLBACK_USD: f64 = 1e8;
/// ρ: short-option minimum per net short contract, as a fraction of the underlying's value.
pub const SHORT_OPTION_MINIMUM_RATE: f64 = 0.01;

/// Which term sets initial margin (reports write its [`Binding::as_str`] name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// ES at the margin confidence (plus the add-on).
    Es,
    /// The grid loss (plus the add-on).
    Grid,
    /// The worst named scenario (plus the add-on).
    Scenario,
    ShortOptionMinimum,
    /// Every term is ≤ 0: IM = 0.
    None,
}

impl Binding {
    /// The name of the component in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Binding::Es => "es",
            Binding::Grid => "grid",
            Binding::Scenario => "scenario",
            Binding::ShortOptionMinimum => "short_option_minimum",
            Binding::None => "none",
        }
    }
}

impl std::fmt::Display for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Initial and maintenance margin with their components, in the account's margin currency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Margin {
    pub initial: f64,
    pub maintenance: f64,
    /// ES at the margin confidence.
    pub es: f64,
    pub grid: f64,
    /// The worst named scenario's loss (0 without named scenarios).
    pub scenario: f64,
    pub liquidity: f64,
    pub short_option_minimum: f64,
    /// buffer · IM₀ under the APC buffer tool; `None` without it.
    pub apc_buffer: Option<f64>,
    pub binding: Binding,
}

impl Margin {
    /// The margin with the APC buffer tool's `buffer` (module docs); unchanged for `None`.
    pub fn with_apc_buffer(self, buffer: Option<f64>, mm_ratio: f64) -> Margin {
        let Some(buffer) = buffer else { return self };
        let apc_buffer = buffer * self.initial;
        let initial = self.initial + apc_buffer;
        Margin {
            initial,
            maintenance: mm_ratio * initial,
            apc_buffer: Some(apc_buffer),
            ..self
        }
    }
}

/// IM and MM from their components (module docs). Ties go to the earlier term in the order
/// ES, grid, scenario, short-option minimum.
pub fn margin(
    es: f64,
    grid: f64,
    scenario: f64,
    liquidity: f64,
    short_option_minimum: f64,
    mm_ratio: f64,
) -> Margin {
    let (core, mut binding) = [
        (es, Binding::Es),
        (grid, Binding::Grid),
        (scenario, Binding::Scenario),
    ]
    .into_iter()
    .fold((f64::NEG_INFINITY, Binding::Es), |best, (x, b)| {
        if x > best.0 { (x, b) } else { best }
    });
    let mut initial = core + liquidity;
    if short_option_minimum > initial {
        initial = short_option_minimum;
        binding = Binding::ShortOptionMinimum;
    }
    if initial <= 0.0 {
        initial = 0.0;
        binding = Binding::None;
    }
    Margin {
        initial,
        maintenance: mm_ratio * initial,
        es,
        grid,
        scenario,
        liquidity,
        short_option_minimum,
        apc_buffer: None,
        binding,
    }
}

/// USD per unit of the account's margin currency today.
fn usd_per_unit(book: &Book, account: &AccountBook) -> f64 {
    match account.currency {
        Currency::Usd => 1.0,
        Currency::Coin(c) => book.assets[c].spot,
    }
}

/// The ADV an asset is charged with: `adv_usd`, or [`ADV_FALLBACK_USD`].
fn charged_adv(book: &Book, asset: usize) -> f64 {
    match book.assets[asset].adv_usd {
        Some(adv) if adv.is_finite() && adv > 0.0 => adv,
        _ => ADV_FALLBACK_USD,
    }
}

/// The liquidity add-on of one asset, USD, from its net delta and vega in USD (module docs).
fn asset_liquidity_usd(book: &Book, asset: usize, delta_usd: f64, vega_usd: f64) -> f64 {
    let adv = charged_adv(book, asset);
    let sigma_day = book.assets[asset].dynamics.spot_vol * DAY.sqrt();
    let delta = delta_usd.abs();
    let vega = vega_usd.abs();
    IMPACT_COEFFICIENT * sigma_day * delta * (delta / adv).sqrt()
        + vega * (vega / (VEGA_CAPACITY_PER_ADV * adv)).sqrt()
}

/// The liquidity add-on of an account in its margin currency, from its Greeks per asset in
/// that currency ([`crate::greeks::account_greeks`], every asset in book order).
pub fn liquidity_addon(book: &Book, account: &AccountBook, greeks: &[Greeks]) -> f64 {
    let unit = usd_per_unit(book, account);
    let usd: f64 = greeks
        .iter()
        .enumerate()
        .map(|(a, g)| asset_liquidity_usd(book, a, unit * g.delta, unit * g.vega))
        .sum();
    usd / unit
}

/// The short-option minimum of an account in its margin currency (module docs).
pub fn short_option_minimum(book: &Book, account: &AccountBook) -> f64 {
    let n = book.assets.len();
    let (mut calls, mut puts) = (vec![0.0; n], vec![0.0; n]);
    for e in &account.exposures {
        let row = &book.instruments[e.instrument];
        if row.spec.kind != InstrumentKind::Option || e.quantity >= 0.0 {
            continue;
        }
        let short = -e.quantity * row.spec.multiplier;
        match row.right() {
            Right::Call => calls[row.asset] += short,
            Right::Put => puts[row.asset] += short,
        }
    }
    let usd: f64 = (0..n)
        .map(|a| SHORT_OPTION_MINIMUM_RATE * book.assets[a].spot * calls[a].max(puts[a]))
        .sum();
    usd / usd_per_unit(book, account)
}
