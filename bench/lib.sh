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
