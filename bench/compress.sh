#!/usr/bin/env bash
# Compression benchmark (not a test): a ~200 MB many-file rootfs (copied from /usr) exported as one
# layer by outport (native CLI and npm; gzip, zstd and estargz at their default levels), next to
# `tar | gzip -6 | sha256sum`, `tar | pigz | sha256sum`, `tar | zstd -3 -T0 | sha256sum`, umoci
# inserting the same tree into an image, and skopeo recompressing the gzip image to zstd. All in one
# run on this machine; wall time, peak RSS, output size, and the ratios the issue asks for.
# Usage: bench/compress.sh [SIZE_MB]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-200}"
work=$(mktemp -d /tmp/outport-bench-compress.XXXXXX)
trap 'rm -rf "$work"' EXIT

source bench/lib.sh
copy_system_files "$work/rootfs" "$size_mb" /usr/lib /usr/share /usr/bin
tar_mb=$(tar -C "$work/rootfs" -cf - . | wc -c | awk '{ printf "%.1f", $1 / 1e6 }')
echo "rootfs: $(find "$work/rootfs" -type f | wc -l) files, ${tar_mb} MB as tar; $(nproc) CPUs"

cargo build --quiet --release -p outport-cli
[ -f npm/wasm/outport_bg.wasm ] || bash npm/build.sh
export SOURCE_DATE_EPOCH=1700000000
# Warm the native CLI's compiled-core cache, so no run pays for compiling it.
OUTPORT_STORE="$work/warm" target/release/outport export examples/rootfs -o "type=oci,dest=$work/warm.tar" --progress quiet > /dev/null

printf '%-26s %8s %9s %11s %12s\n' run seconds MB/s "peak MiB" "output bytes"
measure() { # name, output size (a file holding it, layout:DIR for an outport layout's layer, or -), command...
  local name=$1 out=$2; shift 2
  /usr/bin/time -f '%e %M' -o "$work/time" bash -c '"$@"' _ "$@" > "$work/stdout" 2> "$work/stderr" \
    || { cat "$work/stderr"; exit 1; }
  read -r secs kib < "$work/time"
  local bytes
  case $out in
    -) bytes=- ;;
    layout:*) bytes=$(layer_size "${out#layout:}") ;;
    *) bytes=$(cat "$out") ;;
  esac
  printf '%-26s %8.2f %9.1f %11.1f %12s\n' "$name" "$secs" "$(awk -v m="$tar_mb" -v s="$secs" 'BEGIN { print m / s }')" \
    "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')" "$bytes"
  echo "$secs" > "$work/$name.secs"
  echo "$bytes" > "$work/$name.bytes"
}

# The size of the single layer an outport OCI layout holds.
layer_size() {
  python3 -c 'import json,sys,os
d=sys.argv[1]; i=json.load(open(d+"/index.json"))
m=json.load(open(d+"/blobs/"+i["manifests"][0]["digest"].replace(":","/")))
print(m["layers"][0]["size"])' "$1"
}
# Only the export is timed: its destination is new, the layer's size is read afterwards.
outport_export() { # binary..., compression, store name, output name
  local name=${*: -1} store=${*: -2:1} compression=${*: -3:1}
  OUTPORT_STORE="$work/store-$store" "${@:1:$#-3}" export "$work/rootfs" \
    -o "type=oci,dest=$work/$name,tar=false,compression=$compression" --progress quiet > /dev/null
}
export -f outport_export
export work

# The reference sizes, outside the timed runs.
tar -C "$work/rootfs" -cf - . | gzip -6 | wc -c > "$work/gzip.size"
tar -C "$work/rootfs" -cf - . | pigz | wc -c > "$work/pigz.size"
tar -C "$work/rootfs" -cf - . | zstd -3 -T0 -q | wc -c > "$work/zstd.size"
measure tar-gzip-6 "$work/gzip.size" sh -c "tar -C '$work/rootfs' -cf - . | gzip -6 | sha256sum"
measure tar-pigz "$work/pigz.size" sh -c "tar -C '$work/rootfs' -cf - . | pigz | sha256sum"
measure tar-zstd-3-T0 "$work/zstd.size" sh -c "tar -C '$work/rootfs' -cf - . | zstd -3 -T0 -q | sha256sum"
for c in gzip zstd estargz; do
  measure "outport-cli-$c" "layout:$work/cli-$c" outport_export target/release/outport "$c" "cli-$c" "cli-$c"
done
for c in gzip zstd estargz; do
  measure "outport-npm-$c" "layout:$work/npm-$c" outport_export node npm/bin/outport.js "$c" "npm-$c" "npm-$c"
done
# Cached re-export: the same tree into the same store again (a new destination).
measure outport-cli-gzip-cached "layout:$work/cli-gzip-again" outport_export target/release/outport gzip cli-gzip cli-gzip-again
measure umoci-insert - sh -c "umoci init --layout '$work/umoci' && umoci new --image '$work/umoci:app' && umoci insert --rootless --image '$work/umoci:app' '$work/rootfs' /"
measure skopeo-copy-zstd - skopeo copy -q --dest-compress-format zstd "oci:$work/cli-gzip" "oci:$work/skopeo-zstd"

r() { awk -v a="$(cat "$work/$1.secs")" -v b="$(cat "$work/$2.secs")" 'BEGIN { printf "%.2f", a / b }'; }
s() { awk -v a="$(cat "$work/$1.bytes")" -v b="$(cat "$work/$2.bytes")" 'BEGIN { printf "%+.2f%%", (a / b - 1) * 100 }'; }
echo
echo "gzip export vs umoci insert: $(r umoci-insert outport-cli-gzip)x umoci's throughput (target >= 1.5)"
echo "gzip export vs tar|pigz|sha256sum: $(r outport-cli-gzip tar-pigz)x its time (target <= 1.2)"
echo "zstd export vs skopeo copy to zstd: $(r outport-cli-zstd skopeo-copy-zstd)x its time (target <= 1)"
echo "npm vs CLI: gzip $(r outport-npm-gzip outport-cli-gzip)x, zstd $(r outport-npm-zstd outport-cli-zstd)x"
echo "cached re-export: $(r outport-cli-gzip outport-cli-gzip-cached)x faster than the first (target >= 20)"
echo "size: gzip level 6 $(s outport-cli-gzip tar-gzip-6) vs gzip -6 (target within 1%); zstd level 3 $(s outport-cli-zstd tar-zstd-3-T0) vs zstd -3 (within 5%)"
