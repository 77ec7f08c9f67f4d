#!/usr/bin/env python3
"""tailrisk beside its peers, on one machine, in one run: the table of docs/benchmarks.md.

Runs, on the generated 576-option, 3-asset, 1-step book (src/bench_book.rs, rebuilt in
benches/python/book.py):

- the numba peer (benches/python/numba_bench.py) and the NumPy peer (numpy_bench.py);
- `tailrisk bench` on every backend it finds (CPU f64 kernels, CPU f64 reference, CPU f32
  kernels, the GPU when there is an adapter: `--gpu` asks for it, lavapipe included);
- each tailrisk configuration once more as a whole process (`tailrisk bench --backend B
  --precision P --paths N`, one run, timed from outside: start-up, generating the book,
  the adapter and shader compilation included);

and prints a Markdown table of full repricings per second with the ratios to numba and
NumPy, headed by the machine, the date and the commit, then issue 13's targets against
those ratios. With `--write` the same text replaces the part of docs/benchmarks.md between
its `<!-- compare.py: begin -->` and `<!-- compare.py: end -->` markers.

    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install numpy==2.4.6 numba==0.68.1
    cargo build --release
    target/bench-venv/bin/python benches/compare.py [--paths 200000,1000000] [--gpu] [--write]

Run it on a quiet machine: another build on the same cores halves every figure.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAILRISK = os.path.join(ROOT, "target", "release", "tailrisk")
PYTHON_DIR = os.path.join(ROOT, "benches", "python")
RATE = re.compile(r"([0-9.]+) M full repricings/s")
FMA_LIMIT = os.path.join(ROOT, "target", "release", "examples", "fma_limit")
# The f32 FMA limit of the 2-core Zen 5 that issue 13's 1.2 G/s was set on (docs/benchmarks.md,
# Machine): 7.4 G 512-bit FMAs/s per core, 16 lanes each, on 2 cores.
ZEN5_LANE_FMAS = 2 * 7.4e9 * 16


def peer(script, paths):
    """Full repricings/s of a Python peer at `paths` paths (its own timing, JIT excluded)."""
    out = subprocess.run(
        [sys.executable, script, "--paths", str(paths)],
        cwd=PYTHON_DIR, check=True, capture_output=True, text=True,
    ).stdout
    match = RATE.search(out)
    if not match:
        raise SystemExit(f"{script}: no rate in its output: {out!r}")
    return float(match.group(1)) * 1e6, out.strip()


def tailrisk_bench(backend, paths):
    """`tailrisk bench` JSON runs of one backend choice."""
    out = subprocess.run(
        [TAILRISK, "bench", "--backend", backend, "--paths", ",".join(map(str, paths)),
         "--format", "json"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["runs"]


def whole_process(backend, precision, paths):
    """Seconds of one `tailrisk bench` process measuring one run, timed from outside."""
    args = [TAILRISK, "bench", "--backend", backend, "--paths", str(paths), "--format", "json",
            "--no-stage-split"]
    if backend == "cpu":
        args += ["--precision", precision]
    started = time.perf_counter()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - started
    runs = [r for r in json.loads(out)["runs"] if r["precision"] == precision]
    return seconds, runs[0]


def fma_limit():
    """(instruction set, vector FMAs/s, lane FMAs/s) of the widest f32 FMA this machine runs,
    on every logical CPU at once (examples/fma_limit.rs), or None when it is not built."""
    if not os.path.exists(FMA_LIMIT):
        return None
    out = subprocess.run([FMA_LIMIT], check=True, capture_output=True, text=True).stdout
    best = None
    for line in out.splitlines():
        name, threads, fmas, flops = line.split()[:4]
        if int(threads) > 1 or os.cpu_count() == 1:
            measured = (name, float(fmas), float(flops) / 2)
            if best is None or measured[2] > best[2]:
                best = measured
    return best


def machine():
    model = platform.processor() or platform.machine()
    family = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key in ("model name", "cpu family", "model") and key not in family:
                    family[key] = value
                if line.strip() == "":
                    break
    except OSError:
        pass
    if "model name" in family:
        # The family and model tell core generations apart (AMD: family 25 Zen 3/4, 26 Zen 5).
        model = (f"{family['model name']} (family {family.get('cpu family', '?')} "
                 f"model {family.get('model', '?')})")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return f"{model}, {os.cpu_count()} logical CPUs; commit {commit or '?'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", default="200000,1000000",
                    help="path counts of numba and tailrisk, comma-separated")
    ap.add_argument("--numpy-paths", type=int, default=100_000,
                    help="path count of the NumPy peer (slow: one count only)")
    ap.add_argument("--gpu", action="store_true", help="also measure the GPU backend")
    ap.add_argument("--write", action="store_true",
                    help="write the table into docs/benchmarks.md between its markers")
    args = ap.parse_args()
    counts = [int(p) for p in args.paths.split(",")]
    if not os.path.exists(TAILRISK):
        raise SystemExit("build first: cargo build --release")

    numba_rate = {}
    for n in counts:
        numba_rate[n], line = peer("numba_bench.py", n)
        print(f"# {line}", file=sys.stderr)
    numpy_rate, line = peer("numpy_bench.py", args.numpy_paths)
    print(f"# {line}", file=sys.stderr)

    rows = []
    for r in tailrisk_bench("cpu", counts) + (tailrisk_bench("gpu", counts) if args.gpu else []):
        if r["status"] != "measured":
            continue
        rows.append((r["backend"], r["precision"], r["device"], r["paths"],
                     r["repricings_per_second"], "in process"))
    configs = [("cpu", "f64"), ("cpu", "f64-reference"), ("cpu", "f32")]
    for backend, precision in configs + ([("gpu", "f32")] if args.gpu else []):
        for n in counts:
            seconds, run = whole_process(backend, precision, n)
            repricings = run["repricings_per_second"] * run["seconds"]
            rows.append((backend, precision, run["device"], n, repricings / seconds,
                         "whole process"))

    lines = [f"Machine: {machine()}. Date: {datetime.date.today().isoformat()}. "
             f"numba and NumPy: float64, their own timing (numba's JIT excluded); NumPy at "
             f"{args.numpy_paths:,} paths.", "",
             "| implementation | paths | measured | full repricings/s | vs numba | vs NumPy |",
             "|---|---|---|---|---|---|"]
    for n in counts:
        lines.append(f"| numba (`parallel=True, fastmath=True`) | {n:,} | in process | "
                     f"{numba_rate[n] / 1e6:.1f} M | 1 | {numba_rate[n] / numpy_rate:.1f}× |")
    lines.append(f"| NumPy | {args.numpy_paths:,} | in process | {numpy_rate / 1e6:.1f} M | "
                 f"{numpy_rate / numba_rate[counts[0]]:.2f}× | 1 |")
    ratio = {}
    for backend, precision, device, n, rate, how in rows:
        base = numba_rate.get(n, numba_rate[counts[-1]])
        ratio[(backend, precision, n, how)] = rate / base
        lines.append(f"| tailrisk {backend} {precision} ({device}) | {n:,} | {how} | "
                     f"{rate / 1e6:.1f} M | {rate / base:.2f}× | {rate / numpy_rate:.1f}× |")
    lines += ["", "Issue 13's targets, from this table:", ""]
    for n in counts:
        r = ratio.get(("cpu", "f64", n, "whole process"))
        if r is not None:
            lines.append(f"- default `run` on the CPU (f64 kernels) ≥ 4× numba at {n:,} paths, "
                         f"whole process: {r:.1f}× ({'met' if r >= 4 else 'not met'})")
    f32 = max((rate for b, p, _, _, rate, _ in rows if (b, p) == ("cpu", "f32")), default=None)
    if f32 is not None:
        lines.append(f"- CPU f32 ≥ 1.2 G full repricings/s: best {f32 / 1e9:.2f} G/s "
                     f"({'met' if f32 >= 1.2e9 else 'not met'})")
        limit = fma_limit()
        if limit is not None:
            name, fmas, lane_fmas = limit
            slots = lane_fmas / f32
            scaled = 1.2e9 * lane_fmas / ZEN5_LANE_FMAS
            lines.append(
                f"  - against this machine's f32 FMA limit (`cargo build --release --examples`, "
                f"examples/fma_limit.rs): {fmas / 1e9:.2f} G {name} FMAs/s on all threads = "
                f"{lane_fmas / 1e9:.0f} G lane FMAs/s, {slots:.0f} lane-FMA slots per repricing "
                f"at the best rate. 1.2 G/s on the Zen 5 it was set on "
                f"({ZEN5_LANE_FMAS / 1e9:.0f} G lane FMAs/s) is {ZEN5_LANE_FMAS / 1.2e9:.0f} "
                f"slots, {scaled / 1e9:.2f} G/s at this machine's limit "
                f"({'met' if f32 >= scaled else 'not met'} at equal efficiency)")
    r = ratio.get(("gpu", "f32", counts[0], "whole process"))
    if r is not None:
        lines.append(f"- `--backend gpu` ≥ 2× numba at {counts[0]:,} paths, whole process: "
                     f"{r:.1f}× ({'met' if r >= 2 else 'not met'})")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.write:
        write_into_benchmarks(text)


def write_into_benchmarks(text):
    """Replaces the generated part of docs/benchmarks.md with `text`."""
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    begin, end = "<!-- compare.py: begin -->\n", "<!-- compare.py: end -->"
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: no {begin.strip()} … {end} markers")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + text + end + tail)
    print(f"# wrote the table into {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
