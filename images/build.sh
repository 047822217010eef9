#!/usr/bin/env bash
# Builds the Airlock sandbox images from Debian packages only (no registry, no Docker Hub):
#
#   1. airlock-base:<hash>  debootstrap --variant=minbase <suite> + python3 + nodejs, security
#                           updates applied, docs/caches/setuid bits stripped, `docker import`ed.
#   2. airlock-sandbox-<runtime>:<hash> and :v3 for runtime in python, node, bash:
#                           images/sandbox/Dockerfile with --build-arg RUNTIME=<runtime> FROM that
#                           base (pinned by image ID): users sandbox (10001) and airlock (10000), the supervisor
#                           and its call relay, the capability clients, /etc/airlock-runtime, WORKDIR /work.
#
# <hash> is a hash of the build inputs (base: the recipe in images/lib.sh, suite, mirrors, package
# list; runtime: the base hash, the runtime, the build step, the Dockerfile, the supervisor). An
# image whose hash tag already exists is not rebuilt, so a second run is a no-op that takes well
# under a second. The runner uses the stable `:v3` tags (v3 = supervisor protocol version); see
# images/README.md.
#
#   bash images/build.sh            build what is missing, print the resolved tags
#   bash images/build.sh --force    rebuild everything (e.g. to pick up new Debian security updates)
#   bash images/build.sh --prune    also remove airlock-base/airlock-sandbox-* tags of older hashes
#                                   and untagged images left by earlier builds (stable `:vN` tags
#                                   of other protocol versions are kept)
#
# Environment:
#   AIRLOCK_DEBIAN_SUITE    Debian suite of the images (default bookworm)
#   AIRLOCK_DEBIAN_MIRROR   archive URI (default: the first enabled `deb` source of that suite in
#                           /etc/apt/sources.list{,.d/*.list,.d/*.sources})
#   AIRLOCK_DEBIAN_SECURITY security archive URI (default: the source of <suite>-security; empty
#                           and not found = no security updates, with a warning)
#   AIRLOCK_IMAGES_UPDATES  0 = skip <suite>-updates/-security upgrades (default 1)
#   AIRLOCK_IMAGES_CACHE    work/cache dir (default /var/cache/airlock-images; .debs are reused)
#
# Needs root (debootstrap, chroot), docker and debootstrap: `bash scripts/ensure-docker.sh` first.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOG_NAME=images
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
RUNTIMES=(python node bash)
# One shared base for all runtimes (see README "Why one base"): the supervisor needs python3 in
# every image anyway, nodejs is the only extra. bash + coreutils come with minbase.
BASE_PACKAGES=python3,nodejs
STABLE_TAG=v3
PRUNE=0

for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --prune) PRUNE=1 ;;
    -h | --help) usage_text; exit 0 ;;
    *) echo "usage: $0 [--force] [--prune]" >&2; exit 2 ;;
  esac
done

require_docker
resolve_apt_sources
[ -f "$HERE/sandbox/Dockerfile" ] || die "missing $HERE/sandbox/Dockerfile"

# build_runtime RUNTIME: airlock-sandbox-RUNTIME:<hash> FROM $BASE_ID. Its body is hashed too.
build_runtime() {
  local rt=$1
  new_ctx
  cp "$HERE/sandbox/Dockerfile" "$HERE/supervisor/supervisor.py" "$HERE/supervisor/call_relay.py" \
    "$HERE/clients/python/airlock.py" "$HERE/clients/bash/airlock-call" "$CTX/"
  cp -r "$HERE/clients/node/airlock" "$CTX/node-airlock"
  docker_build "airlock-sandbox-$rt:${RT_HASH[$rt]}" "$rt-${RT_HASH[$rt]}" \
    --build-arg "BASE_IMAGE=$BASE_ID" --build-arg "RUNTIME=$rt" \
    --label "airlock.inputs-hash=${RT_HASH[$rt]}" --label "airlock.base-hash=$BASE_HASH"
  drop_ctx
}

# --- hashes of the build inputs ------------------------------------------------------------------
BASE_HASH=$(base_hash "$BASE_PACKAGES" "")
declare -A RT_HASH
for rt in "${RUNTIMES[@]}"; do
  RT_HASH[$rt]=$({
    echo "base=$BASE_HASH runtime=$rt"
    declare -f build_runtime docker_build
    sha256sum "$HERE/sandbox/Dockerfile" "$HERE/supervisor/supervisor.py" "$HERE/supervisor/call_relay.py" \
      "$HERE/clients/python/airlock.py" "$HERE/clients/bash/airlock-call" \
      "$HERE/clients/node/airlock/index.js" "$HERE/clients/node/airlock/package.json" | cut -d' ' -f1
  } | sha)
done

# Serialize concurrent runs (a developer and a test run both calling this script).
take_lock

todo=()
for rt in "${RUNTIMES[@]}"; do
  if need "airlock-sandbox-$rt:${RT_HASH[$rt]}"; then todo+=("$rt"); fi
done

if [ ${#todo[@]} -gt 0 ]; then
  # --- 1. base rootfs ----------------------------------------------------------------------------
  if need "airlock-base:$BASE_HASH"; then
    build_base_image airlock-base "$BASE_HASH" airlock.base-hash "$BASE_PACKAGES" ""
    docker tag "airlock-base:$BASE_HASH" airlock-base:latest
  else
    say "airlock-base:$BASE_HASH exists"
  fi
  BASE_ID=$(image_id "airlock-base:$BASE_HASH")

  # --- 2. runtime images -------------------------------------------------------------------------
  for rt in "${todo[@]}"; do build_runtime "$rt"; done
else
  say "all images up to date (base $BASE_HASH)"
fi

# Stable aliases: always re-pointed (cheap), so a rebuilt hash is what `:v3` means. Older stable
# tags (`:v1`, `:v2`, another protocol) are left alone: runners of older checkouts keep using them.
for rt in "${RUNTIMES[@]}"; do
  docker tag "airlock-sandbox-$rt:${RT_HASH[$rt]}" "airlock-sandbox-$rt:$STABLE_TAG"
done

if [ "$PRUNE" = 1 ]; then
  keep=("airlock-base:$BASE_HASH" airlock-base:latest)
  for rt in "${RUNTIMES[@]}"; do keep+=("airlock-sandbox-$rt:${RT_HASH[$rt]}" "airlock-sandbox-$rt:$STABLE_TAG"); done
  # Stable tags of other protocol versions (`:v1`…) belong to runners of other checkouts.
  while read -r ref; do keep+=("$ref"); done < <(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^airlock-sandbox-(python|node|bash):v[0-9]+$' || true)
  # Untagged leftovers of earlier (e.g. --force) builds: every image built here has this label.
  prune_images '^airlock-(base|sandbox-(python|node|bash)):' airlock.base-hash "${keep[@]}"
fi

# Resolved tags (not written to a file on purpose: the runner uses the stable tags and resolves
# them to image IDs itself).
for rt in "${RUNTIMES[@]}"; do
  docker image inspect --format "$rt airlock-sandbox-$rt:$STABLE_TAG airlock-sandbox-$rt:${RT_HASH[$rt]} {{.Id}} {{.Size}}" \
    "airlock-sandbox-$rt:$STABLE_TAG" |
    awk '{ printf "%-6s %-28s %-36s %s %.0fMB\n", $1, $2, $3, substr($4, 1, 19), $5 / 1e6 }'
done
say "done"
