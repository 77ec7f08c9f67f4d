// Philox4x32-10 (Salmon et al., SC'11), as Random123's `philox4x32_R(10, ...)`.
//
// Mirror of `src/rng.rs: philox4x32_10`; the output words must be bit-identical (tested in
// `tests/gpu_equivalence.rs`). WGSL has no u64: the high word of the 32x32 -> 64-bit product
// is assembled from 16-bit limbs, the low word is the wrapping u32 product.

// PHILOX_M0, PHILOX_M1 (round multipliers) and PHILOX_W0, PHILOX_W1 (key increments) come
// from `#import constants` (`rng::PHILOX_*`).
#import constants

// High 32 bits of a * b.
fn mul_hi(a: u32, b: u32) -> u32 {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    // At most (2^16 - 1) * 2 + (2^16 - 1)^2 = 2^32 - 1: no overflow.
    let cross = (lo_lo >> 16u) + (hi_lo & 0xFFFFu) + lo_hi;
    return hi_hi + (hi_lo >> 16u) + (cross >> 16u);
}

// counter = (path, step, block, stream), key = (seed mod 2^32, seed div 2^32).
fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if round > 0u {
            k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
        }
        let hi0 = mul_hi(PHILOX_M0, c.x);
        let lo0 = PHILOX_M0 * c.x;
        let hi1 = mul_hi(PHILOX_M1, c.z);
        let lo1 = PHILOX_M1 * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}
