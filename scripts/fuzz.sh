#!/usr/bin/env bash
# Fuzz every target in fuzz/ for SECONDS each (default 60; CI runs a short pass) with cargo-fuzz on
# nightly Rust, and report executions and crashes per target. A crash input is copied to
# fuzz/regressions/<target>/ so that tests/fuzz_regressions.rs replays it on stable from then on.
# Seeds (fuzz/seeds/<target>/, committed) start a target where random bytes rarely reach.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal >/dev/null
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz

status=0
for target in output_spec annotation www_authenticate image_json reference layer_tarball ignore estargz_toc tar_reader; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target" "fuzz/seeds/$target"
  log="fuzz/artifacts/$target.log"
  if cargo +nightly fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
      -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 > "$log" 2>&1; then
    result=ok
  elif ! grep -q 'stat::number_of_executed_units' "$log"; then
    tail -20 "$log"
    echo "fuzz $target: the target did not build or start (log above)"
    exit 1
  else
    result=CRASH
    status=1
    mkdir -p "fuzz/regressions/$target"
    cp fuzz/artifacts/"$target"/crash-* fuzz/artifacts/"$target"/timeout-* "fuzz/regressions/$target/" 2>/dev/null || true
  fi
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
  echo "fuzz $target: ${execs:-0} executions in ${seconds}s, $result"
done
exit "$status"
