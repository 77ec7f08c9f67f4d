// Scenario stage (CPU twin: `src/engine/cpu/scenario.rs`): Philox draws -> correlated,
// fat-tailed price and vol-level paths -> the state of every asset at the horizon (SPEC 3).
//
// One invocation per path. Per step m (dt = h / steps), with the draws of `src/rng.rs`:
// 1. eps = L z (L the correlation root, a full row sum);
// 2. Student-t: g = chi2_nu / nu from nu squared normals, eps <- eps sqrt((nu - 2) / (nu g));
// 3. zeta_a = rho_a eps_a + sqrt(1 - rho_a^2) w_a;
// 4. sigma_a = spot_vol_a e^(x_a) (at the step's start); x_a <- x_a - kappa_a x_a dt + eta_a sqrt(dt) zeta_a;
// 5. N_a ~ Poisson(lambda_a dt) by inverse CDF of a uniform (integer thresholds on its word,
//    so the count equals the CPU's exactly), J_a = N_a mu_a + sqrt(N_a) s_a n_a;
// 6. ln S_a <- ln S_a - 1/2 sigma_a^2 dt - lambda_a k_a dt + sigma_a sqrt(dt) eps_a + J_a.
//
// Importance sampling (`model/importance.rs`, params.mixture = K > 0): the path's component
// (0 the model itself) comes from the mixing uniform's word against the host's thresholds,
// the CPU's choice exactly; a component adds its shift theta to each of the step's first W
// normals, scales the chi2 normals by c and draws jump counts at its own rates (tables in
// `jump_thresholds` from params.mixture_offset, shifts after the root in `root`; layout in
// `stage/scenario.rs: mixture_tables`). The likelihood ratio is the host's.
//
// Output, asset-major: states[a * path_count + i] = (ln(S_h / S_0), ln Y_h) of path i of the
// chunk, so both this stage's writes and the revalue stage's reads are contiguous in paths.

#import constants
#import normal
#import types
#import dispatch

const WG: u32 = WG_SCENARIO;
// MAX_ASSETS (constants): most simulated assets per book (private arrays of the shocks).
const NO_BLOCK: u32 = 0xFFFFFFFFu;

@group(0) @binding(0) var<uniform> params: ScenarioParams;
@group(0) @binding(1) var<storage, read> assets: array<StepAsset>;
@group(0) @binding(2) var<storage, read> root: array<f32>;
@group(0) @binding(3) var<storage, read> jump_thresholds: array<u32>;
@group(0) @binding(4) var<storage, read> path_list: array<u32>;
@group(0) @binding(5) var<storage, read_write> states: array<vec2<f32>>;

// The last Philox block of normals drawn: draws taken in increasing index order make each
// block once.
struct NormalCache {
    block: u32,
    values: vec4<f32>,
}

fn cached_normal(cache: ptr<function, NormalCache>, path: u32, step: u32, index: u32) -> f32 {
    let block = index / 4u;
    if (*cache).block != block {
        (*cache).block = block;
        (*cache).values = normal_block(params.key, path, step, block);
    }
    return (*cache).values[index % 4u];
}

struct WordCache {
    block: u32,
    words: vec4<u32>,
}

fn cached_uniform_word(cache: ptr<function, WordCache>, path: u32, step: u32, index: u32) -> u32 {
    let block = index / 4u;
    if (*cache).block != block {
        (*cache).block = block;
        (*cache).words = uniform_block(params.key, path, step, block);
    }
    return (*cache).words[index % 4u];
}

// Smallest n with P(N <= n) >= u for N ~ Poisson(lambda dt), u = uniform_open(word): the CPU's
// `poisson_inverse` with its f64 CDF turned into thresholds on the word by the host: `always`
// plus the leading thresholds the word is above, of the `len` from `offset`.
fn count_above(always: u32, offset: u32, len: u32, word: u32) -> u32 {
    var n = always;
    for (var i = 0u; i < len; i++) {
        if word <= jump_thresholds[offset + i] {
            break;
        }
        n++;
    }
    return n;
}

// A path's importance-sampling component: its shift's offset in `root` (NO_BLOCK: none), its
// chi2 scale and its jump cells (NO_BLOCK: the model's rates).
struct Mix {
    width: u32,
    shift: u32,
    chi_scale: f32,
    cells: u32,
}

fn mixture_of(path: u32) -> Mix {
    var mix = Mix(0u, NO_BLOCK, 1.0, NO_BLOCK);
    if params.mixture == 0u {
        return mix;
    }
    let m = params.mixture_offset;
    let word = uniform_block(params.key, path, 0u, MIX_INDEX / 4u)[MIX_INDEX % 4u];
    let slot = min(count_above(jump_thresholds[m + 1u], m + 3u, jump_thresholds[m + 2u], word),
                   params.mixture);
    if slot == 0u {
        return mix;
    }
    let c = m + 3u + jump_thresholds[m + 2u] + 4u * (slot - 1u);
    mix.width = jump_thresholds[m];
    mix.shift = jump_thresholds[c + 1u];
    mix.chi_scale = bitcast<f32>(jump_thresholds[c]);
    mix.cells = jump_thresholds[c + 2u];
    return mix;
}

// Normal `index` (< W) of the step, shifted by the component's theta.
fn shifted_normal(cache: ptr<function, NormalCache>, mix: Mix, path: u32, step: u32,
                  index: u32) -> f32 {
    let x = cached_normal(cache, path, step, index);
    if mix.shift == NO_BLOCK || index >= mix.width {
        return x;
    }
    return x + root[mix.shift + step * mix.width + index];
}

@compute @workgroup_size(WG)
fn simulate(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = flat_index(wg, num_wg, local, WG);
    if i >= params.path_count {
        return;
    }
    var path = params.path_base + i;
    if params.use_path_list != 0u {
        path = path_list[i];
    }
    let a_count = params.assets;
    let n = params.path_count;
    let nu = params.dof;
    for (var a = 0u; a < a_count; a++) {
        states[a * n + i] = vec2<f32>(0.0);
    }
    var z: array<f32, MAX_ASSETS>;
    var eps: array<f32, MAX_ASSETS>;
    let mix = mixture_of(path);
    for (var step = 0u; step < params.steps; step++) {
        // Normals 0..A: z; A..2A: w; 2A..3A: jump sizes; 3A..3A+nu: chi2 (rng layout).
        var z_cache = NormalCache(NO_BLOCK, vec4<f32>());
        for (var a = 0u; a < a_count; a++) {
            z[a] = shifted_normal(&z_cache, mix, path, step, a);
        }
        // eps = L z, L lower triangular or a full eigen root: sum the whole row.
        for (var r = 0u; r < a_count; r++) {
            var e = 0.0;
            for (var c = 0u; c < a_count; c++) {
                e += root[r * a_count + c] * z[c];
            }
            eps[r] = e;
        }
        if nu > 0u {
            var chi_cache = NormalCache(NO_BLOCK, vec4<f32>());
            var chi2 = 0.0;
            for (var j = 0u; j < nu; j++) {
                let x = mix.chi_scale * cached_normal(&chi_cache, path, step, 3u * a_count + j);
                chi2 += x * x;
            }
            let g = chi2 / f32(nu);
            let scale = sqrt((f32(nu) - 2.0) / (f32(nu) * g));
            for (var a = 0u; a < a_count; a++) {
                eps[a] *= scale;
            }
        }
        var w_cache = NormalCache(NO_BLOCK, vec4<f32>());
        var jump_cache = NormalCache(NO_BLOCK, vec4<f32>());
        var u_cache = WordCache(NO_BLOCK, vec4<u32>());
        for (var a = 0u; a < a_count; a++) {
            let p = assets[a];
            var state = states[a * n + i]; // (log_return, log_vol)
            let sigma = p.spot_vol * exp_f32(state.y);
            if p.vol_of_vol_sqrt_dt != 0.0 {
                let w = shifted_normal(&w_cache, mix, path, step, a_count + a);
                let zeta = p.rho * eps[a] + p.rho_complement * w;
                state.y += -p.reversion_dt * state.y + p.vol_of_vol_sqrt_dt * zeta;
            }
            var jump = 0.0;
            if p.jumps != 0u {
                let word = cached_uniform_word(&u_cache, path, step, a);
                var count = count_above(p.jump_always, p.jump_table_offset, p.jump_table_len,
                                        word);
                if mix.cells != NO_BLOCK {
                    let cell = mix.cells + 3u * (step * a_count + a);
                    count = count_above(jump_thresholds[cell], jump_thresholds[cell + 1u],
                                        jump_thresholds[cell + 2u], word);
                }
                if count > 0u {
                    let nj = f32(count);
                    let size = shifted_normal(&jump_cache, mix, path, step, 2u * a_count + a);
                    jump = nj * p.jump_mean + sqrt(nj) * p.jump_std * size;
                }
            }
            state.x += -0.5 * sigma * sigma * params.dt - p.compensator_dt
                + sigma * params.sqrt_dt * eps[a] + jump;
            states[a * n + i] = state;
        }
    }
}
