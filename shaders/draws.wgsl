// Raw draws for stage-by-stage verification: Philox words and normals of given paths.
//
// One invocation per (path, block); output row-major paths x blocks.

#import constants
#import normal
#import types
#import dispatch

const WG: u32 = WG_DRAWS;

@group(0) @binding(0) var<uniform> params: DrawParams;
@group(0) @binding(1) var<storage, read> paths: array<u32>;
@group(0) @binding(2) var<storage, read_write> words: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> normals: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn philox_words(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = flat_index(wg, num_wg, local, WG);
    if i >= params.count * params.blocks {
        return;
    }
    let path = paths[i / params.blocks];
    let block = i % params.blocks;
    words[i] = philox4x32_10(vec4<u32>(path, params.step, block, params.stream), params.key);
}

@compute @workgroup_size(WG)
fn normal_blocks(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) num_wg: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let i = flat_index(wg, num_wg, local, WG);
    if i >= params.count * params.blocks {
        return;
    }
    let path = paths[i / params.blocks];
    normals[i] = normal_block(params.key, path, params.step, i % params.blocks);
}
