#!/usr/bin/env bash
# App containerizing benchmark (not a test): a real Node app (a copy of the system's npm: package.json,
# lib/, node_modules/) put onto a base image in a fresh local registry (Debian's docker-registry on
# 127.0.0.1) by outport --node-app (native CLI and npm) and by containerify (fetched from the npm
# registry into a temporary directory, never a project dependency). Measures the first push and a
# no-change re-push, wall time and peak RSS, and the ratios to containerify.
# Usage: bench/app.sh [BASE_MB]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_start app
base_mb="${1:-60}"

# The base: real files of this system, like a slim distro image.
copy_system_files "$work/base" "$base_mb" /usr/lib/x86_64-linux-gnu /usr/share/perl /usr/bin
cp -a /usr/lib/node_modules/npm "$work/app"
echo "base: $(du -sm "$work/base" | cut -f1) MB; app: $(find "$work/app" -type f | wc -l) files," \
  "$(du -sm "$work/app" | cut -f1) MB ($(du -sm "$work/app/node_modules" | cut -f1) MB node_modules)"

prepare_outport
(cd "$work" && mkdir cfy && cd cfy && npm init -y > /dev/null && npm install --no-audit --no-fund --silent containerify > /dev/null)
containerify="$work/cfy/node_modules/containerify/lib/cli.js"
echo "containerify $(node "$containerify" --version)"

start_registry
OUTPORT_STORE="$work/base-store" target/release/outport export "$work/base" --cmd '["node"]' \
  -o "type=registry,name=$addr/node:base,registry.insecure=true" --progress quiet > /dev/null

rate_size=$(du -sm "$work/app" | cut -f1) rate_unit=MB # of the app

outport_push() { # binary..., repository
  local repo=${*: -1}
  OUTPORT_STORE="$work/store-$repo" "${@:1:$#-1}" export --node-app "$work/app" --base "$addr/node:base" --base-insecure \
    -o "type=registry,name=$addr/$repo:1,registry.insecure=true" --progress quiet
}
cfy_push() { # repository
  node "$containerify" --fromRegistry "http://$addr/v2/" --fromImage node:base --toRegistry "http://$addr/v2/" \
    --toImage "$1:1" --folder "$work/app" --allowNoPushAuth --layerCacheFolder "$work/cfy-cache-$1" \
    --buildFolder "$work/cfy-build-$1-$RANDOM"
}

export -f outport_push cfy_push
export work addr containerify
measure outport-cli-first outport_push target/release/outport cli
measure outport-cli-repush outport_push target/release/outport cli
measure outport-npm-first outport_push node npm/bin/outport.js npm
measure outport-npm-repush outport_push node npm/bin/outport.js npm
measure containerify-first cfy_push cfy
measure containerify-repush cfy_push cfy
skopeo inspect --tls-verify=false "docker://$addr/cli:1" | python3 -c 'import json,sys; print("outport image layers:", len(json.load(sys.stdin)["Layers"]))'
skopeo inspect --tls-verify=false "docker://$addr/cfy:1" | python3 -c 'import json,sys; print("containerify image layers:", len(json.load(sys.stdin)["Layers"]))'
echo "time ratio vs containerify (below 1 is faster): first push cli $(ratio outport-cli-first containerify-first)x," \
  "npm $(ratio outport-npm-first containerify-first)x; re-push cli $(ratio outport-cli-repush containerify-repush)x," \
  "npm $(ratio outport-npm-repush containerify-repush)x"
echo
markdown_table
