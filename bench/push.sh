#!/usr/bin/env bash
# Push benchmark (not a test): a ~200 MB many-file rootfs (copied from /usr) exported once into an OCI
# layout, then pushed to a fresh local registry (Debian's docker-registry on 127.0.0.1) by outport
# (native CLI and npm, from the local store) and by `skopeo copy oci:… docker://…` of the same image.
# Reports wall time, throughput and peak RSS, and the ratios to skopeo.
# Usage: bench/push.sh [SIZE_MB]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_start push
system_rootfs "${1:-200}"
echo "rootfs: $(find "$work/rootfs" -type f | wc -l) files, $(du -sm "$work/rootfs" | cut -f1) MB"

prepare_outport
export SOURCE_DATE_EPOCH=1700000000 OUTPORT_STORE="$work/store"
target/release/outport export "$work/rootfs" -t bench/app:1 -o "type=oci,dest=$work/layout,tar=false" -o type=image \
  --progress quiet > /dev/null
image_mb=$(du -sm "$work/layout/blobs" | cut -f1)
echo "image: ${image_mb} MB of blobs (gzip)"

# Each run against a fresh, empty registry. The store's name is the registry's, so each outport run
# tags a copy for the fresh registry first.
rate_size=$image_mb rate_unit=MB
start_registry
target/release/outport export "$work/rootfs" -t "$addr/app:1" --progress quiet > /dev/null
measure outport-cli target/release/outport push "$addr/app:1" --insecure --progress quiet
start_registry
target/release/outport export "$work/rootfs" -t "$addr/app:1" --progress quiet > /dev/null
measure outport-npm node npm/bin/outport.js push "$addr/app:1" --insecure --progress quiet
start_registry
measure skopeo skopeo copy --dest-tls-verify=false "oci:$work/layout" "docker://$addr/app:1"
echo "push time ratio vs skopeo copy: cli $(ratio outport-cli skopeo)x, npm $(ratio outport-npm skopeo)x (below 1 is faster)"
echo
markdown_table
