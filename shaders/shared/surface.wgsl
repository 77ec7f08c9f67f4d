// Implied-vol surfaces, flat or grid (mirror of `src/market/surface.rs`).
//
// A grid is packed in `surface_data` from `SurfaceParams.offset`: n_tau times to expiry, n_k
// log-moneyness knots, then the vols row-major (`vols[i * n_k + j]`). The including stage
// declares `surfaces: array<SurfaceParams>` and `surface_data: array<f32>`.

// sigma of row `i` at log-moneyness `k`: linear between knots, flat beyond the ends.
fn row_vol(s: SurfaceParams, i: u32, k: f32) -> f32 {
    let ks = s.offset + s.n_tau;
    let row = ks + s.n_k + i * s.n_k;
    if k <= surface_data[ks] {
        return surface_data[row];
    }
    let last = s.n_k - 1u;
    if k >= surface_data[ks + last] {
        return surface_data[row + last];
    }
    // First knot strictly above k; k lies in [ks[j-1], ks[j]).
    var j = 1u;
    while surface_data[ks + j] <= k {
        j++;
    }
    let k0 = surface_data[ks + j - 1u];
    let t = (k - k0) / (surface_data[ks + j] - k0);
    let v0 = surface_data[row + j - 1u];
    return v0 + t * (surface_data[row + j] - v0);
}

// sigma(tau, k): linear in total variance across expiries, flat outside them.
fn surface_vol(s: SurfaceParams, tau: f32, k: f32) -> f32 {
    if s.grid == 0u {
        return s.flat_vol;
    }
    let taus = s.offset;
    let last = s.n_tau - 1u;
    if tau <= surface_data[taus] {
        return row_vol(s, 0u, k);
    }
    if tau >= surface_data[taus + last] {
        return row_vol(s, last, k);
    }
    var i = 0u;
    while surface_data[taus + i + 1u] <= tau {
        i++;
    }
    let t0 = surface_data[taus + i];
    let t1 = surface_data[taus + i + 1u];
    let s0 = row_vol(s, i, k);
    let s1 = row_vol(s, i + 1u, k);
    let w0 = s0 * s0 * t0;
    let w1 = s1 * s1 * t1;
    let w = w0 + (w1 - w0) * (tau - t0) / (t1 - t0);
    return sqrt(w / tau);
}
