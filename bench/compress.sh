#!/usr/bin/env bash
# Compression benchmark (not a test): a ~200 MB many-file rootfs (copied from /usr) exported as one
# layer by outport (native CLI and npm; gzip, zstd and estargz at their default levels), next to its
# peers compressing the same tree as one tar (made once, outside the timed runs), each piped to
# `tee BLOB | sha256sum` as an exporter writes and hashes its blob:
#   gzip-6, pigz, zstd-3-T0       gzip -6, pigz (level 6, all CPUs), zstd -3 -T0
#   zstd-3-long27-T0              zstd -3 --long=27 -T0: a size reference (a window outport does not use)
#   go-gzip-6                     BuildKit's gzip: Go's compress/gzip at level 6, one thread
#   go-klauspost-zstd             BuildKit's zstd: klauspost zstd.NewWriter defaults (SpeedDefault, GOMAXPROCS)
#   go-estargz-writer             BuildKit's eStargz: estargz.NewWriterLevel(6) + AppendTarLossLess
#   go-estargz-build              the reference writer's estargz.Build at level 6 (parallel parts)
# (the Go peers: bench/go-peers/main.go, built offline from Debian's Go packages into the temporary
# directory), and umoci inserting the tree into an image, skopeo recompressing outport's gzip image to
# zstd. All in one run on this machine: wall time, peak RSS, output size, the ratios issue 15 names
# against their targets, and a Markdown table for the README.
# Usage: bench/compress.sh [SIZE_MB]   (default 200)
# Needs: golang-go golang-github-klauspost-compress-dev golang-github-containerd-stargz-snapshotter-dev
# umoci skopeo pigz zstd.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_start compress
# umoci, skopeo and estargz.Build keep their temporary files here too.
export TMPDIR=$work
system_rootfs "${1:-200}"
tar -C "$work/rootfs" -cf "$work/tree.tar" .
rate_size=$(stat -c %s "$work/tree.tar" | awk '{ printf "%.1f", $1 / 1e6 }') rate_unit=MB
echo "rootfs: $(find "$work/rootfs" -type f | wc -l) files, ${rate_size} MB as tar; $(nproc) CPUs"

GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$work/go-cache" \
  go build -o "$work/go-peers" bench/go-peers/main.go \
  || { echo "building bench/go-peers failed: apt-get install golang-go golang-github-klauspost-compress-dev golang-github-containerd-stargz-snapshotter-dev" >&2; exit 1; }
prepare_outport
export SOURCE_DATE_EPOCH=1700000000

# The size of the single layer an OCI layout (directory) holds.
layer_size() {
  python3 -c 'import json,sys
d=sys.argv[1]; i=json.load(open(d+"/index.json"))
m=json.load(open(d+"/blobs/"+i["manifests"][0]["digest"].replace(":","/")))
print(m["layers"][0]["size"])' "$1"
}
# compress_tar COMMAND...: the tree's tar through COMMAND into $work/blob, hashed on the way.
compress_tar() {
  set -o pipefail
  "$@" < "$work/tree.tar" | tee "$work/blob" | sha256sum
}
# Only the export is timed: its destination is new, the layer's size is read afterwards.
outport_export() { # host (cli or npm), compression, store name, output name
  OUTPORT_STORE="$work/store-$3" run_outport "$1" export "$work/rootfs" \
    -o "type=oci,dest=$work/$4,tar=false,compression=$2" --progress quiet
}
export -f compress_tar outport_export

peer() { # name, command...
  local name=$1
  shift
  timed "$name" compress_tar "$@"
  stat -c %s "$work/blob" > "$work/$name.bytes"
  rm "$work/blob"
  row "$name"
}
outport_run() { # name, host, compression, store name, output name
  timed "$1" outport_export "${@:2}"
  layer_size "$work/$5" > "$work/$1.bytes"
  row "$1"
}

peer gzip-6 gzip -6
peer pigz pigz
peer zstd-3-T0 zstd -3 -T0 -q
peer zstd-3-long27-T0 zstd -3 --long=27 -T0 -q
peer go-gzip-6 "$work/go-peers" gzip
peer go-klauspost-zstd "$work/go-peers" zstd
peer go-estargz-writer "$work/go-peers" estargz
peer go-estargz-build "$work/go-peers" estargz-build
for host in cli npm; do
  for c in gzip zstd estargz; do
    outport_run "outport-$host-$c" "$host" "$c" "$host-$c" "$host-$c"
  done
done
# Cached re-export: the same tree into the same store again (a new destination).
outport_run outport-cli-gzip-cached cli gzip cli-gzip cli-gzip-again
timed umoci-insert sh -c "umoci init --layout '$work/umoci' && umoci new --image '$work/umoci:app' &&
  umoci insert --rootless --image '$work/umoci:app' '$work/rootfs' /"
layer_size "$work/umoci" > "$work/umoci-insert.bytes"
row umoci-insert
timed skopeo-copy-zstd skopeo copy -q --dest-compress-format zstd "oci:$work/cli-gzip" "oci:$work/skopeo-zstd"
layer_size "$work/skopeo-zstd" > "$work/skopeo-copy-zstd.bytes"
row skopeo-copy-zstd

echo
markdown_table
echo
echo "Ratios (throughput: the peer's time over outport's; size: outport's bytes over the peer's):"
check "gzip: throughput vs umoci insert" "$(ratio umoci-insert outport-cli-gzip)" ">=" 1.0
check "gzip: throughput vs Go compress/gzip level 6 (BuildKit)" "$(ratio go-gzip-6 outport-cli-gzip)" ">=" 2.5
check "gzip: size vs gzip -6" "$(size_ratio outport-cli-gzip gzip-6)" "<=" 1.015
echo "- gzip: time vs pigz (reference): $(ratio outport-cli-gzip pigz)"
check "zstd: throughput vs skopeo copy to zstd" "$(ratio skopeo-copy-zstd outport-cli-zstd)" ">=" 1.3
check "zstd: throughput vs klauspost zstd (BuildKit)" "$(ratio go-klauspost-zstd outport-cli-zstd)" ">=" 1.0
check "zstd: size vs zstd -3" "$(size_ratio outport-cli-zstd zstd-3-T0)" "<=" 0.93
echo "- zstd: size vs klauspost zstd: $(size_ratio outport-cli-zstd go-klauspost-zstd); vs zstd -3 --long=27 (reference): $(size_ratio outport-cli-zstd zstd-3-long27-T0)"
check "estargz: time vs the Go reference writer (estargz.Build)" "$(ratio outport-cli-estargz go-estargz-build)" "<=" 0.5
check "estargz: time vs BuildKit's estargz writer (NewWriterLevel + AppendTarLossLess)" "$(ratio outport-cli-estargz go-estargz-writer)" "<=" 0.5
for c in gzip zstd estargz; do
  check "npm vs CLI time, $c" "$(ratio "outport-npm-$c" "outport-cli-$c")" "<=" 1.3
done
check_memory
check "cached re-export: times faster than the first" "$(ratio outport-cli-gzip outport-cli-gzip-cached)" ">=" 20
