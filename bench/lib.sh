# Shared by the benchmark scripts (sourced, not run).

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
