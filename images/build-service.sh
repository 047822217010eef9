#!/usr/bin/env bash
# Builds the images of the docker-compose stack (docker-compose.yml) from local material only —
# Debian packages from the host's apt mirror, the host's Node binary and node_modules, the
# project's sources. No registry, no Docker Hub, no npm install inside a build:
#
#   0. the sandbox images (images/build.sh; skipped with --no-sandbox)
#   1. airlock-service-base:<hash>  debootstrap --variant=minbase <suite>, security updates and
#                                   redis-server installed with apt in a chroot, trimmed, setuid
#                                   bits cleared, `docker import`ed (one base for both images)
#   2. airlock-redis:<hash>, :local images/service/Dockerfile.redis FROM the base
#   3. airlock-service-deps:<hash>  images/service/Dockerfile.deps: the host's Node binary +
#                                   production node_modules (`npm prune --omit=dev` of a copy of
#                                   the host's tree: native addons such as isolated-vm stay the
#                                   ones built here, for this Node, against bookworm's glibc)
#   4. airlock-service:<hash>, :local images/service/Dockerfile.app: + package.json,
#                                   tsconfig.json, harness/, runner/, protocol/ (run by tsx)
#
# Every <hash> is a hash of that image's inputs (recipe, suite, mirrors, Dockerfile, Node binary,
# dependency tree, sources), so an image whose hash tag exists is not rebuilt: a second run is a
# no-op of about a second. Editing sources rebuilds only step 4 (a few seconds). compose uses the
# `:local` tags (re-pointed on every run); the test pins the `<hash>` tags printed at the end.
# The base recipe (build_base_image), apt source detection, lock and build helpers are shared
# with images/build.sh in images/lib.sh.
#
#   bash images/build-service.sh              build what is missing, print the resolved tags
#   bash images/build-service.sh --force      rebuild the service images (e.g. for Debian updates)
#   bash images/build-service.sh --prune      also remove service tags of older hashes
#   bash images/build-service.sh --no-sandbox do not run images/build.sh
#   bash images/build-service.sh --print-env  print AIRLOCK_*_IMAGE=<hash tag> lines on stdout
#
# Environment:
#   AIRLOCK_DEBIAN_SUITE, AIRLOCK_DEBIAN_MIRROR, AIRLOCK_DEBIAN_SECURITY, AIRLOCK_IMAGES_UPDATES,
#   AIRLOCK_IMAGES_CACHE   as for images/build.sh (same cache dir, same .deb cache, same lock)
#   AIRLOCK_NODE_BIN       Node binary to ship (default: `node` on PATH, symlinks resolved);
#                          must be the Node that node_modules' native addons were built for
#
# Needs root (debootstrap, chroot) only when the base has to be built; docker, debootstrap and
# npm (for the prune) on the host: `bash scripts/ensure-docker.sh` first.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
LOG_NAME=service-images
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
SVC=$HERE/service
# Installed with apt in the chroot (not debootstrap --include) so that policy-rc.d is in place
# first: the package must not try to start a redis-server inside the build chroot.
SERVICE_PACKAGES=redis-server
STABLE_TAG=local
# Project files that make up the app layer (besides node_modules).
APP_FILES=(package.json tsconfig.json)
APP_DIRS=(harness runner protocol sealer mcp)

PRUNE=0
SANDBOX=1
PRINT_ENV=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --prune) PRUNE=1 ;;
    --no-sandbox) SANDBOX=0 ;;
    --print-env) PRINT_ENV=1 ;;
    -h | --help) usage_text; exit 0 ;;
    *) echo "usage: $0 [--force] [--prune] [--no-sandbox] [--print-env]" >&2; exit 2 ;;
  esac
done

require_docker

# --- 0. sandbox images ---------------------------------------------------------------------------
# First, and outside our lock: build.sh takes the same lock itself.
if [ "$SANDBOX" = 1 ]; then
  sandbox_args=()
  [ "$PRUNE" = 0 ] || sandbox_args+=(--prune)
  bash "$HERE/build.sh" "${sandbox_args[@]}" >&2 || die "images/build.sh failed"
fi

# --- inputs ----------------------------------------------------------------------------------------
resolve_apt_sources

NODE_BIN=${AIRLOCK_NODE_BIN:-$(command -v node || true)}
[ -n "$NODE_BIN" ] || die "no node on PATH; set AIRLOCK_NODE_BIN"
NODE_BIN=$(readlink -f "$NODE_BIN")
NODE_VERSION=$("$NODE_BIN" -p 'process.version') || die "$NODE_BIN does not run"
"$NODE_BIN" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  die "$NODE_BIN is $NODE_VERSION; package.json wants >= 20.19"
[ -f "$ROOT/node_modules/.package-lock.json" ] || die "no node_modules in $ROOT; run: npm ci"
[ -f "$ROOT/node_modules/isolated-vm/package.json" ] || die "node_modules lacks isolated-vm; run: npm ci"

# --- hashes ----------------------------------------------------------------------------------------
# One base for both images: debootstrap minbase + redis-server (images/lib.sh build_base_image).
BASE_HASH=$(base_hash "" "$SERVICE_PACKAGES")
REDIS_HASH=$({
  echo "base=$BASE_HASH"
  sha256sum <"$SVC/Dockerfile.redis"
} | sha)
# The installed dependency tree: npm's hidden lockfile describes what is in node_modules, the
# native addons are hashed themselves (a rebuild for another Node changes them, not the lockfile).
# sha256 of the ~100 MB Node binary, memoized by path/size/mtime/inode (saves ~0.5 s per no-op run).
node_sha() {
  local key memo="$CACHE/node-sha256" line=""
  key=$(stat -c '%n %s %Y %i' "$NODE_BIN")
  [ -f "$memo" ] && line=$(head -n1 "$memo")
  if [ "$line" != "$key" ]; then
    mkdir -p "$CACHE"
    printf '%s\n%s\n' "$key" "$(sha256sum <"$NODE_BIN" | cut -d' ' -f1)" >"$memo.$$"
    mv -f "$memo.$$" "$memo"
  fi
  sed -n 2p "$memo"
}
native_addons() { find "$ROOT/node_modules" -name '*.node' -type f -print0 | sort -z; }
DEPS_HASH=$({
  echo "base=$BASE_HASH node=$NODE_VERSION"
  sha256sum <"$SVC/Dockerfile.deps"
  node_sha
  sha256sum <"$ROOT/package-lock.json"
  sha256sum <"$ROOT/node_modules/.package-lock.json"
  native_addons | (cd "$ROOT" && xargs -0 -r sha256sum)
} | sha)
# Sources: every regular file under APP_DIRS, by path and content.
app_files() {
  (cd "$ROOT" && printf '%s\0' "${APP_FILES[@]}" && find "${APP_DIRS[@]}" -type f -print0 | sort -z)
}
APP_HASH=$({
  echo "deps=$DEPS_HASH"
  sha256sum <"$SVC/Dockerfile.app"
  app_files | (cd "$ROOT" && xargs -0 sha256sum)
} | sha)

# The same lock as images/build.sh: one image build at a time on this host (and the .deb cache
# is shared).
take_lock

built=0

# --- 1. base rootfs --------------------------------------------------------------------------------
# Needed only for the images built directly on it.
if need "airlock-redis:$REDIS_HASH" || need "airlock-service-deps:$DEPS_HASH"; then
  if need "airlock-service-base:$BASE_HASH"; then
    build_base_image airlock-service-base "$BASE_HASH" airlock.service-base-hash "" "$SERVICE_PACKAGES"
  else
    say "airlock-service-base:$BASE_HASH exists"
  fi
  BASE_ID=$(image_id "airlock-service-base:$BASE_HASH")
fi

# --- 2. redis ----------------------------------------------------------------------------------------
if need "airlock-redis:$REDIS_HASH"; then
  new_ctx
  cp "$SVC/Dockerfile.redis" "$CTX/Dockerfile"
  docker_build "airlock-redis:$REDIS_HASH" "redis-$REDIS_HASH" --build-arg "BASE_IMAGE=$BASE_ID" \
    --label "airlock.inputs-hash=$REDIS_HASH" --label "airlock.service-base-hash=$BASE_HASH"
  drop_ctx
  built=1
fi

# --- 3. node + node_modules --------------------------------------------------------------------------
if need "airlock-service-deps:$DEPS_HASH"; then
  command -v npm >/dev/null || die "npm missing (needed to prune dev dependencies)"
  new_ctx
  cp "$SVC/Dockerfile.deps" "$CTX/Dockerfile"
  cp "$NODE_BIN" "$CTX/node"
  mkdir "$CTX/prune"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$CTX/prune/"
  say "copying node_modules and pruning dev dependencies (offline)"
  cp -a "$ROOT/node_modules" "$CTX/prune/node_modules"
  if ! (cd "$CTX/prune" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error) \
    >"$CACHE/logs/deps-$DEPS_HASH.log" 2>&1 </dev/null; then
    tail -n 20 "$CACHE/logs/deps-$DEPS_HASH.log" >&2
    die "npm prune failed; see $CACHE/logs/deps-$DEPS_HASH.log"
  fi
  mv "$CTX/prune/node_modules" "$CTX/node_modules"
  rm -rf "$CTX/prune"
  # Readable by the non-root service user whatever the host's umask was.
  chmod -R a+rX,go-w "$CTX/node_modules"
  chmod 755 "$CTX/node"
  docker_build "airlock-service-deps:$DEPS_HASH" "deps-$DEPS_HASH" --build-arg "BASE_IMAGE=$BASE_ID" \
    --label "airlock.inputs-hash=$DEPS_HASH" --label "airlock.service-base-hash=$BASE_HASH"
  drop_ctx
  built=1
fi

# --- 4. app ------------------------------------------------------------------------------------------
if need "airlock-service:$APP_HASH"; then
  new_ctx
  cp "$SVC/Dockerfile.app" "$CTX/Dockerfile"
  mkdir "$CTX/app"
  app_files | (cd "$ROOT" && xargs -0 cp --parents -t "$CTX/app")
  chmod -R a+rX,go-w "$CTX/app"
  docker_build "airlock-service:$APP_HASH" "app-$APP_HASH" \
    --build-arg "DEPS_IMAGE=$(image_id "airlock-service-deps:$DEPS_HASH")" \
    --label "airlock.inputs-hash=$APP_HASH" --label "airlock.service-base-hash=$BASE_HASH" \
    --label "airlock.node-version=$NODE_VERSION"
  drop_ctx
  # Smoke test: the native addon loads in this Node inside the image, and tsx resolves.
  say "smoke test: isolated-vm and tsx in airlock-service:$APP_HASH"
  if ! docker run --rm --network none --read-only --tmpfs /tmp --label airlock.build=1 \
    "airlock-service:$APP_HASH" node --no-node-snapshot -e '
      const ivm = require("isolated-vm");
      const isolate = new ivm.Isolate({ memoryLimit: 8 });
      const two = isolate.compileScriptSync("1 + 1").runSync(isolate.createContextSync());
      require.resolve("tsx");
      if (two !== 2) process.exit(1);' >&2; then
    docker image rm "airlock-service:$APP_HASH" >/dev/null 2>&1 || true
    die "airlock-service:$APP_HASH cannot run isolated-vm (Node binary and node_modules do not match?)"
  fi
  built=1
fi

[ "$built" = 1 ] || say "all service images up to date (base $BASE_HASH)"

docker tag "airlock-redis:$REDIS_HASH" "airlock-redis:$STABLE_TAG"
docker tag "airlock-service:$APP_HASH" "airlock-service:$STABLE_TAG"

if [ "$PRUNE" = 1 ]; then
  prune_images '^airlock-(service-base|service-deps|service|redis):' airlock.service-base-hash \
    "airlock-service-base:$BASE_HASH" "airlock-redis:$REDIS_HASH" "airlock-redis:$STABLE_TAG" \
    "airlock-service-deps:$DEPS_HASH" "airlock-service:$APP_HASH" "airlock-service:$STABLE_TAG"
fi

for ref in "airlock-redis:$REDIS_HASH" "airlock-service:$APP_HASH"; do
  docker image inspect --format "$ref {{.Id}} {{.Size}}" "$ref" |
    awk '{ printf "%-32s %s %.0fMB\n", $1, substr($2, 1, 19), $3 / 1e6 }' >&2
done
if [ "$PRINT_ENV" = 1 ]; then
  echo "AIRLOCK_REDIS_IMAGE=airlock-redis:$REDIS_HASH"
  echo "AIRLOCK_SERVICE_IMAGE=airlock-service:$APP_HASH"
fi
say "done"
