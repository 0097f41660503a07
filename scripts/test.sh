#!/usr/bin/env bash
# Runs every check and test: formatting, lints (native and both wasm targets), the Rust tests (core
# unit tests, CLI integration tests against skopeo/umoci), then the npm package's and the
# cross-host tests with Node's test runner, and a short fuzzing pass over every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo clippy --quiet -p outport --target wasm32-wasip2 -- -D warnings
cargo clippy --quiet -p outport --target wasm32-unknown-unknown -- -D warnings
# Release mode and --workspace, exactly as setup.sh builds: the same features, so wasmtime is built once.
cargo test --release --workspace
cargo build --quiet --release --workspace
bash npm/build.sh
OUTPORT_BIN="$PWD/target/release/outport" node --test npm/test/ tests/
# Longer campaigns: scripts/fuzz.sh SECONDS.
bash scripts/fuzz.sh "${OUTPORT_FUZZ_SECONDS:-10}"
