#!/usr/bin/env bash
# Builds the exporter core for JS: wasm32-unknown-unknown + wasm-bindgen (Node target) into npm/wasm/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --quiet -p outport --target wasm32-unknown-unknown --profile wasm
# Where cargo put it: $CARGO_TARGET_DIR when set (a shared or warm target directory), else target/.
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm/outport.wasm"
wasm-bindgen --target nodejs --out-dir npm/wasm "$wasm"
# The same core for browsers and web workers (lib/browser.mjs).
wasm-bindgen --target web --out-dir npm/wasm-web "$wasm"
# The package ships the project's README and licence (npm includes both from the package root).
cp README.md LICENSE npm/
# The in-memory host for CommonJS, made from the ES module browsers load (lib/memory-host.mjs).
node npm/scripts/memory-host-cjs.js
