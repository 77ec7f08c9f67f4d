// Exact sums of f32 terms in 64-bit two's-complement fixed point (aggregate and the fused
// revalue-accumulate stage). The f32 terms of hedged books are large, of both signs, and
// cancel; an f32 running sum would add an error of ~ulp(largest partial sum) per term, and
// Kahan's compensation is legal for a shader compiler to simplify away (lavapipe does). In
// units of a quantum 2^e ~ 2^-42 x the account's gross exposure (headroom 2^20 x gross) the
// sum is the exact sum of the terms (each truncated to the quantum), rounded once to f32,
// whatever the order of the terms or the compiler.

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
