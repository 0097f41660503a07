#!/usr/bin/env bash
# Push benchmark (not a test): a ~200 MB many-file rootfs (copied from /usr) exported once into an OCI
# layout, then pushed to a fresh local registry (Debian's docker-registry on 127.0.0.1) by outport
# (native CLI and npm, from the local store) and by `skopeo copy oci:… docker://…` of the same image.
# Reports wall time, throughput and peak RSS, and the ratios to skopeo.
# Usage: bench/push.sh [SIZE_MB]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-200}"
work=$(mktemp -d /tmp/outport-bench-push.XXXXXX)
registry_pid=
trap '[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; rm -rf "$work"' EXIT

source bench/lib.sh
copy_system_files "$work/rootfs" "$size_mb" /usr/lib /usr/share /usr/bin
echo "rootfs: $(find "$work/rootfs" -type f | wc -l) files, $(du -sm "$work/rootfs" | cut -f1) MB"

cargo build --quiet --release -p outport-cli
[ -f npm/wasm/outport_bg.wasm ] || bash npm/build.sh
export SOURCE_DATE_EPOCH=1700000000 OUTPORT_STORE="$work/store"
target/release/outport export "$work/rootfs" -t bench/app:1 -o "type=oci,dest=$work/layout,tar=false" -o type=image \
  --progress quiet > /dev/null
image_mb=$(du -sm "$work/layout/blobs" | cut -f1)
echo "image: ${image_mb} MB of blobs (gzip)"

measure() { # name, command... (each run against a fresh, empty registry)
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null 2> "$work/stderr" || { cat "$work/stderr"; exit 1; }
  read -r secs kib < "$work/time"
  awk -v n="$name" -v s="$secs" -v k="$kib" -v m="$image_mb" \
    'BEGIN { printf "%-14s %8.2f s %9.1f MB/s %9.1f MiB peak RSS\n", n, s, m / s, k / 1024 }'
  echo "$secs" > "$work/$name.secs"
}

# The store's name is the registry's, so each outport run tags a copy for the fresh registry first.
start_registry
target/release/outport export "$work/rootfs" -t "$addr/app:1" --progress quiet > /dev/null
measure outport-cli target/release/outport push "$addr/app:1" --insecure --progress quiet
start_registry
target/release/outport export "$work/rootfs" -t "$addr/app:1" --progress quiet > /dev/null
measure outport-npm node npm/bin/outport.js push "$addr/app:1" --insecure --progress quiet
start_registry
measure skopeo skopeo copy --dest-tls-verify=false "oci:$work/layout" "docker://$addr/app:1"
awk -v c="$(cat "$work/outport-cli.secs")" -v n="$(cat "$work/outport-npm.secs")" -v s="$(cat "$work/skopeo.secs")" \
  'BEGIN { printf "push time ratio vs skopeo copy: cli %.2fx, npm %.2fx (below 1 is faster)\n", c / s, n / s }'
