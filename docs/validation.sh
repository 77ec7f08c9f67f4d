#!/bin/sh
# Reproduces the tables of docs/validation.md: the backtest of data/history/backtest_book.json
# over the shipped Bitstamp history, in each method (mc, hs, fhs) and with each APC tool
# (none, floor, stressed_weight, buffer), on the f64 CPU reference. Run from the repository
# root after `cargo build --release`; the JSON reports are left in $OUT (default
# target/validation). Needs jq.
set -eu
BIN=${BIN:-target/release/tailrisk}
OUT=${OUT:-target/validation}
mkdir -p "$OUT"
for method in mc hs fhs; do
  for apc in none floor stressed_weight buffer; do
    "$BIN" backtest --history data/history/bitstamp_daily_close.csv \
      --market data/history/market_2020-01-17.json \
      --portfolio data/history/backtest_book.json \
      --config "data/history/apc/$apc.json" \
      --method "$method" --backend cpu --format json \
      -o "$OUT/$method-$apc.json" 2>/dev/null
  done
done
# The Monte Carlo with a vol of vol (no APC): the forecast then sees implied-vol moves.
"$BIN" backtest --history data/history/bitstamp_daily_close.csv \
  --market data/history/market_2020-01-17.json \
  --portfolio data/history/backtest_book.json \
  --config data/history/vol_of_vol.json --backend cpu --format json \
  -o "$OUT/mc-vol_of_vol.json" 2>/dev/null
for run in mc-none mc-floor mc-stressed_weight mc-buffer hs-none hs-floor hs-stressed_weight \
           hs-buffer fhs-none fhs-floor fhs-stressed_weight fhs-buffer mc-vol_of_vol; do
  method=${run%%-*}
  apc=${run#*-}
  {
    echo
    case $apc in
      vol_of_vol) echo "#### mc with vol_of_vol 2.0 (data/history/vol_of_vol.json), APC none" ;;
      *) echo "#### $method, APC $apc" ;;
    esac
    echo
    echo "| account | days | exceptions | expected | Kupiec p | Christoffersen p (cc) | zone | Z₂ | peak/trough | max 5d rise | max 30d rise |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    jq -r '.accounts[] | .summary as $s |
      def f(d): if . == null then "n/a" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
      def pct: if . == null then "n/a" else ((. * 1000 | round / 10 | tostring) + " %") end;
      "| \(.id) | \($s.days) | \($s.exceptions) | \($s.expected | f(2)) | \($s.kupiec.p_value | f(3)) | \($s.christoffersen.p_cc | f(3)) | \($s.traffic_light.zone) (\($s.traffic_light.exceptions_250)) | \($s.es_test.z2 | f(2)) | \($s.procyclicality.peak_to_trough | f(2)) | \($s.procyclicality.max_increase_5d | pct) | \($s.procyclicality.max_increase_30d | pct) |"' \
      "$OUT/$run.json"
  }
done
