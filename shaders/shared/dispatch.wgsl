// Flat invocation index of a 2-D dispatch: the host splits a large grid of workgroups over
// x and y (at most max_compute_workgroups_per_dimension each), row-major.

fn flat_index(wg: vec3<u32>, num_wg: vec3<u32>, local_index: u32, wg_size: u32) -> u32 {
    return (wg.x + wg.y * num_wg.x) * wg_size + local_index;
}

// Row-major stages (revalue: instruments, aggregate: accounts) dispatch x = scenario tiles,
// y = groups of `rows_per_group` rows: the row index is then uniform in a workgroup (the
// compiler knows it, so the row's constants are loaded once and its branches are uniform).
fn row_range(wg_y: u32, rows_per_group: u32, rows: u32) -> vec2<u32> {
    let first = wg_y * rows_per_group;
    return vec2<u32>(first, min(first + rows_per_group, rows));
}
