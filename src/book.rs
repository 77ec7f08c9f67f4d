//! The compiled book: validated inputs resolved once into flat tables that every stage and
//! both backends read (DESIGN "Compile").
//!
//! Compilation checks what needs several files at once: positions against the market
//! (unknown asset, expiry at or before `as_of`), the correlation block against the assets,
//! positive semi-definiteness (with optional repair), dynamics against the assets (jump
//! intensities within the simulation's cap of jumps per step), the margin currency of each
//! account, and that every position's today's value and notional are finite numbers.

mod checks;
mod identity;
mod reuse;

pub use checks::{MAX_JUMP_TRUNCATION_PROBABILITY, poisson_tail_above, time_to_expiry};
pub use reuse::WarmBook;

use identity::{InstrumentKey, simulated_assets};

use std::collections::HashMap;

use crate::config::RunConfig;
use crate::error::{Error, Result};
use crate::instrument::{InstrumentKind, InstrumentSpec, Right, Settlement};
use crate::market::correlation::{CorrelationError, correlation_root};
use crate::market::{Market, VolSurface};
use crate::portfolio::Portfolio;
use crate::pricing::black76;
use crate::time::{DAY, Timestamp};

/// The file names that errors found while compiling must name.
#[derive(Clone, Debug)]
pub struct SourceFiles {
    pub market: String,
    pub config: String,
}

impl Default for SourceFiles {
    fn default() -> Self {
        Self {
            market: "market".into(),
            config: "config".into(),
        }
    }
}

/// Dynamics of one asset, defaults resolved (SPEC §3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dynamics {
    /// σ of the spot process when the vol level Y = 1.
    pub spot_vol: f64,
    /// η, vol of the log vol level.
    pub vol_of_vol: f64,
    /// κ, mean reversion of the log vol level.
    pub vol_mean_reversion: f64,
    /// ρ between the spot shock and the vol shock.
    pub spot_vol_corr: f64,
    /// λ, jumps per year.
    pub jump_intensity: f64,
    /// μ_J, mean log jump.
    pub jump_mean: f64,
    /// s_J, standard deviation of the log jump.
    pub jump_std: f64,
}

impl Dynamics {
    /// Jump compensator k = e^{μ_J + s_J²/2} − 1, so that E\[S\] is not moved by jumps.
    pub fn jump_compensator(&self) -> f64 {
        (self.jump_mean + 0.5 * self.jump_std * self.jump_std).exp_m1()
    }
}

/// A simulated asset.
#[derive(Clone, Debug)]
pub struct AssetModel {
    pub symbol: String,
    pub spot: f64,
    pub rate: f64,
    pub surface: VolSurface,
    pub adv_usd: Option<f64>,
    pub dynamics: Dynamics,
}

/// One distinct instrument of the book.
#[derive(Clone, Debug)]
pub struct InstrumentRow {
    /// The name the first position referring to it used.
    pub label: String,
    pub spec: InstrumentSpec,
    /// Index into [`Book::assets`].
    pub asset: usize,
    /// Years from `as_of` to expiry; `f64::INFINITY` for spot and perpetuals.
    pub tau0: f64,
    /// F₀ = S₀·e^{r τ₀} for futures and options; S₀ otherwise.
    pub forward0: f64,
    /// Today's value per unit of quantity in USD (multiplier included): S₀ for spot, 0 for
    /// perpetuals and futures, Black-76 on today's surface for options.
    pub base_value: f64,
}

impl InstrumentRow {
    pub fn right(&self) -> Right {
        self.spec.right.unwrap_or(Right::Call)
    }
    pub fn strike(&self) -> f64 {
        self.spec.strike.unwrap_or(0.0)
    }

    /// Whether this is the coin an account in `currency` is margined in, held as spot: its
    /// value in that coin is its quantity on every path (SPEC §7), so its loss is exactly 0.
    /// Accounts leave it out of their exposures, base value and aggregation, rather than
    /// carrying it as q·S₁/S₁ − q·S₀/S₀, whose rounding is a loss of ~1e-16·q.
    pub fn is_margin_coin(&self, currency: Currency) -> bool {
        self.spec.kind == InstrumentKind::Spot && currency == Currency::Coin(self.asset)
    }
}

/// The currency an account is margined in (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Currency {
    Usd,
    /// Measured in a simulated asset (index into [`Book::assets`]).
    Coin(usize),
}

/// One position of an account, resolved to an instrument row.
#[derive(Clone, Debug)]
pub struct Holding {
    pub label: String,
    pub instrument: usize,
    pub quantity: f64,
}

/// An account's net quantity of one instrument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exposure {
    pub instrument: usize,
    pub quantity: f64,
}

#[derive(Clone, Debug)]
pub struct AccountBook {
    pub id: String,
    pub currency: Currency,
    /// The positions as written (reports and component ES).
    pub holdings: Vec<Holding>,
    /// Net quantity per instrument, ordered by canonical instrument name, zero nets and the
    /// margin coin itself ([`InstrumentRow::is_margin_coin`]) left out: what the
    /// aggregate stage multiplies (the SPAN risk-array idea), so a position and its exact
    /// hedge cancel exactly instead of to rounding.
    pub exposures: Vec<Exposure>,
    /// Σ net quantity · base value over `exposures`, USD.
    pub base_value_usd: f64,
}

/// Nets holdings per instrument, in instrument order, dropping zero nets. The net is an
/// error-free sum of the quantities, so offsetting positions net to exactly zero.
pub fn net_exposures(holdings: &[Holding]) -> Vec<Exposure> {
    let mut by_instrument: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for h in holdings {
        by_instrument
            .entry(h.instrument)
            .or_default()
            .push(h.quantity);
    }
    by_instrument
        .into_iter()
        .map(|(instrument, quantities)| Exposure {
            instrument,
            quantity: exact_sum(&quantities),
        })
        .filter(|e| e.quantity != 0.0)
        .collect()
}

/// The sum of `values` from Shewchuk's non-overlapping partials (the idea of Python's
/// `math.fsum`): within one ulp of the exact sum and exactly zero when the values cancel.
pub fn exact_sum(values: &[f64]) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for &v in values {
        let mut x = v;
        let mut kept = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        partials.truncate(kept);
        partials.push(x);
    }
    // Non-overlapping partials, increasing in magnitude: adding from the largest is within
    // one ulp of the exact sum, and exactly zero when the values cancel.
    partials.iter().rev().sum()
}

/// Report of a correlation repair (Higham's nearest correlation matrix).
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationRepair {
    pub frobenius_distance: f64,
    pub min_eigenvalue_before: f64,
}

/// Everything the stages need, compiled once.
#[derive(Clone, Debug)]
pub struct Book {
    pub as_of: Timestamp,
    /// h = horizon_days / 365.
    pub horizon: f64,
    pub steps: u32,
    /// ν of the Student-t shocks, 0 for normal shocks.
    pub student_t_dof: u32,
    /// Simulated assets in the order of `correlation.symbols`.
    pub assets: Vec<AssetModel>,
    /// The correlation matrix simulated (repaired if asked), row-major A×A.
    pub correlation: Vec<f64>,
    /// L with L·Lᵀ = correlation, row-major A×A.
    pub correlation_root: Vec<f64>,
    pub correlation_repair: Option<CorrelationRepair>,
    pub instruments: Vec<InstrumentRow>,
    pub accounts: Vec<AccountBook>,
    /// With `--variance-reduction is`: the density the spot normals are drawn from
    /// (`crate::model::importance`); `None` for plain Monte Carlo.
    pub importance: Option<std::sync::Arc<crate::model::importance::Importance>>,
}

impl Book {
    /// Index of a simulated asset by symbol.
    pub fn asset_index(&self, symbol: &str) -> Option<usize> {
        self.assets.iter().position(|a| a.symbol == symbol)
    }

    /// Normals per (path, step) in the draw layout of [`crate::rng`]: z, w, jump sizes, χ².
    pub fn normals_per_step(&self) -> usize {
        3 * self.assets.len() + self.student_t_dof as usize
    }

    /// Gross exposure of an account in USD: Σ |net quantity| · notional over its
    /// [exposures](AccountBook::exposures), with notional S₀·m for coin-quantity instruments
    /// and the USD notional itself for inverse perpetuals/futures. The scale that GPU/CPU
    /// tolerances are relative to, and the GPU's fixed-point quantum.
    pub fn gross_exposure(&self, account: usize) -> f64 {
        self.accounts[account]
            .exposures
            .iter()
            .map(|e| e.quantity.abs() * self.instrument_notional(e.instrument))
            .sum()
    }

    /// USD notional of one unit of an instrument.
    pub fn instrument_notional(&self, instrument: usize) -> f64 {
        let row = &self.instruments[instrument];
        match (row.spec.kind, row.spec.settlement) {
            (InstrumentKind::Perpetual | InstrumentKind::Future, Settlement::Inverse) => {
                row.spec.multiplier
            }
            _ => self.assets[row.asset].spot * row.spec.multiplier,
        }
    }

    /// Per asset, whether the book prices it: an instrument of the book is on it, or an
    /// account is margined in it.
    pub fn priced_assets(&self) -> Vec<bool> {
        let mut priced = vec![false; self.assets.len()];
        for row in &self.instruments {
            priced[row.asset] = true;
        }
        for account in &self.accounts {
            if let Currency::Coin(a) = account.currency {
                priced[a] = true;
            }
        }
        priced
    }

    /// The book of account `account` alone: only the instruments its holdings name (in the
    /// book's order, renumbered), every asset kept, so a path's states are those of the
    /// whole book and each instrument's P&L on it the same.
    pub fn account_alone(&self, account: usize) -> Book {
        let own = &self.accounts[account];
        let mut renumber = vec![usize::MAX; self.instruments.len()];
        let mut instruments = Vec::new();
        for (i, row) in self.instruments.iter().enumerate() {
            if own.holdings.iter().any(|h| h.instrument == i) {
                renumber[i] = instruments.len();
                instruments.push(row.clone());
            }
        }
        let holdings = own
            .holdings
            .iter()
            .map(|h| Holding {
                instrument: renumber[h.instrument],
                ..h.clone()
            })
            .collect();
        let exposures = own
            .exposures
            .iter()
            .map(|e| Exposure {
                instrument: renumber[e.instrument],
                ..*e
            })
            .collect();
        Book {
            as_of: self.as_of,
            horizon: self.horizon,
            steps: self.steps,
            student_t_dof: self.student_t_dof,
            assets: self.assets.clone(),
            correlation: self.correlation.clone(),
            correlation_root: self.correlation_root.clone(),
            correlation_repair: self.correlation_repair.clone(),
            instruments,
            accounts: vec![AccountBook {
                holdings,
                exposures,
                ..own.clone()
            }],
            importance: None,
        }
    }

    /// Compiles validated inputs. Errors name the file, the field and the value.
    pub fn compile(
        market: &Market,
        portfolio: &Portfolio,
        config: &RunConfig,
        files: &SourceFiles,
    ) -> Result<Book> {
        let mut book = Book::without_accounts(market, portfolio, config, files)?;
        book.push_accounts(market, portfolio, None)?;
        checks::check_finite_positions(&book, portfolio)?;
        Ok(book)
    }

    /// The parts of the book that do not depend on the positions: the simulated assets
    /// (those of `correlation.symbols`, or the one asset `portfolio` refers to), their
    /// dynamics and the correlation factor; no instrument and no account yet.
    fn without_accounts(
        market: &Market,
        portfolio: &Portfolio,
        config: &RunConfig,
        files: &SourceFiles,
    ) -> Result<Book> {
        let (symbols, matrix) = simulated_assets(market, portfolio, files)?;
        let n = symbols.len();
        let root =
            correlation_root(&matrix, n, config.repair_correlation).map_err(|e| match e {
                CorrelationError::NotPositiveSemiDefinite { min_eigenvalue } => Error::input(
                    &files.market,
                    "correlation.matrix",
                    format!("smallest eigenvalue {min_eigenvalue:.3e}"),
                    "not positive semi-definite; set \"repair_correlation\": true in the config \
                 to use the nearest correlation matrix (Higham) instead",
                ),
                other => Error::input(
                    &files.market,
                    "correlation.matrix",
                    "matrix",
                    format!("cannot repair: {other}"),
                ),
            })?;

        for symbol in config.dynamics.keys() {
            if !symbols.iter().any(|s| s == symbol) {
                return Err(Error::input(
                    &files.config,
                    format!("dynamics.{symbol}"),
                    symbol,
                    "no such simulated asset (assets are those of correlation.symbols)",
                ));
            }
        }

        let assets: Vec<AssetModel> = symbols
            .iter()
            .map(|symbol| {
                let quote = market.asset(symbol).expect("checked by simulated_assets");
                let d = config.dynamics.get(symbol).cloned().unwrap_or_default();
                AssetModel {
                    symbol: symbol.clone(),
                    spot: quote.spot,
                    rate: quote.rate,
                    surface: quote.surface.clone(),
                    adv_usd: quote.adv_usd,
                    dynamics: Dynamics {
                        spot_vol: d
                            .spot_vol
                            .unwrap_or_else(|| quote.surface.vol(30.0 * DAY, 0.0)),
                        vol_of_vol: d.vol_of_vol,
                        vol_mean_reversion: d.vol_mean_reversion,
                        spot_vol_corr: d.spot_vol_corr,
                        jump_intensity: d.jump_intensity,
                        jump_mean: d.jump_mean,
                        jump_std: d.jump_std,
                    },
                }
            })
            .collect();

        let book = Book {
            as_of: market.as_of,
            horizon: config.horizon_days / 365.0,
            steps: config.steps,
            student_t_dof: config.student_t_dof.unwrap_or(0),
            assets,
            correlation: root.matrix,
            correlation_root: root.factor,
            correlation_repair: root.repair.map(|r| CorrelationRepair {
                frobenius_distance: r.frobenius_distance,
                min_eigenvalue_before: r.min_eigenvalue_before,
            }),
            instruments: Vec::new(),
            accounts: Vec::with_capacity(portfolio.accounts.len()),
            importance: None,
        };
        checks::check_jump_intensities(&book, files)?;
        Ok(book)
    }

    /// Resolves the accounts of `portfolio` into instrument rows and accounts, in the order
    /// of the portfolio, each instrument added where a position first refers to it. A row
    /// `known` already has (compiled on the same market) is copied instead of compiled.
    fn push_accounts(
        &mut self,
        market: &Market,
        portfolio: &Portfolio,
        known: Option<&reuse::WarmBook>,
    ) -> Result<()> {
        let mut index: HashMap<InstrumentKey, usize> = HashMap::new();
        for account in &portfolio.accounts {
            let currency = if account.margin_currency == "USD" {
                Currency::Usd
            } else if let Some(a) = self.asset_index(&account.margin_currency) {
                Currency::Coin(a)
            } else {
                return Err(Error::input(
                    &account.origin.file,
                    &account.origin.field,
                    &account.margin_currency,
                    "must be USD or a simulated asset (one of correlation.symbols)",
                ));
            };
            let mut holdings = Vec::with_capacity(account.positions.len());
            for position in &account.positions {
                let instrument = self.add_instrument(
                    &mut index,
                    known,
                    market,
                    &position.label,
                    &position.instrument,
                    &position.origin,
                )?;
                holdings.push(Holding {
                    label: position.label.clone(),
                    instrument,
                    quantity: position.quantity,
                });
            }
            let mut exposures = net_exposures(&holdings);
            exposures.retain(|e| !self.instruments[e.instrument].is_margin_coin(currency));
            // Sum in an order that does not depend on where instruments sit in the table,
            // so an account's losses are bit-identical whatever the other accounts hold
            // (what-if against a full run).
            exposures.sort_by_cached_key(|e| {
                (
                    self.instruments[e.instrument].spec.canonical_name(),
                    e.instrument,
                )
            });
            let base_value_usd = exposures
                .iter()
                .map(|e| e.quantity * self.instruments[e.instrument].base_value)
                .sum();
            self.accounts.push(AccountBook {
                id: account.id.clone(),
                currency,
                holdings,
                exposures,
                base_value_usd,
            });
        }
        Ok(())
    }

    /// Resolves an instrument to its row, adding it if new.
    fn add_instrument(
        &mut self,
        index: &mut HashMap<InstrumentKey, usize>,
        known: Option<&reuse::WarmBook>,
        market: &Market,
        label: &str,
        spec: &InstrumentSpec,
        origin: &crate::portfolio::Origin,
    ) -> Result<usize> {
        let asset = match self.asset_index(&spec.underlying) {
            Some(a) => a,
            None => {
                let why = if market.asset(&spec.underlying).is_some() {
                    "asset is in the market but not in correlation.symbols, so it is not simulated"
                } else {
                    "unknown asset: not in the market snapshot"
                };
                return Err(Error::input(
                    &origin.file,
                    &origin.field,
                    label,
                    format!("{why} ({})", spec.underlying),
                ));
            }
        };
        let key = InstrumentKey::of(spec);
        if let Some(&i) = index.get(&key) {
            return Ok(i);
        }
        if let Some(row) = known.and_then(|k| k.row(&key)) {
            // The same key on the same market compiles to the same row, but for the label:
            // that of the first position of this book.
            let i = self.instruments.len();
            self.instruments.push(InstrumentRow {
                label: label.to_string(),
                ..row.clone()
            });
            index.insert(key, i);
            return Ok(i);
        }
        let row = self.instrument_row(asset, label, spec, origin)?;
        let i = self.instruments.len();
        self.instruments.push(row);
        index.insert(key, i);
        Ok(i)
    }

    /// The row of a new instrument on simulated asset `asset`: τ₀ (expired is an error
    /// naming the position), F₀ and today's value per unit.
    fn instrument_row(
        &self,
        asset: usize,
        label: &str,
        spec: &InstrumentSpec,
        origin: &crate::portfolio::Origin,
    ) -> Result<InstrumentRow> {
        let quote = &self.assets[asset];
        let tau0 = time_to_expiry(self.as_of, spec.expiry, label, origin)?;
        let forward0 = if tau0.is_finite() {
            quote.spot * (quote.rate * tau0).exp()
        } else {
            quote.spot
        };
        let base_value = spec.multiplier
            * match spec.kind {
                InstrumentKind::Spot => quote.spot,
                InstrumentKind::Perpetual | InstrumentKind::Future => 0.0,
                InstrumentKind::Option => {
                    let strike = spec.strike.unwrap_or(0.0);
                    let vol = quote.surface.vol(tau0, (strike / forward0).ln());
                    black76(
                        spec.right.unwrap_or(Right::Call),
                        forward0,
                        strike,
                        vol,
                        tau0,
                        quote.rate,
                    )
                }
            };
        Ok(InstrumentRow {
            label: label.to_string(),
            spec: spec.clone(),
            asset,
            tau0,
            forward0,
            base_value,
        })
    }
}
