// Aggregate stage (CPU twin: `src/engine/cpu/aggregate.rs`): holdings x instrument P&L -> the
// loss of every account on every scenario of the chunk (loss = -(value at horizon - value now)).
// A "holding" here is one of the account's net exposures per instrument (`AccountBook::
// exposures`), as the CPU sums, so a book written netted or split gives the same bits.
//
// USD account: L = -sum_h q_h pnl_h, summed exactly in fixed point (`shared/fixed.wgsl`).
// Coin-margined account in asset c (SPEC 7), with P = sum q pnl and V0 its USD value today:
// L = -P / S_c,1 - (V0 / S_c,0) expm1(-r_c) = -P e^(-r_c) / S_c,0 - (V0 / S_c,0) expm1(-r_c).
//
// Two entry points:
// - `aggregate` (factored books: many accounts sharing instruments): one invocation per
//   scenario of a tile (dispatch x) and group of accounts (dispatch y), summing the account's
//   holdings over the P&L rows of the revalue stage;
// - `finish` (fused books): the sums were accumulated by `revalue_accumulate` in
//   `revalue.wgsl`; one invocation per (account, scenario) turns them into losses.
// Both write loss[account * path_count + i] with the same arithmetic.

#import constants
#import math
#import fixed
#import types
#import dispatch

const WG: u32 = WG_AGGREGATE;

@group(0) @binding(0) var<uniform> params: AggregateParams;
@group(0) @binding(1) var<storage, read> accounts: array<AccountParams>;
@group(0) @binding(2) var<storage, read> holdings: array<HoldingParams>;
@group(0) @binding(3) var<storage, read> pnl: array<f32>;
@group(0) @binding(4) var<storage, read> states: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;
@group(0) @binding(6) var<storage, read> accumulated: array<vec2<u32>>;

@compute @workgroup_size(WG)
fn aggregate(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = wg.x * WG + local;
    let n = params.path_count;
    if i >= n {
        return;
    }
    let rows = row_range(wg.y, params.rows_per_group, params.accounts);
    for (var account = rows.x; account < rows.y; account++) {
        let acct = accounts[account];
        var sum = vec2<u32>(0u);
        for (var h = acct.holdings_offset; h < acct.holdings_offset + acct.holdings_len; h++) {
            let holding = holdings[h];
            let term = holding.quantity * pnl[holding.instrument * n + i];
            sum = fixed_add(sum, term * acct.to_quanta);
        }
        loss[account * n + i] = account_loss(acct, sum, i);
    }
}

@compute @workgroup_size(WG)
fn finish(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let idx = flat_index(wg, num_wg, local, WG);
    let n = params.path_count;
    if idx >= params.accounts * n {
        return;
    }
    let account = idx / n;
    loss[idx] = account_loss(accounts[account], accumulated[idx], idx - account * n);
}

// The loss of an account on scenario i from its fixed-point P&L sum.
fn account_loss(acct: AccountParams, sum: vec2<u32>, i: u32) -> f32 {
    let usd_pnl = fixed_to_f32(sum) * acct.quantum;
    if acct.coin_margined == 0u {
        return -usd_pnl;
    }
    let r = states[acct.coin_asset * params.path_count + i].x;
    return -usd_pnl * acct.inv_spot0 * exp_f32(-r) - acct.base_value_coin * expm1_f32(-r);
}
