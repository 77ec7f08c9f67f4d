"""The generated 576-option book priced over N paths with numba (parallel=True,
fastmath=True, float64): one path per iteration of a prange loop over paths, looping over
the options with scalar math (math.erfc, exp, log), the shape of the first rows of
DESIGN.md's table. Scenario states come from NumPy (timed too); the first call compiles and
is not timed.

    python3 benches/python/numba_bench.py [--paths N] [--chunk C]
"""

import argparse
import math
import time

import numba
import numpy as np
from numba import njit, prange

from book import KNOTS, generated_book, simulate_states, tail_measures


@njit(parallel=True, fastmath=True)
def chunk_losses(log_ret, log_vol, asset, strike, forward0, tau1, discount1, tenor_weight,
                 row0, row1, c0, c1, is_call, base, quantity, knots, out):
    n_paths = log_ret.shape[0]
    n_options = strike.shape[0]
    n_knots = knots.shape[0]
    inv_sqrt2 = 1.0 / math.sqrt(2.0)
    for p in prange(n_paths):
        total = 0.0
        for o in range(n_options):
            a = asset[o]
            forward = forward0[o] * math.exp(log_ret[p, a])
            k1 = math.log(strike[o] / forward)
            kc = min(max(k1, knots[0]), knots[n_knots - 1])
            j = 1
            while j < n_knots - 1 and knots[j] <= kc:
                j += 1
            t = (kc - knots[j - 1]) / (knots[j] - knots[j - 1])
            s0 = row0[o, j - 1] + t * (row0[o, j] - row0[o, j - 1])
            s1 = row1[o, j - 1] + t * (row1[o, j] - row1[o, j - 1])
            sd = math.sqrt(c0[o] * s0 * s0 + c1[o] * s1 * s1) * math.exp(log_vol[p, a] * tenor_weight[o])
            d1 = -k1 / sd + 0.5 * sd
            d2 = d1 - sd
            if is_call[o]:
                price = forward * 0.5 * math.erfc(-d1 * inv_sqrt2) - strike[o] * 0.5 * math.erfc(-d2 * inv_sqrt2)
            else:
                price = strike[o] * 0.5 * math.erfc(d2 * inv_sqrt2) - forward * 0.5 * math.erfc(d1 * inv_sqrt2)
            total += quantity[o] * (discount1[o] * price - base[o])
        out[p] = -total


def run(b, log_ret, log_vol, out):
    chunk_losses(log_ret, log_vol, b.asset, b.strike, b.spot[b.asset] * b.carry1, b.tau1,
                 b.discount1, b.tenor_weight, b.row0, b.row1, b.c0, b.c1, b.is_call, b.base,
                 b.quantity, KNOTS, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=65_536)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    b = generated_book()
    gen = np.random.Generator(np.random.Philox(args.seed))
    warm = simulate_states(b, 64, gen)
    run(b, *warm, np.empty(64))
    started = time.perf_counter()
    losses = np.empty(args.paths)
    for first in range(0, args.paths, args.chunk):
        n = min(args.chunk, args.paths - first)
        log_ret, log_vol = simulate_states(b, n, gen)
        run(b, log_ret, log_vol, losses[first:first + n])
    var, es = tail_measures(losses)
    seconds = time.perf_counter() - started
    rate = args.paths * len(b.strike) / seconds
    print(f"numba {numba.__version__} ({numba.get_num_threads()} threads): {args.paths} paths x "
          f"{len(b.strike)} options in {seconds:.2f} s: {rate / 1e6:.1f} M full repricings/s "
          f"(VaR99 {var:.0f}, ES99 {es:.0f}, base value {b.base_value_usd:.2f})")


if __name__ == "__main__":
    main()
