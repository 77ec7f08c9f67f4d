// Test probe of the shared f32 math: for each x, (norm_cdf(x), ln|x|, exp(x), expm1(x)).
// Used only by `GpuBackend::probe_math` to measure the error of these functions against the
// f64 reference (`tests/gpu_equivalence.rs`); not part of the pipeline.

#import constants
#import black76
#import dispatch

const WG: u32 = WG_PROBE;

@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn probe(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = flat_index(wg, num_wg, local, WG);
    if i >= arrayLength(&xs) {
        return;
    }
    let x = xs[i];
    out[i] = vec4<f32>(norm_cdf(x), ln_f32(abs(x)), exp_f32(x), expm1_f32(x));
}
