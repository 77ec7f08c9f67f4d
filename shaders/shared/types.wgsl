// Structs shared with Rust. Each has a `#[repr(C)] bytemuck::Pod` twin of the same name in
// `src/engine/gpu/types.rs` that must be kept in sync: only 4-byte scalar fields (u32, f32),
// no vec3, sizes a multiple of 16 bytes. `tests/shaders_validate.rs` checks every layout.

#import constants

// Uniform of `draws.wgsl`.
struct DrawParams {
    key: vec2<u32>,
    step: u32,
    blocks: u32,
    stream: u32,
    count: u32,
    _pad0: u32,
    _pad1: u32,
}

// Uniform of `scenario.wgsl`.
struct ScenarioParams {
    key: vec2<u32>,
    // First path of the chunk (ignored with a path list).
    path_base: u32,
    // Paths of the chunk: the row stride of the asset-major state array.
    path_count: u32,
    assets: u32,
    steps: u32,
    // nu of the Student-t shocks, 0 for normal shocks.
    dof: u32,
    // 1: path `i` of the chunk is `path_list[i]`; 0: it is `path_base + i`.
    use_path_list: u32,
    dt: f32,
    sqrt_dt: f32,
    // Importance sampling: K components (0: plain Monte Carlo), their tables from
    // jump_thresholds[mixture_offset] (`stage/scenario.rs: mixture_tables`).
    mixture: u32,
    mixture_offset: u32,
}

// Per-asset constants of one step (CPU: `cpu::scenario::StepAsset`).
struct StepAsset {
    spot_vol: f32,
    // kappa dt.
    reversion_dt: f32,
    // eta sqrt(dt).
    vol_of_vol_sqrt_dt: f32,
    rho: f32,
    // sqrt(1 - rho^2).
    rho_complement: f32,
    // lambda k dt.
    compensator_dt: f32,
    jump_mean: f32,
    jump_std: f32,
    // 1 when lambda > 0.
    jumps: u32,
    // Poisson inverse CDF as integer thresholds on the uniform word (see `stage/scenario.rs`):
    // N = jump_always + #{i < jump_table_len : word > jump_thresholds[jump_table_offset + i]}.
    jump_always: u32,
    jump_table_offset: u32,
    jump_table_len: u32,
}

// Uniform of `revalue.wgsl`.
struct RevalueParams {
    // Scenarios of the chunk: the row stride of the state and P&L arrays.
    path_count: u32,
    // 0: Monte Carlo (tenor-scaled vol, every instrument); 1: `scenario_rules` apply.
    explicit_rules: u32,
    _pad0: u32,
    _pad1: u32,
}

// Payoff codes of `PricingRow.payoff` (PAYOFF_*), MAX_KNOTS (the length of the knot
// arrays) and BLOCK_ROWS (rows per revalue block) come from `#import constants`.

// Everything the revalue stage needs of one instrument (CPU: `cpu::revalue::RevalueRow`),
// every constant folded in f64 on the host and rounded once. With S_h = S_0 e^r:
// - delta one: pnl = linear_scale expm1(r) + linear_offset;
// - option, live: Black-76 at F_1 = forward1_0 e^r, log-moneyness k_1 = ln(K / F_1) =
//   log_moneyness0 - r, sigma_1 sqrt(tau_1) = sqrt(W(k_1)) times the vol factor;
// - option, expired (tau_1 <= 0): intrinsic value at S_h = spot0 e^r (W = 0).
// W(k) = tau_1 (v_0 s_0(k)^2 + v_1 s_1(k)^2) is the smile's total variance at tau_1, with s_0,
// s_1 the surface rows around tau_1 (linear in total variance between expiries, SPEC 3):
// v_0 = (1 - a) tau_i / tau_1, v_1 = a tau_{i+1} / tau_1. Each row is linear between knots
// and flat beyond the ends, so W is quadratic on each segment and continuous: for k clamped
// to the knots, W(k) = variance_k0 + sum_j h_j (slope_change[j] + curvature_change[j] h_j),
// h_j = max(k - knot_j, 0), the changes of W's slope and half curvature at knot j (at knot 0
// the first segment's own; zero past the last knot).
struct PricingRow {
    payoff: u32,
    asset: u32,
    // 1 when tau1 <= 0: settles at intrinsic value on the horizon spot.
    expired: u32,
    // Index of the instrument: its P&L row.
    instrument: u32,
    linear_scale: f32,
    linear_offset: f32,
    multiplier: f32,
    strike: f32,
    spot0: f32,
    // S_0 c_1, c_1 = e^(rate tau1).
    forward1_0: f32,
    // ln(K / (S_0 c_1)).
    log_moneyness0: f32,
    // e^(-rate tau1).
    discount1: f32,
    // sqrt(tau1) (folded into W; not read by the stage).
    sqrt_tau1: f32,
    // w(tau1).
    tenor_weight: f32,
    // Today's value per unit, multiplier included.
    base_value: f32,
    // Fused blocks: the holding's quantity times 2^-e, the account's fixed-point scale.
    quantity_quanta: f32,
    // W(knot 0).
    variance_k0: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // Per knot j: (knot, slope_change, curvature_change, 0); knots padded with the last,
    // the changes with 0. One vec4 per knot: one load each.
    hinges: array<vec4<f32>, MAX_KNOTS>,
}

// One dispatch of the revalue stage: up to BLOCK_ROWS instruments of one asset (rows past
// `count` are padding: zero P&L), bound at a dynamic offset.
struct RevalueBlock {
    count: u32,
    // Fused blocks: the account whose sum the rows add to.
    account: u32,
    asset: u32,
    // 1 when every row has row 0's smile and tenor weight (host side: picks the pipeline).
    shared_smile: u32,
    // The asset's smile knots (its rows' `hinges[j].x`): loaded once per block, not per row.
    knots: array<vec4<f32>, MAX_KNOTS / 4u>,
    rows: array<PricingRow, BLOCK_ROWS>,
}

// Uniform of `aggregate.wgsl`.
struct AggregateParams {
    path_count: u32,
    accounts: u32,
    // Accounts per workgroup row (dispatch y): ceil(accounts / max workgroups).
    rows_per_group: u32,
    _pad0: u32,
}

// Per-account constants of the aggregate stage.
struct AccountParams {
    holdings_offset: u32,
    holdings_len: u32,
    // 1 for a coin-margined account (SPEC section 7).
    coin_margined: u32,
    coin_asset: u32,
    // V0 / S_c,0: today's value in the coin.
    base_value_coin: f32,
    // 1 / S_c,0.
    inv_spot0: f32,
    // The quantum 2^e of the account's fixed-point P&L sum, and 2^-e (exact powers of two).
    quantum: f32,
    to_quanta: f32,
}

struct HoldingParams {
    instrument: u32,
    quantity: f32,
}

// Uniform of `tail.wgsl`.
struct TailParams {
    path_count: u32,
    // Account rows of this batch: `account_base .. account_base + accounts` of the loss array.
    account_base: u32,
    accounts: u32,
    tail_len: u32,
    // First path of the chunk: gathered entries carry `path_base + i`.
    path_base: u32,
    // Histogram workgroups per account.
    tiles: u32,
    _pad0: u32,
    _pad1: u32,
}

// Radix-select state of one account of the batch (reset by the host for every chunk).
struct TailState {
    // Threshold key found so far (64 bits: loss key, then inverted path), digits in place.
    prefix_hi: u32,
    prefix_lo: u32,
    // How many keys with this prefix still belong to the tail.
    remaining: u32,
    // The next 8-bit digit to select, 0..8.
    pass_index: u32,
    // 1 once every eligible key >= the prefix belongs to the tail.
    done: u32,
    // Only keys whose loss key is >= this are eligible: one above the loss key of the last
    // entry of the running tail of earlier chunks, which a later path cannot tie (its index
    // is higher); 0 before the running tail is full.
    min_loss_key: u32,
    // 1 when no key is eligible: nothing to gather.
    empty: u32,
    _pad0: u32,
}
