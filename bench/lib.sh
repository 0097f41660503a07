# Shared by the benchmark scripts (sourced, not run).

# bench_start NAME: the start every script shares: $work, a fresh temporary directory
# (/tmp/outport-bench-NAME.XXXXXX, exported for the shell functions timed runs call), removed on exit
# together with the registry (start_registry, $registry_pid) or engine ($podman_pid) a script started.
bench_start() {
  work=$(mktemp -d "/tmp/outport-bench-$1.XXXXXX")
  export work
  registry_pid= podman_pid=
  trap '[ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null; [ -n "$podman_pid" ] && kill "$podman_pid" 2>/dev/null; rm -rf "$work"' EXIT
}

# copy_system_files DEST MEGABYTES DIR...: real files of this system (binaries, libraries, docs; many
# small files and some large ones) copied with their attributes into DEST, in sorted path order, until
# MEGABYTES (decimal) would be exceeded.
copy_system_files() {
  local dest=$1 budget=$(($2 * 1000 * 1000)) total=0 f
  shift 2
  mkdir -p "$dest"
  while read -r f; do
    total=$((total + $(stat -c %s "$f")))
    [ "$total" -gt "$budget" ] && break
    mkdir -p "$dest$(dirname "$f")"
    cp -p "$f" "$dest$f"
  done < <(find "$@" -xdev -type f -size -20M -readable 2>/dev/null | sort)
}

# system_rootfs MEGABYTES: the many-file rootfs the load, push and compression benchmarks share:
# $work/rootfs, up to MEGABYTES of this system's libraries, shared files and programs.
system_rootfs() {
  copy_system_files "$work/rootfs" "$1" /usr/lib /usr/share /usr/bin
}

# start_registry: a fresh, empty Distribution registry (Debian's docker-registry) on a free port of
# 127.0.0.1, storing under $work/registry; sets $addr and $registry_pid (a running one is stopped
# first). The caller's EXIT trap kills $registry_pid.
start_registry() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work/registry"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$work/registry" "$port" > "$work/registry.yml"
  docker-registry serve "$work/registry.yml" > /dev/null 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  addr="127.0.0.1:$port"
}

# prepare_outport: build the native CLI and (if missing) the npm package's wasm, and warm the native
# CLI's compiled-core cache (it lives outside any store), so no timed run pays for compiling it.
prepare_outport() {
  cargo build --quiet --release -p outport-cli
  [ -f npm/wasm/outport_bg.wasm ] || bash npm/build.sh
  OUTPORT_STORE="$work/warm" target/release/outport export examples/rootfs -o "type=oci,dest=$work/warm.tar" \
    --progress quiet > /dev/null
  rm -rf "$work/warm" "$work/warm.tar"
}

# run_outport HOST ARGS...: the native CLI (HOST cli) or the npm package's CLI (HOST npm).
run_outport() {
  local host=$1
  shift
  case $host in
    cli) target/release/outport "$@" ;;
    npm) node npm/bin/outport.js "$@" ;;
    *) echo "run_outport: unknown host $host" >&2; return 2 ;;
  esac
}
export -f run_outport

# Timed runs. A script sets $work, $rate_size and $rate_unit (the data every run goes through, e.g.
# 200.6 MB, for the throughput column) before its first run.
#
# timed NAME COMMAND...: COMMAND (a program or an exported shell function) under /usr/bin/time, its
# output discarded; a failure stops the script with its stderr. Records $work/NAME.secs, NAME.kib
# (peak RSS) and appends NAME to $work/runs; `echo BYTES > $work/NAME.bytes` adds an output size.
timed() {
  local name=$1 secs kib
  shift
  /usr/bin/time -f '%e %M' -o "$work/time" bash -c '"$@"' _ "$@" > /dev/null 2> "$work/stderr" \
    || { echo "$name failed:"; cat "$work/stderr" "$work/time"; exit 1; } >&2
  read -r secs kib < "$work/time"
  echo "$secs" > "$work/$name.secs"
  echo "$kib" > "$work/$name.kib"
  echo "$name" >> "$work/runs"
}

# measure NAME COMMAND...: timed, then its row.
measure() {
  timed "$@"
  row "$1"
}

# run_fields NAME: "seconds rate peak-MiB bytes" of a timed run (bytes: - when it has none).
run_fields() {
  local bytes=-
  [ -f "$work/$1.bytes" ] && bytes=$(cat "$work/$1.bytes")
  awk -v s="$(cat "$work/$1.secs")" -v k="$(cat "$work/$1.kib")" -v m="$rate_size" -v b="$bytes" \
    'BEGIN { printf "%.2f %.1f %.1f %s\n", s, m / s, k / 1024, b }'
}

# row NAME: one line of a timed run, as it finishes.
row() {
  local secs rate mib bytes
  read -r secs rate mib bytes < <(run_fields "$1")
  printf '%-28s %8s s %9s %s/s %9s MiB peak %14s bytes\n' "$1" "$secs" "$rate" "$rate_unit" "$mib" "$bytes"
}

# markdown_table: every timed run so far, in order, as a Markdown table (for the README).
markdown_table() {
  local name secs rate mib bytes
  printf '| run | seconds | %s/s | peak MiB | bytes |\n|---|---:|---:|---:|---:|\n' "$rate_unit"
  while read -r name; do
    read -r secs rate mib bytes < <(run_fields "$name")
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$secs" "$rate" "$mib" "$bytes"
  done < "$work/runs"
}

# ratio A B: A's seconds over B's (with A a peer and B outport: how many times outport's throughput).
ratio() { awk -v a="$(cat "$work/$1.secs")" -v b="$(cat "$work/$2.secs")" 'BEGIN { printf "%.2f", a / b }'; }
# size_ratio A B: A's output bytes over B's.
size_ratio() { awk -v a="$(cat "$work/$1.bytes")" -v b="$(cat "$work/$2.bytes")" 'BEGIN { printf "%.4f", a / b }'; }

# check LABEL VALUE OP TARGET: one target line, "LABEL: VALUE (target OP TARGET): met" (or MISSED);
# OP is <, <=, >= or >.
check() {
  local verdict
  verdict=$(awk -v v="$2" -v op="$3" -v t="$4" 'BEGIN {
    ok = op == "<" ? v < t : op == "<=" ? v <= t : op == ">=" ? v >= t : op == ">" ? v > t : -1
    print ok == 1 ? "met" : ok == 0 ? "MISSED" : "bad operator " op }')
  printf -- '- %s: %s (target %s %s): %s\n' "$1" "$2" "$3" "$4" "$verdict"
}

# check_memory: the peak RSS targets for every timed outport run (names outport-cli-… and
# outport-npm-…): the CLI under 64 MiB, the npm package under 160 MiB.
check_memory() {
  local name mib
  while read -r name; do
    mib=$(awk -v k="$(cat "$work/$name.kib")" 'BEGIN { printf "%.1f", k / 1024 }')
    case $name in
      outport-cli-*) check "peak RSS, $name (MiB)" "$mib" "<" 64 ;;
      outport-npm-*) check "peak RSS, $name (MiB)" "$mib" "<" 160 ;;
    esac
  done < "$work/runs"
}
