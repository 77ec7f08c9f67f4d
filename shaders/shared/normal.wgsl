// Philox words to uniforms and standard normals.
//
// Mirror of `src/rng.rs` (`uniform_open`, `box_muller`, `DrawSource::normal_block`). The words
// are bit-identical; the normals are f32 roundings of the same formulas: within about 1e-6
// absolute of rng's f64 normals (tested in `tests/gpu_equivalence.rs`).

#import constants
#import philox
#import math

const TWO_POW_M32: f32 = 2.3283064365386963e-10;

// u = (w + 1/2) 2^-32, in the open interval (0, 1).
fn uniform_open(w: u32) -> f32 {
    return (f32(w) + 0.5) * TWO_POW_M32;
}

// ln u for u = (w + 1/2) 2^-32. Near u = 1 it is ln(1 - v) with v = (~w + 1/2) 2^-32 exact,
// so the small radius of Box-Muller keeps its relative accuracy.
fn ln_uniform_open(w: u32) -> f32 {
    if w >= 0xB504F334u { // u >= sqrt(1/2)
        return log1p_kernel(-((f32(~w) + 0.5) * TWO_POW_M32));
    }
    return ln_f32(uniform_open(w));
}

// Box-Muller: r = sqrt(-2 ln u1), theta = 2 pi w2 2^-32, (r cos theta, r sin theta).
fn box_muller(w1: u32, w2: u32) -> vec2<f32> {
    let r = sqrt(-2.0 * ln_uniform_open(w1));
    return r * cos_sin_turns(w2);
}

// Normals 4 block .. 4 block + 4 of (path, step): lanes 0, 1 from words 0, 1; 2, 3 from 2, 3.
fn normal_block(key: vec2<u32>, path: u32, step: u32, block: u32) -> vec4<f32> {
    let w = philox4x32_10(vec4<u32>(path, step, block, STREAM_NORMAL), key);
    return vec4<f32>(box_muller(w.x, w.y), box_muller(w.z, w.w));
}

// The four uniform words of block `block` of (path, step).
fn uniform_block(key: vec2<u32>, path: u32, step: u32, block: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(path, step, block, STREAM_UNIFORM), key);
}

// STREAM_NORMAL and STREAM_UNIFORM come from `#import constants` (`rng::STREAM_*`).
