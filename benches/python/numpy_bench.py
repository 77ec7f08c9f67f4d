"""The generated 576-option book priced over N paths in plain NumPy (float64).

Whole pipeline per chunk of paths, vectorised over (paths x options): scenario states,
full Black-76 repricing on the sticky-moneyness surface with the tenor-scaled vol shock,
the account's loss, then VaR/ES. Prints full repricings per second. NumPy has no erfc, so
the normal CDF is Numerical Recipes' erfcc (fractional error < 1.2e-7) written in NumPy.

    python3 benches/python/numpy_bench.py [--paths N] [--chunk C]
"""

import argparse
import math
import time

import numpy as np

from book import KNOTS, generated_book, simulate_states, tail_measures

ERFCC = np.array([0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
                  -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223])


def norm_cdf(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2 with erfcc."""
    u = np.abs(x) * (1.0 / math.sqrt(2.0))
    t = 1.0 / (1.0 + 0.5 * u)
    p = np.polyval(ERFCC, t)
    lower = 0.5 * t * np.exp(-u * u + p)
    return np.where(x <= 0.0, lower, 1.0 - lower)


def chunk_losses(b, log_ret, log_vol):
    opts = np.arange(len(b.strike))
    r = log_ret[:, b.asset]                      # paths x options
    forward = (b.spot[b.asset] * b.carry1) * np.exp(r)
    k1 = np.log(b.strike / forward)
    kc = np.clip(k1, KNOTS[0], KNOTS[-1])
    j = np.clip(np.searchsorted(KNOTS, kc, side="right"), 1, len(KNOTS) - 1)
    t = (kc - KNOTS[j - 1]) / (KNOTS[j] - KNOTS[j - 1])
    s0 = b.row0[opts, j - 1] + t * (b.row0[opts, j] - b.row0[opts, j - 1])
    s1 = b.row1[opts, j - 1] + t * (b.row1[opts, j] - b.row1[opts, j - 1])
    variance = b.c0 * s0 * s0 + b.c1 * s1 * s1  # sigma^2 tau1
    sd = np.sqrt(variance) * np.exp(log_vol[:, b.asset] * b.tenor_weight)
    d1 = -k1 / sd + 0.5 * sd
    d2 = d1 - sd
    call = b.discount1 * (forward * norm_cdf(d1) - b.strike * norm_cdf(d2))
    price = np.where(b.is_call, call, call - b.discount1 * (forward - b.strike))
    pnl = price - b.base
    return -(pnl @ b.quantity)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--chunk", type=int, default=2_048)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    b = generated_book()
    gen = np.random.Generator(np.random.Philox(args.seed))
    started = time.perf_counter()
    losses = np.empty(args.paths)
    for first in range(0, args.paths, args.chunk):
        n = min(args.chunk, args.paths - first)
        log_ret, log_vol = simulate_states(b, n, gen)
        losses[first:first + n] = chunk_losses(b, log_ret, log_vol)
    var, es = tail_measures(losses)
    seconds = time.perf_counter() - started
    rate = args.paths * len(b.strike) / seconds
    print(f"numpy: {args.paths} paths x {len(b.strike)} options in {seconds:.2f} s: "
          f"{rate / 1e6:.1f} M full repricings/s (VaR99 {var:.0f}, ES99 {es:.0f}, "
          f"base value {b.base_value_usd:.2f})")


if __name__ == "__main__":
    main()
