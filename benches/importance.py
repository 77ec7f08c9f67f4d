#!/usr/bin/env python3
"""Importance sampling against plain Monte Carlo, side by side: the table of methodology
§16.2 and docs/benchmarks.md.

For each book, `tailrisk run` plain and with `--variance-reduction is`, same seed and paths,
on one backend; per account and confidence, the ES variance ratio at equal paths
(plain half-width / IS half-width, squared) and at equal time (that ratio divided by the
ratio of the runs' `run.seconds`, each the least of `--repeat` runs of the command: a
shared machine's noise only ever adds time). Books:

- one account each on BTC at 91 250 with a flat 60 % vol, 1-day horizon: 10 BTC spot, a
  short 80 000 put, a short 90 000 straddle, under normal shocks and Student-t ν = 5;
- the sample book of data/ (Student-t ν = 5, jumps, stochastic vol; four accounts), whole:
  plain prices the four accounts in one pass while IS simulates each alone (its own
  mixture), so IS's cost is about four accounts' runs against one book's;
- each account of the sample book alone (a one-account portfolio, the sample market and
  config): the per-account comparison, plain and IS both pricing only that account;

for each seed given, reporting the range over the seeds (a variance ratio is itself an
estimate, and IS's mixture comes from a 20 000-path pilot that varies with the seed).

    cargo build --release          # TAILRISK_BIN=path overrides the binary run
    python3 benches/importance.py [--paths 200000] [--backend cpu|gpu] [--precision f64]
                                  [--seeds 5,42] [--repeat 3]

Prints a Markdown table; nothing is written. Run it on a quiet machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAILRISK = os.environ.get("TAILRISK_BIN") or os.path.join(ROOT, "target", "release", "tailrisk")
AS_OF = "2026-11-20T08:00:00Z"
MARKET = {"as_of": AS_OF, "assets": {"BTC": {"spot": 91250, "vol": 0.6}}}
SINGLE = [
    ("10 BTC spot", [("BTC", 10.0)]),
    ("short 80 000 put", [("BTC-25DEC26-80000-P", -10.0)]),
    ("short 90 000 straddle", [("BTC-25DEC26-90000-C", -10.0), ("BTC-25DEC26-90000-P", -10.0)]),
]


def run(args, files, paths, seed, vr):
    """The JSON report of one run, its `run.seconds` the least of `args.repeat` runs (the
    figures of every repeat are the same bits: checked)."""
    cmd = [TAILRISK, "run", "--paths", str(paths), "--seed", str(seed), "--backend",
           args.backend, "--variance-reduction", vr, "--format", "json"] + files
    if args.backend == "cpu":
        cmd += ["--precision", args.precision]
    best = None
    for _ in range(getattr(args, "repeat", 1)):
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"}).stdout
        report = json.loads(out)
        if best is None:
            best = report
        elif report["accounts"] != best["accounts"]:
            raise SystemExit(f"repeated runs differ: {' '.join(cmd)}")
        else:
            best["run"]["seconds"] = min(best["run"]["seconds"], report["run"]["seconds"])
    return best


def half_widths(report):
    """Per account: (id, [ES half-width per confidence])."""
    return [(a["id"], [(m["es_ci"][1] - m["es_ci"][0]) / 2 for m in a["measures"]])
            for a in report["accounts"]]


def compare(args, name, files, paths):
    """Per account: (label, per seed: (equal-path ratios, equal-time ratios, IS cost))."""
    per_seed = []
    for seed in args.seeds:
        plain = run(args, files, paths, seed, "none")
        imp = run(args, files, paths, seed, "is")
        cost = imp["run"]["seconds"] / plain["run"]["seconds"]
        accounts = []
        for (acct, hp), (_, hi) in zip(half_widths(plain), half_widths(imp)):
            ratio = [(p / i) ** 2 if i > 0 else float("inf") for p, i in zip(hp, hi)]
            label = name if len(plain["accounts"]) == 1 else f"{name}: `{acct}`"
            accounts.append((label, ratio, [r / cost for r in ratio], cost))
        per_seed.append(accounts)
    return [(rows[0][0], [r[1:] for r in rows]) for rows in zip(*per_seed)]


def fmt(values):
    """`lo–hi×` over the seeds, per confidence, joined by ' / '."""
    one = lambda v: f"{v:.1f}" if v < 10 else f"{v:.0f}"
    out = []
    for level in zip(*values):
        lo, hi = min(level), max(level)
        out.append(f"{one(lo)}×" if one(lo) == one(hi) else f"{one(lo)}–{one(hi)}×")
    return " / ".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=200_000)
    ap.add_argument("--backend", default="cpu", choices=["cpu", "gpu"])
    ap.add_argument("--precision", default="f64", help="the CPU's precision")
    ap.add_argument("--seeds", default="5,42", help="seeds, comma-separated (ranges over them)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each command; its seconds are the least of them")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if not os.path.exists(TAILRISK):
        raise SystemExit("build first: cargo build --release")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        market = os.path.join(tmp, "market.json")
        with open(market, "w") as f:
            json.dump(MARKET, f)
        for dof in [None, 5]:
            config = os.path.join(tmp, f"config-{dof}.json")
            with open(config, "w") as f:
                json.dump({"horizon_days": 1, "steps": 1, "confidence": [0.99, 0.995],
                           **({"student_t_dof": dof} if dof else {})}, f)
            for name, positions in SINGLE:
                book = os.path.join(tmp, "book.json")
                with open(book, "w") as f:
                    json.dump({"accounts": [{"id": "a", "margin_currency": "USD", "positions": [
                        {"instrument": i, "quantity": q} for i, q in positions]}]}, f)
                shocks = "normal shocks" if dof is None else f"Student-t ν = {dof}"
                files = ["--market", market, "--portfolio", book, "--config", config]
                rows += compare(args, f"{name}, {shocks}", files, args.paths)
                print(f"# {rows[-1][0]} done", file=sys.stderr)
    rows += compare(args, "sample book", [], args.paths)
    print("# sample book done", file=sys.stderr)
    sample = json.load(open(os.path.join(ROOT, "data", "portfolio.json")))
    with tempfile.TemporaryDirectory() as tmp:
        for account in sample["accounts"]:
            book = os.path.join(tmp, "account.json")
            with open(book, "w") as f:
                json.dump({"accounts": [account]}, f)
            files = ["--market", os.path.join(ROOT, "data", "market.json"), "--portfolio", book,
                     "--config", os.path.join(ROOT, "data", "config.json")]
            rows += compare(args, f"sample book, `{account['id']}` alone", files, args.paths)
            print(f"# {rows[-1][0]} done", file=sys.stderr)
    where = args.backend if args.backend == "gpu" else f"cpu {args.precision}"
    seeds = ", ".join(map(str, args.seeds))
    print(f"{args.paths:,} paths, seeds {seeds} (ranges over them), {where}; equal time = "
          f"equal paths ÷ (IS seconds ÷ plain seconds).\n")
    print("| book | ES variance at equal paths, 99 % / 99.5 % | at equal time | IS cost |")
    print("|---|---|---|---|")
    for label, seeds in rows:
        costs = [cost for _, _, cost in seeds]
        print(f"| {label} | {fmt([s[0] for s in seeds])} | {fmt([s[1] for s in seeds])} | "
              f"{min(costs):.1f}–{max(costs):.1f}× |")


if __name__ == "__main__":
    main()
