// Flat invocation index of a 2-D dispatch: the host splits a large grid of workgroups over
// x and y (at most max_compute_workgroups_per_dimension each), row-major.

fn flat_index(wg: vec3<u32>, num_wg: vec3<u32>, local_index: u32, wg_size: u32) -> u32 {
    return (wg.x + wg.y * num_wg.x) * wg_size + local_index;
}
