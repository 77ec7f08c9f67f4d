// Tail stage (CPU twin: `src/engine/cpu/tail.rs`): per account, exactly the `tail_len` largest
// losses of the chunk under the order of SPEC 4 (larger loss first, ties by the lower path),
// without sorting and without reading the chunk's losses back.
//
// Each (account, scenario) has a 64-bit key that orders like the tail: high word the loss's
// f32 bits mapped to an order-preserving u32 (flip all bits of negatives, the sign bit of
// the rest: the order of f64::total_cmp), low word !i (lower scenario first). Keys are
// distinct, so the tail is every key >= the tail_len-th largest. A radix select finds that
// threshold 8 bits at a time, most significant first:
// - `histogram`: counts the next digit of the keys that share the prefix found so far, in
//   workgroup atomics, then adds the non-zero bins to the account's global histogram;
// - `select`: one invocation per account walks its 256 bins from the top, picks the digit
//   where the count reaches `remaining`, and clears the bins. When that bin holds exactly
//   `remaining` keys, every key >= the prefix is in the tail and later passes skip.
// At most 8 passes (4 on the loss, 4 on the path when losses tie); atomics only count, so
// nothing depends on the order or the forward progress of workgroups. Only keys at or above
// `min_loss_key` take part (the running tail of earlier chunks already beats the others), so
// after the first chunk few keys reach the atomics; pass 0 then cuts `remaining` to the
// number of eligible keys.
// - `gather`: every eligible key >= the threshold takes a slot by atomicAdd: exactly
//   min(tail_len, eligible keys) entries (loss bits, path), in arbitrary order; the host sorts.
// - `distribution` (only when a report asks for it): every loss of the chunk, eligible or
//   not, counted into its account's loss histogram (CPU twin: `src/model/distribution.rs`,
//   the same bins by the same integer arithmetic on the f32 bits), in workgroup atomics, then
//   the non-zero bins added to the chunk's global counts, which the host reads back and adds.

#import constants
#import types
#import dispatch

const WG: u32 = WG_TAIL;
const BINS: u32 = TAIL_BINS;
// Scenarios per histogram workgroup: WG invocations x 16 keys.
const TILE: u32 = TAIL_TILE;
// Digits of the loss word; the later passes select the path word's.
const LOSS_PASSES: u32 = TAIL_PASSES / 2u;

@group(0) @binding(0) var<uniform> params: TailParams;
@group(0) @binding(1) var<storage, read> loss: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<TailState>;
@group(0) @binding(3) var<storage, read_write> global_hist: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> gathered: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> tail_out: array<vec2<u32>>;
@group(0) @binding(6) var<storage, read_write> dist: array<atomic<u32>>;

var<workgroup> hist: array<atomic<u32>, BINS>;
var<workgroup> dist_hist: array<atomic<u32>, DIST_BINS>;

// Order-preserving map of an f32 to u32 (larger loss, larger key).
fn loss_key(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Whether the top `bits` bits of a and b agree (bits in 0..=32).
fn top_bits_equal(a: u32, b: u32, bits: u32) -> bool {
    if bits == 0u {
        return true;
    }
    if bits >= 32u {
        return a == b;
    }
    return (a >> (32u - bits)) == (b >> (32u - bits));
}

fn key_of(account_row: u32, i: u32) -> vec2<u32> {
    return vec2<u32>(loss_key(loss[account_row * params.path_count + i]), ~i);
}

@compute @workgroup_size(WG)
fn histogram(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let group = wg.x + wg.y * num_wg.x;
    let account = group / params.tiles;
    if account >= params.accounts {
        return;
    }
    let tile = group - account * params.tiles;
    atomicStore(&hist[local], 0u);
    workgroupBarrier();
    let st = state[account];
    if st.done == 0u {
        let bits = 8u * st.pass_index;
        let shift = 24u - 8u * (st.pass_index % LOSS_PASSES);
        let row = params.account_base + account;
        for (var j = 0u; j < TILE / WG; j++) {
            let i = tile * TILE + j * WG + local;
            if i < params.path_count {
                let key = key_of(row, i);
                if key.x >= st.min_loss_key
                    && top_bits_equal(key.x, st.prefix_hi, min(bits, 32u))
                    && top_bits_equal(key.y, st.prefix_lo, max(bits, 32u) - 32u) {
                    let word = select(key.y, key.x, st.pass_index < LOSS_PASSES);
                    atomicAdd(&hist[(word >> shift) & 0xFFu], 1u);
                }
            }
        }
    }
    workgroupBarrier();
    let count = atomicLoad(&hist[local]);
    if count != 0u {
        atomicAdd(&global_hist[account * BINS + local], count);
    }
}

@compute @workgroup_size(WG_TAIL_SELECT)
fn select_digit(@builtin(global_invocation_id) id: vec3<u32>) {
    let account = id.x;
    if account >= params.accounts {
        return;
    }
    var st = state[account];
    if st.done != 0u || st.pass_index >= TAIL_PASSES {
        return;
    }
    if st.pass_index == 0u {
        var eligible = 0u;
        for (var b = 0u; b < BINS; b++) {
            eligible += atomicLoad(&global_hist[account * BINS + b]);
        }
        st.remaining = min(st.remaining, eligible);
        if eligible == 0u {
            st.done = 1u;
            st.empty = 1u;
            state[account] = st;
            return;
        }
    }
    var above = 0u;
    var digit = 0u;
    var in_bin = 0u;
    for (var d = i32(BINS) - 1; d >= 0; d--) {
        let c = atomicLoad(&global_hist[account * BINS + u32(d)]);
        if above + c >= st.remaining {
            digit = u32(d);
            in_bin = c;
            break;
        }
        above += c;
    }
    for (var b = 0u; b < BINS; b++) {
        atomicStore(&global_hist[account * BINS + b], 0u);
    }
    st.remaining -= above;
    let shift = 24u - 8u * (st.pass_index % LOSS_PASSES);
    if st.pass_index < LOSS_PASSES {
        st.prefix_hi |= digit << shift;
    } else {
        st.prefix_lo |= digit << shift;
    }
    st.pass_index += 1u;
    if in_bin == st.remaining || st.pass_index >= TAIL_PASSES {
        st.done = 1u;
    }
    state[account] = st;
}

@compute @workgroup_size(WG)
fn gather(
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
    let x = loss[(params.account_base + account) * n + i];
    let key = vec2<u32>(loss_key(x), ~i);
    let st = state[account];
    if st.empty != 0u || key.x < st.min_loss_key {
        return;
    }
    if key.x > st.prefix_hi || (key.x == st.prefix_hi && key.y >= st.prefix_lo) {
        let slot = atomicAdd(&gathered[account], 1u);
        if slot < params.tail_len {
            tail_out[account * params.tail_len + slot] = vec2<u32>(bitcast<u32>(x), params.path_base + i);
        }
    }
}

// The histogram bin of a loss (`bin_of_f32` in `src/model/distribution.rs`): the zero bin
// below 2^EXP_LO, 2^SUB_BITS bins per octave up to 2^EXP_HI, open-ended end bins beyond,
// ascending in loss.
fn dist_bin(x: f32) -> u32 {
    let bits = bitcast<u32>(x);
    let magnitude = bits & 0x7FFFFFFFu;
    let biased = magnitude >> 23u;
    if biased < DIST_EXP_LO_BIASED {
        return DIST_ZERO_BIN;
    }
    var side = DIST_SIDE_BINS;
    if biased < DIST_EXP_HI_BIASED {
        let sub = (magnitude >> (23u - DIST_SUB_BITS)) & ((1u << DIST_SUB_BITS) - 1u);
        side = (biased - DIST_EXP_LO_BIASED) * (1u << DIST_SUB_BITS) + sub;
    }
    if (bits & 0x80000000u) != 0u {
        return DIST_ZERO_BIN - 1u - side;
    }
    return DIST_ZERO_BIN + 1u + side;
}

@compute @workgroup_size(WG)
fn distribution(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let group = wg.x + wg.y * num_wg.x;
    let account = group / params.tiles;
    if account >= params.accounts {
        return;
    }
    let tile = group - account * params.tiles;
    for (var b = local; b < DIST_BINS; b += WG) {
        atomicStore(&dist_hist[b], 0u);
    }
    workgroupBarrier();
    let row = params.account_base + account;
    for (var j = 0u; j < TILE / WG; j++) {
        let i = tile * TILE + j * WG + local;
        if i < params.path_count {
            atomicAdd(&dist_hist[dist_bin(loss[row * params.path_count + i])], 1u);
        }
    }
    workgroupBarrier();
    for (var b = local; b < DIST_BINS; b += WG) {
        let count = atomicLoad(&dist_hist[b]);
        if count != 0u {
            atomicAdd(&dist[account * DIST_BINS + b], count);
        }
    }
}
