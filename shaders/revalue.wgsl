// Revalue stage (CPU twin: `src/engine/cpu/revalue.rs`): the P&L per unit of quantity of
// every instrument in every scenario of the chunk, by full revaluation at t1 = as_of + h.
//
// With S_h = S_0 e^r (r the scenario's log return), per unit and times the multiplier m:
// - spot, perpetuals, futures: linear_scale expm1(r) + linear_offset, the CPU's expm1 forms
//   with their constants folded in f64 by the host (exact zero when nothing moves):
//   spot and linear perpetual m S_0 expm1(r); inverse perpetual m expm1(r); linear future
//   m (S_0 c1 expm1(r) + (S_0 c1 - F_0)); inverse future m (S_0/F_0 expm1(r) + (S_0/F_0 - 1/c1));
// - option, tau1 > 0: Black-76 at F1 = S_h c1, sigma1 = sigma_surface(tau1, ln(K/F1)) times
//   the vol factor, minus today's value; tau1 <= 0: intrinsic on S_h minus today's value.
// The vol factor is e^(x w(tau1)) (Monte Carlo, grid stress) or e^x (named scenarios).
//
// One invocation per scenario of a tile (dispatch x) and group of instruments (dispatch y),
// instrument-major: pnl[instrument * path_count + i], states[asset * path_count + i]:
// neighbouring invocations price the same instrument on neighbouring scenarios (uniform
// branches and constants, contiguous memory).
// With explicit rules, scenario_rules[i] bit 0 = uniform vol rule, bits 8.. = only_asset + 1
// (0: every instrument is revalued; otherwise others keep today's value, P&L 0).

#import black76
#import types
#import dispatch

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> params: RevalueParams;
@group(0) @binding(1) var<storage, read> instruments: array<InstrumentParams>;
@group(0) @binding(2) var<storage, read> surfaces: array<SurfaceParams>;
@group(0) @binding(3) var<storage, read> surface_data: array<f32>;
@group(0) @binding(4) var<storage, read> states: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> scenario_rules: array<u32>;
@group(0) @binding(6) var<storage, read_write> pnl: array<f32>;

#import surface

fn instrument_pnl(row: InstrumentParams, state: vec2<f32>, uniform_vol: bool) -> f32 {
    let r = state.x;
    if row.payoff == PAYOFF_DELTA_ONE {
        return row.linear_scale * expm1_f32(r) + row.linear_offset;
    }
    let is_call = row.payoff == PAYOFF_CALL;
    let spot_h = row.spot0 * exp_f32(r);
    if row.expired != 0u {
        return row.multiplier * intrinsic(is_call, spot_h, row.strike) - row.base_value;
    }
    let forward1 = spot_h * row.carry1;
    let factor = exp_f32(select(state.y * row.tenor_weight, state.y, uniform_vol));
    let vol = surface_vol(surfaces[row.asset], row.tau1, ln_f32(row.strike / forward1)) * factor;
    return row.multiplier * black76_sd(is_call, forward1, row.strike, vol * row.sqrt_tau1, row.discount1)
        - row.base_value;
}

@compute @workgroup_size(WG)
fn revalue(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = wg.x * WG + local;
    let n = params.path_count;
    if i >= n {
        return;
    }
    var uniform_vol = false;
    var only = 0u;
    if params.explicit_rules != 0u {
        let rule = scenario_rules[i];
        only = rule >> 8u;
        uniform_vol = (rule & 1u) != 0u;
    }
    let rows = row_range(wg.y, params.rows_per_group, params.instruments);
    for (var instrument = rows.x; instrument < rows.y; instrument++) {
        let row = instruments[instrument];
        var value = 0.0;
        if only == 0u || only - 1u == row.asset {
            value = instrument_pnl(row, states[row.asset * n + i], uniform_vol);
        }
        pnl[instrument * n + i] = value;
    }
}
