//! The reference mathematics of the pipeline, written once: what a scenario is, how an
//! instrument is revalued in it, how holdings aggregate to an account's loss, and how an
//! account's tail is kept. Both backends and everything above them (stress, Greeks,
//! component ES, what-if) use this layer; the CPU backend ([`crate::engine::cpu`]) runs it
//! in f64 over blocks of paths, the GPU host side ([`crate::engine::gpu`]) folds its
//! constants for the WGSL twins of each stage and merges device tails with [`tail`].
//!
//! - [`scenario`]: Philox draws → the state of every asset at the horizon (SPEC §3);
//! - [`revalue`]: the P&L per unit of every instrument in a scenario;
//! - [`aggregate`]: holdings × P&L → the loss of an account (USD or coin-margined);
//! - [`tail`]: the largest losses of an account under the total order of SPEC §4;
//! - [`distribution`]: the histogram of every loss of an account, counted in the tail pass.

pub mod aggregate;
pub mod distribution;
pub mod historical;
pub mod importance;
pub mod revalue;
pub mod scenario;
pub mod tail;

/// The state of one asset in one scenario at the horizon.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AssetState {
    /// ln(S_h / S₀).
    pub log_return: f64,
    /// ln of the vol factor: ln Y_h for Monte Carlo and grid scenarios (tenor-scaled),
    /// ln(1 + vol) for named scenarios (applied uniformly), see [`VolRule`].
    pub log_vol: f64,
}

/// How a scenario's vol factor reaches the surface at remaining time τ₁.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolRule {
    /// σ₁ = σ_surface(τ₁, k₁) · Y^{w(τ₁)}: Monte Carlo and grid stress (SPEC §3, §5).
    TenorScaled,
    /// σ₁ = σ_surface(τ₁, k₁) · (1 + vol): named scenarios (SPEC §5).
    Uniform,
}

/// An explicit scenario (stress): a state per simulated asset.
#[derive(Clone, Debug, PartialEq)]
pub struct StressScenario {
    /// One per simulated asset, in the book's asset order.
    pub states: Vec<AssetState>,
    pub vol_rule: VolRule,
    /// Grid stress: only positions on this asset are revalued; every other instrument keeps
    /// today's value (P&L 0, no time decay). `None`: every instrument is revalued.
    pub only_asset: Option<usize>,
}

/// One loss of an account's tail.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TailEntry {
    pub loss: f64,
    pub path: u32,
}

impl TailEntry {
    /// The order of SPEC §4: larger loss first, then the lower path index. Total on finite
    /// losses, so the tail of a union is the tail of the tails, whatever the chunking.
    #[inline]
    pub fn worse_first(a: &TailEntry, b: &TailEntry) -> std::cmp::Ordering {
        b.loss.total_cmp(&a.loss).then(a.path.cmp(&b.path))
    }
}

/// The largest losses of one account, sorted by [`TailEntry::worse_first`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountTail {
    pub worst: Vec<TailEntry>,
}

/// States and instrument P&L of regenerated paths.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PathRevaluation {
    /// paths × assets, row-major.
    pub states: Vec<AssetState>,
    /// paths × instruments, row-major: P&L per unit of quantity, USD.
    pub pnl: Vec<f64>,
}
