#!/usr/bin/env bash
# Streaming benchmark (not a test): export a rootfs holding one large file and report wall time,
# throughput and peak RSS of the native CLI and the npm CLI, beside `tar | gzip -6 | sha256sum`.
# Usage: bench/streaming.sh [SIZE_MIB]   (default 1024: the 1 GiB case the skeleton issue asks for)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
work=$(mktemp -d /tmp/outport-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs"
# Incompressible data is the worst case for memory (compressed output as large as the input).
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/rootfs/big.bin"
cargo build --quiet --release -p outport-cli
[ -f npm/wasm/outport_bg.wasm ] || bash npm/build.sh
export SOURCE_DATE_EPOCH=1700000000 OUTPORT_STORE="$work/store"

measure() { # name, command...
  local name=$1; shift
  rm -rf "$work/store" "$work/out.tar"
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null
  read -r secs kib < "$work/time"
  awk -v n="$name" -v s="$secs" -v k="$kib" -v m="$size_mib" \
    'BEGIN { printf "%-28s %8.2f s %9.1f MiB/s %9.1f MiB peak RSS\n", n, s, m / s, k / 1024 }'
  echo "$secs" > "$work/$name.secs"
}

echo "one ${size_mib} MiB file, gzip level 6 (default)"
measure outport-cli target/release/outport export "$work/rootfs" -o "type=oci,dest=$work/out.tar"
measure outport-npm node npm/bin/outport.js export "$work/rootfs" -o "type=oci,dest=$work/out.tar"
measure "tar|gzip-6|sha256sum" bash -c "tar -C '$work/rootfs' -cf - . | gzip -6 | sha256sum"
awk -v c="$(cat "$work/outport-cli.secs")" -v n="$(cat "$work/outport-npm.secs")" -v p="$(cat "$work/tar|gzip-6|sha256sum.secs")" \
  'BEGIN { printf "time ratio vs tar|gzip -6: cli %.2fx, npm %.2fx\n", c / p, n / p }'
