//! Generated books for benchmarks (`tailrisk bench`, `benches/stages.rs`) and large-book tests:
//! a configurable number of options on a configurable number of assets, deterministic in a
//! seed, with the shape of a real crypto options book.
//!
//! Assets take the first symbols of BTC, ETH, SOL, XRP, DOGE, AVAX, LINK, DOT (then `A8`,
//! `A9`, …) with realistic spots; every asset has a 6-expiry × 9-knot smile surface
//! (7 days to 7 months, log-moneyness ±0.6, skewed and convex, term structure falling with
//! tenor), pairwise correlation 0.7, and the dynamics of the SPEC §2 example (vol of vol
//! 1.2, mean reversion 4, spot–vol correlation −0.2, 6 jumps a year of mean −4% and s.d.
//! 8%). Horizon 1 day, 1 step, normal shocks.
//!
//! Option `i` is on asset `i mod A`, expiry `(i div A) mod 6`, call or put alternately, with
//! log-moneyness spread over ±0.25·√(days/7) (at most ±0.9) by a golden-ratio sequence and the
//! strike rounded to the venue's grid (moved to the nearest free grid strike, up first, when an
//! earlier option of the same asset, expiry and right has it, so that the options are
//! distinct instruments); 576 options on 3 assets are 3 × 6 expiries × 32 strikes and rights. Accounts hold signed quantities of about $100k notional each; one
//! account holds every option, several accounts each hold a pseudo-random subset
//! (at least 8 options, twice their fair share), and every fourth account is margined in
//! the first asset's coin.
//!
//! The generator writes a market, a portfolio and a run configuration
//! ([`generated_inputs`]), and [`generated_book`] compiles them with [`Book::compile`] like
//! any user's book (canonical exposure order, today's values, validation).

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::book::{Book, SourceFiles};
use crate::config::{DynamicsInput, RunConfig};
use crate::instrument::{InstrumentKind, InstrumentSpec, Right, Settlement};
use crate::market::surface::GridSurface;
use crate::market::{AssetQuote, CorrelationInput, Market, VolSurface};
use crate::portfolio::{Account, Origin, Portfolio, Position};
use crate::time::{DAY, Timestamp, year_fraction};

/// `as_of` of generated books: 2026-11-20T08:00:00Z.
pub const AS_OF: Timestamp = 1_795_161_600_000;

/// Expiries of every surface and option, in days after `as_of`.
pub const EXPIRY_DAYS: [i64; 6] = [7, 14, 35, 70, 126, 217];

/// Log-moneyness knots of every surface.
pub const KNOTS: [f64; 9] = [-0.6, -0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4, 0.6];

/// (symbol, spot, 30-day at-the-money vol) of the first assets.
const ASSETS: [(&str, f64, f64); 8] = [
    ("BTC", 91_250.0, 0.55),
    ("ETH", 3_050.0, 0.68),
    ("SOL", 140.0, 0.85),
    ("XRP", 2.1, 0.9),
    ("DOGE", 0.16, 1.0),
    ("AVAX", 14.0, 0.95),
    ("LINK", 13.5, 0.9),
    ("DOT", 2.6, 0.95),
];

/// The file names generated inputs are compiled under (errors would name them).
pub const GENERATED_MARKET: &str = "<generated market>";
pub const GENERATED_PORTFOLIO: &str = "<generated portfolio>";
pub const GENERATED_CONFIG: &str = "<generated configuration>";

/// The implied vol of a generated surface at `days` to expiry and log-moneyness k.
pub fn smile_vol(atm_30d: f64, days: f64, k: f64) -> f64 {
    let tenor = (days / 30.0).sqrt();
    let atm = atm_30d * (1.0 - 0.04 * (days / 30.0).ln());
    atm - 0.12 / tenor * k + 0.45 / tenor * k * k
}

/// Strike grid step of a spot: 5·10^(⌊log₁₀ S⌋ − 2) (500 for BTC, 50 for ETH, 5 for SOL).
pub fn strike_step(spot: f64) -> f64 {
    5.0 * 10f64.powi(spot.log10().floor() as i32 - 2)
}

/// The inputs of a generated book, as a user would give them.
#[derive(Clone, Debug)]
pub struct GeneratedInputs {
    pub market: Market,
    pub portfolio: Portfolio,
    /// Horizon 1 day in 1 step, normal shocks, the dynamics of the module docs.
    pub config: RunConfig,
}

/// A deterministic book of `options` options on `assets` assets held by `accounts` accounts
/// (see the module docs), compiled by [`Book::compile`]. `assets` and `accounts` are at
/// least 1.
pub fn generated_book(options: usize, assets: usize, accounts: usize, seed: u64) -> Book {
    let inputs = generated_inputs(options, assets, accounts, seed);
    let files = SourceFiles {
        market: GENERATED_MARKET.into(),
        config: GENERATED_CONFIG.into(),
    };
    Book::compile(&inputs.market, &inputs.portfolio, &inputs.config, &files)
        .unwrap_or_else(|e| panic!("a generated book compiles: {e}"))
}

/// The market, portfolio and configuration of [`generated_book`].
pub fn generated_inputs(
    options: usize,
    assets: usize,
    accounts: usize,
    seed: u64,
) -> GeneratedInputs {
    let (n_assets, n_accounts) = (assets.max(1), accounts.max(1));
    let quotes: Vec<AssetQuote> = (0..n_assets).map(asset_quote).collect();
    let mut matrix = vec![0.7; n_assets * n_assets];
    (0..n_assets).for_each(|i| matrix[i * n_assets + i] = 1.0);
    let mut taken = HashSet::new();
    let instruments: Vec<(String, InstrumentSpec)> = (0..options)
        .map(|i| option(&quotes, i, &mut taken))
        .collect();
    let config = RunConfig {
        horizon_days: 1.0,
        steps: 1,
        student_t_dof: None,
        dynamics: quotes
            .iter()
            .map(|q| (q.symbol.clone(), dynamics()))
            .collect::<BTreeMap<_, _>>(),
        ..RunConfig::default()
    };
    let market = Market {
        as_of: AS_OF,
        correlation: Some(CorrelationInput {
            symbols: quotes.iter().map(|q| q.symbol.clone()).collect(),
            matrix,
        }),
        assets: quotes,
    };
    let portfolio = Portfolio {
        accounts: generated_accounts(&market.assets, &instruments, n_accounts, seed),
    };
    GeneratedInputs {
        market,
        portfolio,
        config,
    }
}

/// The accounts of a generated book: signed quantities of about $100k notional, each
/// account's options in option order.
fn generated_accounts(
    quotes: &[AssetQuote],
    instruments: &[(String, InstrumentSpec)],
    n_accounts: usize,
    seed: u64,
) -> Vec<Account> {
    let options = instruments.len();
    // rand's StdRng at a pinned version: deterministic in the seed.
    let mut rng = StdRng::seed_from_u64(seed);
    let per_account = if n_accounts == 1 {
        options
    } else {
        (2 * options.div_ceil(n_accounts)).max(8).min(options)
    };
    (0..n_accounts)
        .map(|j| {
            let start = rng.random_range(0..options.max(1));
            // A stride coprime with `options` visits distinct options.
            let mut stride = 1 + rng.random_range(0..options.max(1));
            while gcd(stride, options.max(1)) != 1 {
                stride += 1;
            }
            let mut held: Vec<(usize, f64)> = (0..per_account)
                .map(|h| {
                    let option = (start + h * stride) % options;
                    let spot = quotes[option % quotes.len()].spot;
                    let size = 0.1 + 4.9 * rng.random::<f64>();
                    let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    let quantity = (sign * size * 100_000.0 / spot * 10.0).round() / 10.0;
                    (
                        option,
                        if quantity == 0.0 {
                            sign * 0.1
                        } else {
                            quantity
                        },
                    )
                })
                .collect();
            held.sort_by_key(|&(option, _)| option);
            Account {
                id: format!("acct-{j}"),
                margin_currency: if j % 4 == 3 {
                    quotes[0].symbol.clone()
                } else {
                    "USD".into()
                },
                positions: held
                    .into_iter()
                    .map(|(option, quantity)| Position {
                        label: instruments[option].0.clone(),
                        instrument: instruments[option].1.clone(),
                        quantity,
                        origin: Origin {
                            file: GENERATED_PORTFOLIO.into(),
                            field: format!("accounts[{j}].options[{option}]"),
                        },
                    })
                    .collect(),
                origin: Origin {
                    file: GENERATED_PORTFOLIO.into(),
                    field: format!("accounts[{j}].margin_currency"),
                },
            }
        })
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The dynamics of every generated asset (`spot_vol` from the surface).
fn dynamics() -> DynamicsInput {
    DynamicsInput {
        spot_vol: None,
        vol_of_vol: 1.2,
        vol_mean_reversion: 4.0,
        spot_vol_corr: -0.2,
        jump_intensity: 6.0,
        jump_mean: -0.04,
        jump_std: 0.08,
    }
}

fn asset_quote(i: usize) -> AssetQuote {
    let (symbol, spot, atm) = match ASSETS.get(i) {
        Some(&(s, spot, atm)) => (s.to_string(), spot, atm),
        None => (format!("A{i}"), 10.0 * (i + 1) as f64, 0.9),
    };
    let taus: Vec<f64> = EXPIRY_DAYS.iter().map(|&d| d as f64 * DAY).collect();
    let vols = EXPIRY_DAYS
        .iter()
        .flat_map(|&d| KNOTS.iter().map(move |&k| smile_vol(atm, d as f64, k)))
        .collect();
    AssetQuote {
        symbol,
        spot,
        rate: if i % 2 == 1 { 0.02 } else { 0.0 },
        surface: VolSurface::Grid(GridSurface {
            taus,
            log_moneyness: KNOTS.to_vec(),
            vols,
        }),
        adv_usd: Some(spot * 2.5e5),
    }
}

/// Option `i` of a generated book, its name and its spec (see the module docs). `taken`
/// holds the (asset, expiry, right, strike) of the earlier options.
fn option(
    quotes: &[AssetQuote],
    i: usize,
    taken: &mut HashSet<(usize, i64, bool, u64)>,
) -> (String, InstrumentSpec) {
    let n_assets = quotes.len();
    let asset = i % n_assets;
    let days = EXPIRY_DAYS[(i / n_assets) % EXPIRY_DAYS.len()];
    let slot = i / (n_assets * EXPIRY_DAYS.len());
    let right = if slot.is_multiple_of(2) {
        Right::Call
    } else {
        Right::Put
    };
    let a = &quotes[asset];
    let expiry = AS_OF + days * 86_400_000;
    let forward0 = a.spot * (a.rate * year_fraction(AS_OF, expiry)).exp();
    let range = (0.25 * (days as f64 / 7.0).sqrt()).min(0.9);
    let spread = ((slot / 2) as f64 * 0.618_033_988_749_895).fract();
    let k = -range + 2.0 * range * spread;
    let step = strike_step(a.spot);
    let grid = (forward0 * k.exp() / step).round().max(1.0);
    let strike = free_strike(grid, step, |strike| {
        taken.insert((asset, days, right == Right::Call, strike.to_bits()))
    });
    let settlement = if asset < 2 {
        Settlement::Inverse
    } else {
        Settlement::Linear
    };
    let spec = InstrumentSpec {
        kind: InstrumentKind::Option,
        underlying: a.symbol.clone(),
        right: Some(right),
        strike: Some(strike),
        expiry: Some(expiry),
        settlement,
        multiplier: 1.0,
    };
    (
        option_label(&a.symbol, settlement, expiry, strike, right),
        spec,
    )
}

/// The grid strike nearest `grid`·`step` (trying n, n+1, n−1, n+2, …, positive ones only)
/// that `claim` accepts.
fn free_strike(grid: f64, step: f64, mut claim: impl FnMut(f64) -> bool) -> f64 {
    for offset in 0u32.. {
        let up = offset.div_ceil(2);
        let n = if offset % 2 == 1 {
            grid + f64::from(up)
        } else {
            grid - f64::from(up)
        };
        if n >= 1.0 && claim(n * step) {
            return n * step;
        }
    }
    unreachable!("a free strike exists above every finite set of taken ones")
}

/// Deribit's name of an option: `BTC-27NOV26-95000-C`, `SOL_USDC-…` when linear, a decimal
/// strike written with `d`.
fn option_label(
    symbol: &str,
    settlement: Settlement,
    expiry: Timestamp,
    strike: f64,
    right: Right,
) -> String {
    let date = chrono::DateTime::from_timestamp_millis(expiry)
        .map(|d| d.format("%-d%b%y").to_string().to_uppercase())
        .unwrap_or_default();
    let prefix = match settlement {
        Settlement::Inverse => symbol.to_string(),
        Settlement::Linear => format!("{symbol}_USDC"),
    };
    let strike = format!("{strike}").replace('.', "d");
    let right = match right {
        Right::Call => 'C',
        Right::Put => 'P',
    };
    format!("{prefix}-{date}-{strike}-{right}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Currency;

    #[test]
    fn the_bench_book_has_the_advertised_shape() {
        let book = generated_book(576, 3, 1, 7);
        assert_eq!(
            book.instruments.len(),
            576,
            "the options are distinct instruments"
        );
        assert_eq!(book.assets.len(), 3);
        assert_eq!(book.accounts[0].exposures.len(), 576);
        assert_eq!(crate::time::format_rfc3339(AS_OF), "2026-11-20T08:00:00Z");
        assert_eq!(book.instruments[0].label, "BTC-27NOV26-71000-C");
        assert!(book.instruments.iter().all(|r| r.base_value > 0.0));
        let again = generated_book(576, 3, 1, 7);
        assert_eq!(
            book.accounts[0].base_value_usd.to_bits(),
            again.accounts[0].base_value_usd.to_bits()
        );
    }

    #[test]
    fn many_accounts_hold_distinct_subsets() {
        let book = generated_book(200, 4, 50, 1);
        for account in &book.accounts {
            assert_eq!(account.holdings.len(), 8);
            assert_eq!(account.exposures.len(), 8);
        }
        assert_eq!(book.accounts[3].currency, Currency::Coin(0));
    }

    /// Compiled like any book: each account's exposures in canonical instrument order (the
    /// order the aggregate stage sums in), whatever the order of the instrument table.
    #[test]
    fn exposures_are_in_canonical_order() {
        for book in [generated_book(576, 3, 1, 7), generated_book(200, 4, 50, 1)] {
            for account in &book.accounts {
                let names: Vec<String> = account
                    .exposures
                    .iter()
                    .map(|e| book.instruments[e.instrument].spec.canonical_name())
                    .collect();
                assert!(names.is_sorted(), "{}: {names:?}", account.id);
            }
        }
    }
}
