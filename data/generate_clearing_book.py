#!/usr/bin/env python3
"""Generate data/clearing_book.csv: an illustrative clearing-house book of 1,000 accounts.

Pure Python standard library and fully deterministic: the only randomness is
random.Random(20261120), and instruments are drawn from lists in a fixed order, so
running this script again reproduces the committed CSV byte for byte.

Usage:  python3 data/generate_clearing_book.py [OUTPUT]   (default: next to this script)

Quantity units follow SPEC section 2: options, spot, linear perpetuals and linear futures
in coins; inverse perpetuals and futures (BTC-PERPETUAL, BTC-25DEC26, ETH-...) in USD
notional. The market it is meant for is data/market.json (as of 2026-11-20T08:00:00Z;
BTC 91,250, ETH 3,050, SOL 142). Every number is illustrative, not real market data.
"""

import csv
import math
import os
import random
import sys

SEED = 20261120
ACCOUNTS = 1000
MIN_POSITIONS, MAX_POSITIONS = 2, 12

# Option strike ladders per asset and expiry (Deribit names: day without leading zero).
OPTION_LADDERS = {
    "BTC": ("BTC", {
        "4DEC26": [85000, 90000, 95000, 100000],
        "25DEC26": [80000, 85000, 90000, 95000, 100000, 110000],
        "26MAR27": [70000, 80000, 90000, 100000, 120000],
    }),
    "ETH": ("ETH", {
        "4DEC26": [2900, 3000, 3100, 3200],
        "25DEC26": [2600, 2800, 3000, 3200, 3600],
        "26MAR27": [2400, 3000, 3600, 4000],
    }),
    "SOL": ("SOL_USDC", {
        "25DEC26": [120, 130, 140, 150, 170],
        "26MAR27": [100, 140, 180],
    }),
}

# Delta-one instruments per asset: (name, category).
DELTA_ONE = {
    "BTC": [("BTC", "spot"), ("BTC-PERPETUAL", "inverse"), ("BTC_USDC-PERPETUAL", "linear"),
            ("BTC-25DEC26", "inverse"), ("BTC-26MAR27", "inverse"),
            ("BTC_USDC-25DEC26", "linear")],
    "ETH": [("ETH", "spot"), ("ETH-PERPETUAL", "inverse"), ("ETH_USDC-PERPETUAL", "linear"),
            ("ETH-25DEC26", "inverse"), ("ETH-26MAR27", "inverse")],
    "SOL": [("SOL", "spot"), ("SOL_USDC-PERPETUAL", "linear")],
}

# Size ranges (low, high, rounding step), drawn log-uniformly.
SIZES = {
    ("BTC", "option"): (0.1, 25.0, 0.1),
    ("ETH", "option"): (1.0, 300.0, 1.0),
    ("SOL", "option"): (10.0, 5000.0, 10.0),
    ("BTC", "inverse"): (10000.0, 5000000.0, 10.0),     # USD notional
    ("ETH", "inverse"): (5000.0, 2000000.0, 1.0),       # USD notional
    ("BTC", "linear"): (0.01, 50.0, 0.001),
    ("ETH", "linear"): (0.1, 500.0, 0.01),
    ("SOL", "linear"): (1.0, 20000.0, 1.0),
    ("BTC", "spot"): (0.1, 100.0, 0.001),
    ("ETH", "spot"): (1.0, 1000.0, 0.01),
    ("SOL", "spot"): (10.0, 50000.0, 1.0),
}

ASSETS = ["BTC", "ETH", "SOL"]
PRIMARY_WEIGHTS = [0.5, 0.35, 0.15]
PRIMARY_SHARE = 0.7      # chance that a position is on the account's primary asset
OPTION_SHARE = 0.65      # chance that a position is an option (where the asset has them)


def instrument_universe():
    """{asset: {"option": [names], "delta": [(name, category)]}} in a fixed order."""
    universe = {}
    for asset in ASSETS:
        prefix, ladders = OPTION_LADDERS[asset]
        options = [f"{prefix}-{expiry}-{strike}-{right}"
                   for expiry, strikes in ladders.items()
                   for strike in strikes
                   for right in ("C", "P")]
        universe[asset] = {"option": options, "delta": DELTA_ONE[asset]}
    return universe


def format_quantity(x, step):
    decimals = max(0, -int(math.floor(math.log10(step) + 1e-12)))
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def draw_size(rng, asset, category):
    low, high, step = SIZES[(asset, category)]
    size = math.exp(rng.uniform(math.log(low), math.log(high)))
    return max(step, round(size / step) * step), step


def generate(rng):
    universe = instrument_universe()
    rows = []
    for n in range(1, ACCOUNTS + 1):
        account = f"acct-{n:04d}"
        primary = rng.choices(ASSETS, weights=PRIMARY_WEIGHTS)[0]
        count = rng.randint(MIN_POSITIONS, MAX_POSITIONS)
        held = set()
        while len(held) < count:
            asset = primary if rng.random() < PRIMARY_SHARE else rng.choice(ASSETS)
            if rng.random() < OPTION_SHARE:
                name, category = rng.choice(universe[asset]["option"]), "option"
            else:
                name, category = rng.choice(universe[asset]["delta"])
            if name in held:
                continue
            held.add(name)
            size, step = draw_size(rng, asset, category)
            # Spot is collateral (long); everything else has either sign.
            sign = 1 if category == "spot" or rng.random() < 0.5 else -1
            rows.append((account, name, format_quantity(sign * size, step)))
    return rows


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "clearing_book.csv")
    rows = generate(random.Random(SEED))
    with open(out, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["account", "instrument", "quantity"])
        writer.writerows(rows)
    instruments = {r[1] for r in rows}
    print(f"wrote {out}: {ACCOUNTS} accounts, {len(rows)} positions, "
          f"{len(instruments)} instruments", file=sys.stderr)


if __name__ == "__main__":
    main()
