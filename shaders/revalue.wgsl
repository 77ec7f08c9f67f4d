// Revalue stage (CPU twin: `src/engine/cpu/revalue.rs`): the P&L per unit of quantity of
// every instrument in every scenario of the chunk, by full revaluation at t1 = as_of + h.
//
// With S_h = S_0 e^r (r the scenario's log return), per unit and times the multiplier m:
// - spot, perpetuals, futures: linear_scale expm1(r) + linear_offset, the CPU's expm1 forms
//   with their constants folded in f64 by the host (exact zero when nothing moves):
//   spot and linear perpetual m S_0 expm1(r); inverse perpetual m expm1(r); linear future
//   m (S_0 c1 expm1(r) + (S_0 c1 - F_0)); inverse future m (S_0/F_0 expm1(r) + (S_0/F_0 - 1/c1));
// - option, tau1 > 0: Black-76 at F1 = S_0 c1 e^r, sigma1 sqrt(tau1) = sqrt(W(ln(K/F1)))
//   times the vol factor (W the smile's total variance at tau1, see `PricingRow`), minus
//   today's value; tau1 <= 0: intrinsic on S_h minus today's value.
//   ln(K/F1) = ln(K/(S_0 c1)) - r: no logarithm per scenario.
// The vol factor is e^(x w(tau1)) (Monte Carlo, grid stress) or e^x (named scenarios).
//
// Work is dispatched per block of up to BLOCK_ROWS instruments of one asset (`RevalueBlock`,
// bound at a dynamic offset), one invocation per scenario: the asset's state, e^r and
// expm1(r) are loaded and computed once per block, and the rows are priced one after the
// other with constant row indices. That shape is for llvmpipe (lavapipe), where a load whose
// offset is not a compile-time constant costs a loop over the SIMD lanes: here the rows'
// constants are uniform loads, and the per-lane loads are the state and the stores.
// Two entry points:
// - `revalue`: pnl[instrument * path_count + i] (instrument-major rows, for the aggregate
//   stage, verification and stress), states[asset * path_count + i];
// - `revalue_accumulate` (books where each instrument is held about once: the revalue and
//   aggregate stages fused, no P&L round trip through memory): adds quantity x P&L of each
//   row to the account's fixed-point sum accumulated[account * path_count + i], which
//   `finish` in `aggregate.wgsl` turns into the loss with the aggregate stage's arithmetic.
// With explicit rules, scenario_rules[i] bit RULE_UNIFORM_VOL = uniform vol rule, bits
// RULE_ONLY_SHIFT.. = only_asset + 1
// (0: every instrument is revalued; otherwise others keep today's value, P&L 0).

#import constants
#import black76
#import fixed
#import types
#import dispatch

const WG: u32 = WG_REVALUE;
// The most knots of the book's surfaces (1 ..= MAX_KNOTS), set when the pipeline is made.
override KNOTS: u32 = 9u;
// 1: the block's rows share row 0's smile and tenor weight (`RevalueBlock.shared_smile`), so
// they are read from row 0: one set of loads and one vol-factor exponential per block.
override SHARED_SMILE: u32 = 0u;

@group(0) @binding(0) var<uniform> params: RevalueParams;
@group(0) @binding(1) var<uniform> block: RevalueBlock;
@group(0) @binding(2) var<storage, read> states: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> scenario_rules: array<u32>;
@group(0) @binding(4) var<storage, read_write> pnl: array<f32>;
@group(0) @binding(5) var<storage, read_write> accumulated: array<vec2<u32>>;

// The row whose smile and tenor weight row r uses.
fn smile_row(r: u32) -> u32 {
    return select(r, 0u, SHARED_SMILE != 0u);
}

#import surface

// The block's asset in one scenario: (ln S_h/S_0, ln Y_h), e^r and expm1(r).
struct AssetMove {
    log_return: f32,
    log_vol: f32,
    growth: f32,
    growth_m1: f32,
}

fn asset_move(state: vec2<f32>) -> AssetMove {
    return AssetMove(state.x, state.y, exp_f32(state.x), expm1_f32(state.x));
}

// P&L per unit of row r of the block (branch-free: llvmpipe would run every branch anyway).
fn row_pnl(r: u32, mv: AssetMove, uniform_vol: bool) -> f32 {
    let payoff = block.rows[r].payoff;
    let multiplier = block.rows[r].multiplier;
    let strike = block.rows[r].strike;
    let base_value = block.rows[r].base_value;
    let linear = block.rows[r].linear_scale * mv.growth_m1 + block.rows[r].linear_offset;
    let is_call = payoff == PAYOFF_CALL;
    let settled = multiplier * intrinsic(is_call, block.rows[r].spot0 * mv.growth, strike)
        - base_value;
    let forward1 = block.rows[r].forward1_0 * mv.growth;
    let k1 = block.rows[r].log_moneyness0 - mv.log_return;
    let weight = block.rows[smile_row(r)].tenor_weight;
    let factor = exp_normal_f32(select(mv.log_vol * weight, mv.log_vol, uniform_vol));
    let sd = smile_sd(r, k1) * factor;
    let live = multiplier * black76_lm(is_call, forward1, strike, -k1, sd, block.rows[r].discount1)
        - base_value;
    let option = select(live, settled, block.rows[r].expired != 0u);
    return select(option, linear, payoff == PAYOFF_DELTA_ONE);
}

fn store_row(r: u32, i: u32, mv: AssetMove, uniform_vol: bool, revalued: bool) {
    if r < block.count {
        let value = select(0.0, row_pnl(r, mv, uniform_vol), revalued);
        pnl[block.rows[r].instrument * params.path_count + i] = value;
    }
}

@compute @workgroup_size(WG)
fn revalue(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = flat_index(wg, num_wg, local, WG);
    let n = params.path_count;
    if i >= n {
        return;
    }
    var uniform_vol = false;
    var only = 0u;
    if params.explicit_rules != 0u {
        let rule = scenario_rules[i];
        only = rule >> RULE_ONLY_SHIFT;
        uniform_vol = (rule & RULE_UNIFORM_VOL) != 0u;
    }
    let revalued = only == 0u || only - 1u == block.asset;
    let mv = asset_move(states[block.asset * n + i]);
    // BLOCK_ROWS calls written out: a loop over rows would not be unrolled (too large), and
    // its loads would then be per lane.
    store_row(0u, i, mv, uniform_vol, revalued);
    store_row(1u, i, mv, uniform_vol, revalued);
    store_row(2u, i, mv, uniform_vol, revalued);
    store_row(3u, i, mv, uniform_vol, revalued);
    store_row(4u, i, mv, uniform_vol, revalued);
    store_row(5u, i, mv, uniform_vol, revalued);
    store_row(6u, i, mv, uniform_vol, revalued);
    store_row(7u, i, mv, uniform_vol, revalued);
}

// Adds row r's quantity x P&L (padding rows have quantity 0 and P&L exactly 0).
fn add_row(sum: vec2<u32>, r: u32, mv: AssetMove) -> vec2<u32> {
    return fixed_add(sum, block.rows[r].quantity_quanta * row_pnl(r, mv, false));
}

@compute @workgroup_size(WG)
fn revalue_accumulate(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = flat_index(wg, num_wg, local, WG);
    let n = params.path_count;
    if i >= n {
        return;
    }
    let mv = asset_move(states[block.asset * n + i]);
    let slot = block.account * n + i;
    var sum = accumulated[slot];
    sum = add_row(sum, 0u, mv);
    sum = add_row(sum, 1u, mv);
    sum = add_row(sum, 2u, mv);
    sum = add_row(sum, 3u, mv);
    sum = add_row(sum, 4u, mv);
    sum = add_row(sum, 5u, mv);
    sum = add_row(sum, 6u, mv);
    sum = add_row(sum, 7u, mv);
    accumulated[slot] = sum;
}
