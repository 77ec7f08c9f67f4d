//! Host twins of the structs in `shaders/shared/types.wgsl`, and their construction from a
//! [`Book`]. Every struct is `#[repr(C)]`, `Pod`, made of 4-byte scalars only, and must be
//! kept in sync with the WGSL struct of the same name (field for field, same order):
//! `tests/shaders_validate.rs` compares every field's offset and every size with naga's
//! layout of the WGSL struct.

use bytemuck::{Pod, Zeroable};

use super::constants::{BLOCK_ROWS, MAX_KNOTS, PAYOFF_CALL, PAYOFF_DELTA_ONE, PAYOFF_PUT};
use crate::book::{Book, Currency};
use crate::instrument::Right;
use crate::market::VolSurface;
use crate::model::revalue::{Payoff, RevalueRow};

/// Must be kept in sync with `shaders/shared/types.wgsl: struct DrawParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct DrawParams {
    pub key: [u32; 2],
    pub step: u32,
    pub blocks: u32,
    pub stream: u32,
    pub count: u32,
    pub _pad: [u32; 2],
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct ScenarioParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct ScenarioParams {
    pub key: [u32; 2],
    pub path_base: u32,
    pub path_count: u32,
    pub assets: u32,
    pub steps: u32,
    pub dof: u32,
    pub use_path_list: u32,
    pub dt: f32,
    pub sqrt_dt: f32,
    /// K, the importance-sampling components (0: plain Monte Carlo).
    pub mixture: u32,
    /// Where the mixture's tables start in the jump threshold array.
    pub mixture_offset: u32,
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct StepAsset`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct StepAsset {
    pub spot_vol: f32,
    pub reversion_dt: f32,
    pub vol_of_vol_sqrt_dt: f32,
    pub rho: f32,
    pub rho_complement: f32,
    pub compensator_dt: f32,
    pub jump_mean: f32,
    pub jump_std: f32,
    pub jumps: u32,
    pub jump_always: u32,
    pub jump_table_offset: u32,
    pub jump_table_len: u32,
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct RevalueParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RevalueParams {
    pub path_count: u32,
    pub explicit_rules: u32,
    pub _pad: [u32; 2],
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct PricingRow` (the formulas are
/// documented there).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct PricingRow {
    pub payoff: u32,
    pub asset: u32,
    pub expired: u32,
    pub instrument: u32,
    pub linear_scale: f32,
    pub linear_offset: f32,
    pub multiplier: f32,
    pub strike: f32,
    pub spot0: f32,
    pub forward1_0: f32,
    pub log_moneyness0: f32,
    pub discount1: f32,
    pub sqrt_tau1: f32,
    pub tenor_weight: f32,
    pub base_value: f32,
    pub quantity_quanta: f32,
    pub variance_k0: f32,
    pub _pad: [u32; 3],
    /// Per knot: (knot, slope change, half-curvature change, 0).
    pub hinges: [[f32; 4]; MAX_KNOTS],
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct RevalueBlock`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct RevalueBlock {
    pub count: u32,
    pub account: u32,
    pub asset: u32,
    /// 1 when every row of the block has row 0's smile and tenor weight: the block is
    /// dispatched with the pipeline that reads them once (`SHARED_SMILE`).
    pub shared_smile: u32,
    pub knots: [f32; MAX_KNOTS],
    pub rows: [PricingRow; BLOCK_ROWS],
}

/// The most knots of the book's surfaces (at least 1): the revalue pipeline's `KNOTS`.
pub fn book_knots(book: &Book) -> usize {
    book.assets
        .iter()
        .map(|a| match &a.surface {
            VolSurface::Flat(_) => 1,
            VolSurface::Grid(g) => g.log_moneyness.len(),
        })
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The smile's total variance W(k) = τ₁ Σᵣ vᵣ sᵣ(k)² (rows `vols` with weights `weights`,
/// each linear between `knots`) in hinge form, in f64 and rounded once: W(k₀) and, per knot
/// j, the change of W's slope and of its half curvature there (at knot 0 the first
/// segment's own), so that W(k) = W(k₀) + Σⱼ hⱼ (βⱼ + γⱼ hⱼ) with hⱼ = max(k − kⱼ, 0) for
/// k ≤ the last knot (see `PricingRow`).
fn variance_hinges(
    knots: &[f64],
    rows: [(&[f64], f64); 2],
    tau: f64,
) -> (f32, [f32; MAX_KNOTS], [f32; MAX_KNOTS]) {
    let nk = knots.len();
    let slope = |vols: &[f64], j: usize| -> f64 {
        if j + 1 < nk {
            (vols[j + 1] - vols[j]) / (knots[j + 1] - knots[j])
        } else {
            0.0
        }
    };
    let mut beta = [0.0f32; MAX_KNOTS];
    let mut gamma = [0.0f32; MAX_KNOTS];
    let w0: f64 = rows.iter().map(|(v, w)| w * v[0] * v[0]).sum::<f64>() * tau;
    for j in 0..nk.saturating_sub(1) {
        let mut b = 0.0;
        let mut g = 0.0;
        for (vols, weight) in rows {
            let (now, before) = (
                slope(vols, j),
                if j == 0 { 0.0 } else { slope(vols, j - 1) },
            );
            b += 2.0 * weight * vols[j] * (now - before);
            g += weight * (now * now - before * before);
        }
        beta[j] = (b * tau) as f32;
        gamma[j] = (g * tau) as f32;
    }
    (w0 as f32, beta, gamma)
}

/// The pricing row of instrument `index`: every constant computed in f64 from the CPU's
/// [`RevalueRow`] and rounded once. `quantity_quanta` is left 0 (set per holding).
pub fn pricing_row(book: &Book, index: usize) -> PricingRow {
    let r = RevalueRow::new(book, &book.instruments[index]);
    let m = r.multiplier;
    let (payoff, scale, offset) = match r.payoff {
        Payoff::Linear => (PAYOFF_DELTA_ONE, m * r.spot0, 0.0),
        Payoff::InversePerpetual => (PAYOFF_DELTA_ONE, m, 0.0),
        Payoff::LinearFuture => {
            let s0c1 = r.spot0 * r.carry1;
            (PAYOFF_DELTA_ONE, m * s0c1, m * (s0c1 - r.forward0))
        }
        Payoff::InverseFuture => {
            let ratio = r.spot0 / r.forward0;
            (PAYOFF_DELTA_ONE, m * ratio, m * (ratio - 1.0 / r.carry1))
        }
        Payoff::Option(Right::Call) => (PAYOFF_CALL, 0.0, 0.0),
        Payoff::Option(Right::Put) => (PAYOFF_PUT, 0.0, 0.0),
    };
    let live = r.tau1 > 0.0 && r.tau1.is_finite();
    let forward1_0 = r.spot0 * r.carry1;
    let log_moneyness0 = if payoff != PAYOFF_DELTA_ONE && r.strike > 0.0 && forward1_0 > 0.0 {
        (r.strike / forward1_0).ln()
    } else {
        0.0
    };
    // The smile is stored as total variance at τ₁ (zero when expired: sd = 0).
    let tau_live = if live { r.tau1 } else { 0.0 };
    let mut row = PricingRow {
        payoff,
        asset: r.asset as u32,
        expired: u32::from(!live),
        instrument: index as u32,
        linear_scale: scale as f32,
        linear_offset: offset as f32,
        multiplier: m as f32,
        strike: r.strike as f32,
        spot0: r.spot0 as f32,
        forward1_0: forward1_0 as f32,
        log_moneyness0: log_moneyness0 as f32,
        discount1: if live {
            (-r.rate * r.tau1).exp() as f32
        } else {
            1.0
        },
        sqrt_tau1: if live { r.tau1.sqrt() as f32 } else { 0.0 },
        tenor_weight: r.tenor_weight as f32,
        base_value: r.base_value as f32,
        ..Default::default()
    };
    match &book.assets[r.asset].surface {
        VolSurface::Flat(v) => {
            row.variance_k0 = (v * v * tau_live) as f32;
        }
        VolSurface::Grid(g) => {
            let ks = &g.log_moneyness;
            let nk = ks.len();

            let vols = |i: usize| &g.vols[i * nk..(i + 1) * nk];
            // The rows around τ₁ and their weights in total variance (`GridSurface::vol`).
            let (taus, tau) = (&g.taus, r.tau1);
            let (i0, i1, a) = if live { g.bracket(tau) } else { (0, 0, 0.0) };
            let (v0, v1) = if i0 == i1 {
                (1.0, 0.0)
            } else {
                ((1.0 - a) * taus[i0] / tau, a * taus[i1] / tau)
            };
            let (w0, beta, gamma) = variance_hinges(ks, [(vols(i0), v0), (vols(i1), v1)], tau_live);
            row.variance_k0 = w0;
            for (j, hinge) in row.hinges.iter_mut().enumerate() {
                *hinge = [ks[j.min(nk - 1)] as f32, beta[j], gamma[j], 0.0];
            }
        }
    }
    row
}

/// Revalue blocks of up to [`BLOCK_ROWS`] rows, each on one asset: `rows` grouped by asset
/// (stable within an asset), the last block of each asset padded with zero rows (a delta-one
/// row of scale 0 and quantity 0: P&L and term exactly 0).
pub fn blocks(account: u32, mut rows: Vec<PricingRow>) -> Vec<RevalueBlock> {
    // By asset, then by tenor: neighbouring rows share their vol-factor exponent.
    rows.sort_by(|a, b| {
        a.asset
            .cmp(&b.asset)
            .then(a.tenor_weight.total_cmp(&b.tenor_weight))
    });
    let mut out = Vec::new();
    for asset_rows in rows.chunk_by(|a, b| a.asset == b.asset) {
        for part in asset_rows.chunks(BLOCK_ROWS) {
            let mut block = RevalueBlock {
                count: part.len() as u32,
                account,
                asset: part[0].asset,
                ..Default::default()
            };
            block.rows[..part.len()].copy_from_slice(part);
            let first = &part[0];
            block.shared_smile = u32::from(part.iter().all(|r| {
                r.variance_k0 == first.variance_k0
                    && r.tenor_weight == first.tenor_weight
                    && r.hinges == first.hinges
            }));
            // The asset's smile knots, shared by its rows (one load per block, not per row).
            for (knot, hinge) in block.knots.iter_mut().zip(&part[0].hinges) {
                *knot = hinge[0];
            }
            out.push(block);
        }
    }
    out
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct AggregateParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AggregateParams {
    pub path_count: u32,
    pub accounts: u32,
    pub rows_per_group: u32,
    pub _pad: u32,
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct AccountParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct AccountParams {
    pub holdings_offset: u32,
    pub holdings_len: u32,
    pub coin_margined: u32,
    pub coin_asset: u32,
    pub base_value_coin: f32,
    pub inv_spot0: f32,
    pub quantum: f32,
    pub to_quanta: f32,
}

/// Bits of the aggregate stage's fixed-point quantum below the account's gross exposure, and
/// of headroom above it (62 = 42 + 20: the 64-bit accumulator keeps its sign bit and one spare).
const SUM_QUANTUM_BITS: i32 = 42;

/// The exponent e of the quantum 2ᵉ ≈ 2⁻⁴² × gross exposure of an account's fixed-point sum
/// (`aggregate.wgsl`): terms up to 2²⁰ × gross sum without overflow.
pub fn sum_exponent(gross_exposure_usd: f64) -> i32 {
    let gross = if gross_exposure_usd.is_finite() && gross_exposure_usd > 0.0 {
        gross_exposure_usd
    } else {
        1.0
    };
    (gross.log2().ceil() as i32 - SUM_QUANTUM_BITS).clamp(-100, 100)
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct HoldingParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct HoldingParams {
    pub instrument: u32,
    pub quantity: f32,
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct TailParams`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct TailParams {
    pub path_count: u32,
    pub account_base: u32,
    pub accounts: u32,
    pub tail_len: u32,
    pub path_base: u32,
    pub tiles: u32,
    pub _pad: [u32; 2],
}

/// Must be kept in sync with `shaders/shared/types.wgsl: struct TailState`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
pub struct TailState {
    pub prefix_hi: u32,
    pub prefix_lo: u32,
    pub remaining: u32,
    pub pass_index: u32,
    pub done: u32,
    pub min_loss_key: u32,
    pub empty: u32,
    pub _pad: u32,
}

/// The order-preserving u32 key of an f32 loss (`loss_key` in `tail.wgsl`): larger loss,
/// larger key, in the order of `f32::total_cmp` (so of `f64::total_cmp` on the widened loss).
pub fn loss_key(loss: f32) -> u32 {
    let b = loss.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// Account rows and the holdings (CSR) they point into: each account's net exposures.
pub fn accounts(book: &Book) -> (Vec<AccountParams>, Vec<HoldingParams>) {
    let mut holdings = Vec::new();
    let rows = book
        .accounts
        .iter()
        .enumerate()
        .map(|(k, acct)| {
            let offset = holdings.len() as u32;
            // The net exposures, as the CPU sums: a book written netted or split gives the
            // same losses bit for bit (and the margin coin, riskless, is not among them).
            holdings.extend(acct.exposures.iter().map(|e| HoldingParams {
                instrument: e.instrument as u32,
                quantity: e.quantity as f32,
            }));
            let len = holdings.len() as u32 - offset;
            let (coin_margined, coin_asset, base_value_coin, inv_spot0) = match acct.currency {
                Currency::Usd => (0, 0, 0.0, 0.0),
                Currency::Coin(c) => {
                    let spot0 = book.assets[c].spot;
                    (1, c as u32, acct.base_value_usd / spot0, 1.0 / spot0)
                }
            };
            let e = sum_exponent(book.gross_exposure(k));
            AccountParams {
                holdings_offset: offset,
                holdings_len: len,
                coin_margined,
                coin_asset,
                base_value_coin: base_value_coin as f32,
                inv_spot0: inv_spot0 as f32,
                quantum: (2.0f64).powi(e) as f32,
                to_quanta: (2.0f64).powi(-e) as f32,
            }
        })
        .collect();
    if holdings.is_empty() {
        holdings.push(HoldingParams::default());
    }
    (rows, holdings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_keys_order_like_total_cmp() {
        let xs = [
            f32::NEG_INFINITY,
            -1e30,
            -1.5,
            -f32::MIN_POSITIVE,
            -0.0,
            0.0,
            f32::MIN_POSITIVE,
            1.0,
            1.0000001,
            3e38,
            f32::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(loss_key(w[0]) < loss_key(w[1]), "{} {}", w[0], w[1]);
        }
    }
}
