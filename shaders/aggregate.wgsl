// Aggregate stage (CPU twin: `src/engine/cpu/aggregate.rs`): holdings x instrument P&L -> the
// loss of every account on every scenario of the chunk (loss = -(value at horizon - value now)).
//
// USD account: L = -sum_h q_h pnl_h, summed with Kahan's compensation (f32 terms of both signs
// that largely cancel in hedged books).
// Coin-margined account in asset c (SPEC 7), with P = sum q pnl and V0 its USD value today:
// L = -P / S_c,1 - (V0 / S_c,0) expm1(-r_c) = -P e^(-r_c) / S_c,0 - (V0 / S_c,0) expm1(-r_c).
//
// One invocation per (account, scenario), account-major: loss[account * path_count + i].

#import math
#import types
#import dispatch

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: AggregateParams;
@group(0) @binding(1) var<storage, read> accounts: array<AccountParams>;
@group(0) @binding(2) var<storage, read> holdings: array<HoldingParams>;
@group(0) @binding(3) var<storage, read> pnl: array<f32>;
@group(0) @binding(4) var<storage, read> states: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(WG)
fn aggregate(
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
    let i = idx - account * n;
    let acct = accounts[account];
    var usd_pnl = 0.0;
    var compensation = 0.0;
    for (var h = acct.holdings_offset; h < acct.holdings_offset + acct.holdings_len; h++) {
        let holding = holdings[h];
        let y = holding.quantity * pnl[holding.instrument * n + i] - compensation;
        let t = usd_pnl + y;
        compensation = (t - usd_pnl) - y;
        usd_pnl = t;
    }
    if acct.coin_margined == 0u {
        loss[idx] = -usd_pnl;
        return;
    }
    let r = states[acct.coin_asset * n + i].x;
    loss[idx] = -usd_pnl * acct.inv_spot0 * exp_f32(-r) - acct.base_value_coin * expm1_f32(-r);
}
