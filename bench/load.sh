#!/usr/bin/env bash
# Load benchmark (not a test): a ~200 MB many-file rootfs (copied from /usr) loaded into a Docker-API
# engine (Podman's compatible service, started here on a private socket with its own storage) by
# `outport export --load` (native CLI and npm; the layer already in outport's compression cache, so
# the run is the load itself), next to `docker load -i` of the same docker tarball (written once by
# outport beforehand) through the same socket. Wall time, throughput, peak RSS (of the client: the
# engine's own work is the same for both), and the ratio.
# Usage: bench/load.sh [SIZE_MB]   (default 200). Needs root (podman's service), podman, docker (client).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_start load
system_rootfs "${1:-200}"
prepare_outport
export SOURCE_DATE_EPOCH=1700000000 OUTPORT_STORE="$work/store"
target/release/outport export "$work/rootfs" -o "type=docker,name=bench/load:file,dest=$work/image.tar" --progress quiet > /dev/null
rate_size=$(stat -c %s "$work/image.tar" | awk '{ printf "%.1f", $1 / 1e6 }') rate_unit=MB
echo "docker tarball: ${rate_size} MB; $(nproc) CPUs"

# start_podman: a fresh engine (empty storage) on $work/podman.sock.
start_podman() {
  [ -n "$podman_pid" ] && kill "$podman_pid" 2>/dev/null && wait "$podman_pid" 2>/dev/null || true
  rm -rf "$work/podman" "$work/podman.sock"
  podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver vfs \
    system service --time=0 "unix://$work/podman.sock" > /dev/null 2>&1 &
  podman_pid=$!
  for _ in $(seq 300); do curl -sf --unix-socket "$work/podman.sock" http://d/_ping > /dev/null && break; sleep 0.1; done
}
export DOCKER_HOST="unix://$work/podman.sock"

start_podman
measure outport-cli-load target/release/outport export "$work/rootfs" --load -t bench/load:cli --progress quiet
start_podman
measure outport-npm-load node npm/bin/outport.js export "$work/rootfs" --load -t bench/load:npm --progress quiet
start_podman
measure docker-load-i docker load -i "$work/image.tar"
echo "load time ratio vs docker load -i: cli $(ratio outport-cli-load docker-load-i)x, npm $(ratio outport-npm-load docker-load-i)x (below 1 is faster)"
echo
markdown_table
