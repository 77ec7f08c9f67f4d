// Total implied variance of a pricing row at log-moneyness k (mirror of
// `src/market/surface.rs`, see `PricingRow`): W(k) = sigma(tau_1, k)^2 tau_1.
//
// The including stage declares `block: RevalueBlock`, `smile_row` and the override `KNOTS`
// (the most knots of the book's surfaces). W is quadratic per segment; it is summed in hinge
// form, one term per knot written out with a literal index: after inlining every load has a
// constant offset and the terms past KNOTS fold away. No segment search and no selects: each
// knot costs a subtraction, a max and two multiply-adds. (A loop with KNOTS as its bound was
// not unrolled by lavapipe, and its loads went lane by lane.)

// smile_sd below writes one hinge term per knot but the last (which has none): MAX_KNOTS - 1.
const_assert MAX_KNOTS == 32u;

// Knot j of the block's asset (shared by its rows).
fn knot_at(j: u32) -> f32 {
    return block.knots[j / 4u][j % 4u];
}

// Adds knot j's hinge term to w, for k <= the last knot.
fn hinge(r: u32, j: u32, k: f32, w: f32) -> f32 {
    if j + 1u >= KNOTS {
        return w;
    }
    let hinge = block.rows[smile_row(r)].hinges[j];
    let h = max(k - knot_at(j), 0.0);
    return w + h * (hinge.y + hinge.z * h);
}

// sigma(tau_1, k) sqrt(tau_1) of row r of the block (see `PricingRow`). Summed as a chain: a
// tree of the same terms measured no faster, and the compiler then contracted it
// differently in the two entry points (their results must agree bit for bit).
fn smile_sd(r: u32, k: f32) -> f32 {
    let kc = min(k, knot_at(KNOTS - 1u));
    var w = block.rows[smile_row(r)].variance_k0;
    w = hinge(r, 0u, kc, w);
    w = hinge(r, 1u, kc, w);
    w = hinge(r, 2u, kc, w);
    w = hinge(r, 3u, kc, w);
    w = hinge(r, 4u, kc, w);
    w = hinge(r, 5u, kc, w);
    w = hinge(r, 6u, kc, w);
    w = hinge(r, 7u, kc, w);
    w = hinge(r, 8u, kc, w);
    w = hinge(r, 9u, kc, w);
    w = hinge(r, 10u, kc, w);
    w = hinge(r, 11u, kc, w);
    w = hinge(r, 12u, kc, w);
    w = hinge(r, 13u, kc, w);
    w = hinge(r, 14u, kc, w);
    w = hinge(r, 15u, kc, w);
    w = hinge(r, 16u, kc, w);
    w = hinge(r, 17u, kc, w);
    w = hinge(r, 18u, kc, w);
    w = hinge(r, 19u, kc, w);
    w = hinge(r, 20u, kc, w);
    w = hinge(r, 21u, kc, w);
    w = hinge(r, 22u, kc, w);
    w = hinge(r, 23u, kc, w);
    w = hinge(r, 24u, kc, w);
    w = hinge(r, 25u, kc, w);
    w = hinge(r, 26u, kc, w);
    w = hinge(r, 27u, kc, w);
    w = hinge(r, 28u, kc, w);
    w = hinge(r, 29u, kc, w);
    w = hinge(r, 30u, kc, w);
    return sqrt(max(w, 0.0));
}
