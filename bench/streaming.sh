#!/usr/bin/env bash
# Streaming benchmark (not a test): export a rootfs holding one large file of random bytes (the worst
# case for memory: compressed output as large as the input) as an OCI archive, by the native CLI and
# the npm package, with each compression (gzip, zstd, estargz, uncompressed; default levels), beside
# `tar | gzip -6 | sha256sum`. Reports wall time, throughput and peak RSS per run, the peak RSS
# targets (CLI < 64 MiB, npm < 160 MiB whatever the layer size) and a Markdown table.
# Usage: bench/streaming.sh [SIZE_MIB]   (default 1024: the 1 GiB case the skeleton issue asks for)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_start streaming
size_mib="${1:-1024}"
mkdir -p "$work/rootfs"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/rootfs/big.bin"
rate_size=$size_mib rate_unit=MiB
prepare_outport
export SOURCE_DATE_EPOCH=1700000000 OUTPORT_STORE="$work/store"

echo "one ${size_mib} MiB file of random bytes, one layer, $(nproc) CPUs"
for host in cli npm; do
  for c in gzip zstd estargz uncompressed; do
    # A fresh store and destination each time: nothing is taken from the compression cache.
    rm -rf "$work/store" "$work/out.tar"
    timed "outport-$host-$c" run_outport "$host" export "$work/rootfs" \
      -o "type=oci,dest=$work/out.tar,compression=$c" --progress quiet
    stat -c %s "$work/out.tar" > "$work/outport-$host-$c.bytes"
    row "outport-$host-$c"
  done
done
rm -rf "$work/store" "$work/out.tar"
timed "tar-gzip-6-sha256sum" bash -c "tar -C '$work/rootfs' -cf - . | gzip -6 | sha256sum"
row tar-gzip-6-sha256sum

echo
markdown_table
echo
check_memory
for host in cli npm; do
  echo "- time vs tar|gzip -6|sha256sum, $host gzip: $(ratio "outport-$host-gzip" tar-gzip-6-sha256sum)"
done
