// Aggregate stage (CPU twin: `src/engine/cpu/aggregate.rs`): holdings x instrument P&L -> the
// loss of every account on every scenario of the chunk (loss = -(value at horizon - value now)).
//
// USD account: L = -sum_h q_h pnl_h. The f32 terms of hedged books are large, of both signs,
// and cancel; an f32 running sum would add an error of ~ulp(largest partial sum) per term,
// and Kahan's compensation is legal for a shader compiler to simplify away (lavapipe does).
// So the terms are summed exactly, in 64-bit two's-complement fixed point with a quantum of
// 2^e ~ 2^-42 x the account's gross exposure (headroom 2^20 x gross): the sum is
// the exact sum of the f32 terms (each truncated to the quantum), rounded once to f32, and
// it does not depend on the order of the holdings or on the compiler.
// Coin-margined account in asset c (SPEC 7), with P = sum q pnl and V0 its USD value today:
// L = -P / S_c,1 - (V0 / S_c,0) expm1(-r_c) = -P e^(-r_c) / S_c,0 - (V0 / S_c,0) expm1(-r_c).
//
// One invocation per scenario of a tile (dispatch x) and group of accounts (dispatch y),
// account-major: loss[account * path_count + i].

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

// Adds x (an f32 in units of the quantum, |x| < 2^62) to a 64-bit two's-complement
// accumulator (lo, hi). |x| = hi 2^32 + lo exactly for the integer part: hi = floor(|x| 2^-32)
// is a power-of-two shift, and |x| - hi 2^32 is exact (it is |x| itself when hi = 0, and
// otherwise a multiple of ulp(|x|) below 2^32 that fits 24 bits); the fraction (< 1 quantum)
// is dropped.
fn fixed_add(acc: vec2<u32>, x: f32) -> vec2<u32> {
    let a = abs(x);
    let hi_f = floor(a * 2.3283064365386963e-10);
    var lo = u32(a - hi_f * 4294967296.0);
    var hi = u32(hi_f);
    if x < 0.0 {
        lo = ~lo + 1u;
        hi = ~hi + select(0u, 1u, lo == 0u);
    }
    let sum_lo = acc.x + lo;
    let carry = select(0u, 1u, sum_lo < lo);
    return vec2<u32>(sum_lo, acc.y + hi + carry);
}

// The accumulator's value in quanta, rounded to f32.
fn fixed_to_f32(acc: vec2<u32>) -> f32 {
    var lo = acc.x;
    var hi = acc.y;
    let negative = (hi & 0x80000000u) != 0u;
    if negative {
        lo = ~lo + 1u;
        hi = ~hi + select(0u, 1u, lo == 0u);
    }
    let magnitude = f32(hi) * 4294967296.0 + f32(lo);
    return select(magnitude, -magnitude, negative);
}

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
        loss[account * n + i] = account_loss(accounts[account], i);
    }
}

fn account_loss(acct: AccountParams, i: u32) -> f32 {
    let n = params.path_count;
    var sum = vec2<u32>(0u);
    for (var h = acct.holdings_offset; h < acct.holdings_offset + acct.holdings_len; h++) {
        let holding = holdings[h];
        let term = holding.quantity * pnl[holding.instrument * n + i];
        sum = fixed_add(sum, term * acct.to_quanta);
    }
    let usd_pnl = fixed_to_f32(sum) * acct.quantum;
    if acct.coin_margined == 0u {
        return -usd_pnl;
    }
    let r = states[acct.coin_asset * n + i].x;
    return -usd_pnl * acct.inv_spot0 * exp_f32(-r) - acct.base_value_coin * expm1_f32(-r);
}
