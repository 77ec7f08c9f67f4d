#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [TARGET...]: runs each fuzz target (every one by default, one after
# the other) for SECONDS (default 20) of libFuzzer time, on the stable toolchain through
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z sanitizer flags). docs/fuzzing.md explains.
#
# Each run starts from the committed seeds in fuzz/corpus/TARGET, writes what it discovers to
# a scratch corpus (never into the repository), and stops at the first crash, panic, hang
# (an input taking over -timeout seconds) or allocation over the limits below, leaving the
# input in fuzz/artifacts/TARGET/. The script runs every target asked for, prints one
# summary line per target (also appended to fuzz/artifacts/runs.tsv: date, target,
# seconds, executions, result) and exits 1 if any target failed.
#
# TAILRISK_FUZZ_WORK_DIR: keep the discovered corpus in that folder (one subfolder per
# target) instead of a scratch folder removed at the end, so successive runs build on it.
set -euo pipefail
# Relative paths in the environment are relative to where the script was started.
for var in TAILRISK_FUZZ_WORK_DIR TAILRISK_FUZZ_TARGET_DIR; do
  if [ -n "${!var:-}" ]; then
    export "$var=$(realpath -m "${!var}")"
  fi
done
cd "$(dirname "$0")"

seconds="${1:-20}"
shift || true
export RUSTC_BOOTSTRAP=1

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# TAILRISK_FUZZ_TARGET_DIR: a target directory kept outside the clone (CI's cache).
target_dir=()
if [ -n "${TAILRISK_FUZZ_TARGET_DIR:-}" ]; then
  target_dir=(--target-dir "$TAILRISK_FUZZ_TARGET_DIR")
fi

echo "fuzz: building ${#targets[@]} targets"
cargo fuzz build -O "${target_dir[@]}"

mkdir -p artifacts
if [ -n "${TAILRISK_FUZZ_WORK_DIR:-}" ]; then
  scratch="$TAILRISK_FUZZ_WORK_DIR"
  mkdir -p "$scratch"
else
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
fi
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target" "artifacts/$target"
  log="$scratch/$target.log"
  # -rss_limit_mb / -malloc_limit_mb: "allocates without bound" is a failure; -max_len
  # bounds mutated inputs (larger seeds are read truncated to it).
  set +e
  cargo fuzz run -O "${target_dir[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -max_len=65536 -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
  result="ok"
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status)"
    failed+=("$target")
    tail -n 60 "$log"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$target" "$seconds" "${execs:-?}" "$result" \
    | tee -a artifacts/runs.tsv
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each without a failure"
