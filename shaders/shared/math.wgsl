// Portable f32 elementary functions.
//
// WGSL only bounds the error of its built-in `log`, `exp`, `sin` and `cos` loosely (e.g. an
// absolute 2^-21 for `log` near 1, 2^-11 for `sin`/`cos` on Vulkan), so results could differ
// from device to device. These are fdlibm/Cephes-style reductions plus short polynomials:
// within about 1-2 ulp, and the same arithmetic on every adapter.

const LN2_HI: f32 = 6.9313812256e-01; // 0x3f317180: few bits, so n * LN2_HI is exact
const LN2_LO: f32 = 9.0580006145e-06; // 0x3717f7d1
const LOG2_E: f32 = 1.4426950409;
const SQRT_HALF: f32 = 0.70710678118;
const HALF_PI: f32 = 1.5707963268;

// ln(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] (fdlibm's __kernel_log):
// s = f / (2 + f), ln(1 + f) = 2 atanh(s) = f - hfsq + s (hfsq + R(s^2)).
fn log1p_kernel(f: f32) -> f32 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * (0.6666666666 + z * (0.4000000000 + z * (0.2857142857 + z * 0.2222222222)));
    let hfsq = 0.5 * f * f;
    return f - (hfsq - s * (hfsq + r));
}

// Natural logarithm of a positive, normal x.
fn ln_f32(x: f32) -> f32 {
    let bits = bitcast<u32>(x);
    var e = i32(bits >> 23u) - 127;
    var m = bitcast<f32>((bits & 0x007FFFFFu) | 0x3F800000u); // [1, 2)
    if m > 1.41421356 {
        m = 0.5 * m;
        e = e + 1;
    }
    let fe = f32(e);
    return fe * LN2_HI + (log1p_kernel(m - 1.0) + fe * LN2_LO);
}

// e^r - 1 for |r| <= ln(2)/2: Taylor series to r^8 (truncation < 3e-9 relative).
fn expm1_kernel(r: f32) -> f32 {
    let p = 1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0
        + r * (1.0 / 5040.0 + r * (1.0 / 40320.0)))));
    return r + r * r * (0.5 + r * p);
}

// e^x, x clamped to [-87, 88] (the f32 range).
fn exp_f32(x_in: f32) -> f32 {
    let x = clamp(x_in, -87.0, 88.0);
    let n = round(x * LOG2_E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    return ldexp(1.0 + expm1_kernel(r), i32(n));
}

// e^x as `exp_f32` (the same bits where e^x is a normal f32), x clamped to [-86, 88] so
// that 2^n stays a normal scale and is applied as an add to the exponent bits instead of
// `ldexp` (which llvmpipe lowers with range checks). Below e^-86 ~ 4e-38 it returns about
// that: for prices, where such terms are negligible absolutely.
fn exp_normal_f32(x_in: f32) -> f32 {
    let x = clamp(x_in, -86.0, 88.0);
    let n = round(x * LOG2_E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    return bitcast<f32>(bitcast<i32>(1.0 + expm1_kernel(r)) + (i32(n) << 23u));
}

// e^x - 1, accurate to a few ulp also for small |x|.
fn expm1_f32(x: f32) -> f32 {
    if abs(x) <= 0.3465735903 {
        return expm1_kernel(x);
    }
    return exp_f32(x) - 1.0;
}

// (cos phi, sin phi) for |phi| <= pi/4 (Cephes sinf/cosf polynomials, about 1 ulp).
fn cos_sin_kernel(phi: f32) -> vec2<f32> {
    let z = phi * phi;
    let s = phi + phi * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
    let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2
        + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
    return vec2<f32>(c, s);
}

// (cos, sin) of theta = 2 pi w 2^-32, the angle reduced exactly in integers: quadrant
// q = round(4 w 2^-32) and a residual of at most pi/4.
fn cos_sin_turns(w: u32) -> vec2<f32> {
    let q = (w + 0x20000000u) >> 30u;
    let d = bitcast<i32>(w - (q << 30u)); // in [-2^29, 2^29)
    let cs = cos_sin_kernel(f32(d) * (HALF_PI / 1073741824.0));
    switch q {
        case 0u: { return cs; }
        case 1u: { return vec2<f32>(-cs.y, cs.x); }
        case 2u: { return -cs; }
        default: { return vec2<f32>(cs.y, -cs.x); }
    }
}
