#!/usr/bin/env bash
# Sets up a fresh Debian machine for outport and runs the main job on the bundled example:
# Debian packages the tests use, the wasm targets, wasm-bindgen-cli at the version Cargo.lock pins,
# both hosts built, then examples/rootfs exported by the native CLI and by the npm package.
set -euo pipefail
cd "$(dirname "$0")/.."

# golang-go and the stargz-snapshotter sources: the eStargz reference reader the tests build offline;
# the image-spec sources: tests/go_fidelity.rs's Go side (configs as Go marshals them, gzip level 0);
# chromium: the browser build's test.
apt_packages=(skopeo umoci podman curl procps util-linux docker-registry apache2-utils openssl zstd pigz python3 golang-go golang-github-containerd-stargz-snapshotter-dev golang-github-opencontainers-image-spec-dev chromium)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

rustup target add wasm32-wasip2 wasm32-unknown-unknown >/dev/null
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $bindgen_version"; then
  cargo install --quiet wasm-bindgen-cli --version "$bindgen_version"
fi

# Fuzzing (scripts/fuzz.sh) needs nightly Rust and cargo-fuzz.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal >/dev/null
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz

cargo build --quiet --release --workspace
bash npm/build.sh
# The npm package's test tools (typescript, playwright-core, esbuild), pinned by npm/package-lock.json.
(cd npm && npm ci --no-audit --no-fund --loglevel=error)

# The main job: the bundled example, exported by both hosts, must be byte-identical.
mkdir -p out
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1700000000}"
target/release/outport export examples/rootfs --output type=oci,dest=out/example-cli.tar > out/example-cli.json
node npm/bin/outport.js export examples/rootfs --output type=oci,dest=out/example-npm.tar > out/example-npm.json
cmp out/example-cli.tar out/example-npm.tar
skopeo inspect oci-archive:out/example-cli.tar
echo "native CLI and npm package wrote the same image: $(grep '"containerimage.digest"' out/example-cli.json | cut -d'"' -f4)"
