// Implied vol of a pricing row at log-moneyness k (mirror of `src/market/surface.rs`).
//
// The including stage declares `block: RevalueBlock` and the override `KNOTS` (the most knots
// of the book's surfaces). The segment is chosen by selects, not a search, over segments
// written out one call each with a literal index: after inlining every load has a constant
// offset and the calls past KNOTS fold away. (A loop with KNOTS as its bound was not unrolled
// by lavapipe, and its loads went lane by lane: half the revalue stage's time.)

fn knot_at(r: u32, j: u32) -> f32 {
    return block.rows[r].knots[j / 4u][j % 4u];
}

// The two rows' lines (s = a + b k) on the segment of k found so far.
struct Lines {
    a0: f32,
    b0: f32,
    a1: f32,
    b1: f32,
}

// Takes segment j (from knot j) when kc lies at or beyond its knot and the segment exists.
fn take_segment(r: u32, j: u32, kc: f32, lines: Lines) -> Lines {
    if j + 1u >= KNOTS {
        return lines;
    }
    let on = kc >= knot_at(r, j);
    let q = j / 4u;
    let c = j % 4u;
    return Lines(
        select(lines.a0, block.rows[r].intercept0[q][c], on),
        select(lines.b0, block.rows[r].slope0[q][c], on),
        select(lines.a1, block.rows[r].intercept1[q][c], on),
        select(lines.b1, block.rows[r].slope1[q][c], on),
    );
}

// sigma of row r of the block at log-moneyness k (see `PricingRow`).
fn smile_vol(r: u32, k: f32) -> f32 {
    let kc = clamp(k, knot_at(r, 0u), knot_at(r, KNOTS - 1u));
    var lines = Lines(
        block.rows[r].intercept0[0].x,
        block.rows[r].slope0[0].x,
        block.rows[r].intercept1[0].x,
        block.rows[r].slope1[0].x,
    );
    // Segments 1 ..= MAX_KNOTS - 2.
    lines = take_segment(r, 1u, kc, lines);
    lines = take_segment(r, 2u, kc, lines);
    lines = take_segment(r, 3u, kc, lines);
    lines = take_segment(r, 4u, kc, lines);
    lines = take_segment(r, 5u, kc, lines);
    lines = take_segment(r, 6u, kc, lines);
    lines = take_segment(r, 7u, kc, lines);
    lines = take_segment(r, 8u, kc, lines);
    lines = take_segment(r, 9u, kc, lines);
    lines = take_segment(r, 10u, kc, lines);
    lines = take_segment(r, 11u, kc, lines);
    lines = take_segment(r, 12u, kc, lines);
    lines = take_segment(r, 13u, kc, lines);
    lines = take_segment(r, 14u, kc, lines);
    lines = take_segment(r, 15u, kc, lines);
    lines = take_segment(r, 16u, kc, lines);
    lines = take_segment(r, 17u, kc, lines);
    lines = take_segment(r, 18u, kc, lines);
    lines = take_segment(r, 19u, kc, lines);
    lines = take_segment(r, 20u, kc, lines);
    lines = take_segment(r, 21u, kc, lines);
    lines = take_segment(r, 22u, kc, lines);
    lines = take_segment(r, 23u, kc, lines);
    lines = take_segment(r, 24u, kc, lines);
    lines = take_segment(r, 25u, kc, lines);
    lines = take_segment(r, 26u, kc, lines);
    lines = take_segment(r, 27u, kc, lines);
    lines = take_segment(r, 28u, kc, lines);
    lines = take_segment(r, 29u, kc, lines);
    lines = take_segment(r, 30u, kc, lines);
    let s0 = lines.a0 + lines.b0 * kc;
    let s1 = lines.a1 + lines.b1 * kc;
    return sqrt(block.rows[r].variance0 * s0 * s0 + block.rows[r].variance1 * s1 * s1);
}
