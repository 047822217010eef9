#!/usr/bin/env bash
# Builds the Airlock sandbox images from Debian packages only (no registry, no Docker Hub):
#
#   1. airlock-base:<hash>  debootstrap --variant=minbase <suite> + python3 + nodejs, security
#                           updates applied, docs/caches/setuid bits stripped, `docker import`ed.
#   2. airlock-sandbox-<runtime>:<hash> and :v1 for runtime in python, node, bash:
#                           images/<runtime>/Dockerfile FROM that base (pinned by image ID),
#                           user sandbox (10001:10001), the supervisor, WORKDIR /work.
#
# <hash> is a hash of the build inputs (this script minus comment lines, suite, mirrors, package
# list, the Dockerfile, the supervisor). An image whose hash tag already exists is not rebuilt, so a second run is a
# no-op that takes well under a second. The runner uses the stable `:v1` tags (v1 = supervisor
# protocol version); see images/README.md.
#
#   bash images/build.sh            build what is missing, print the resolved tags
#   bash images/build.sh --force    rebuild everything (e.g. to pick up new Debian security updates)
#   bash images/build.sh --prune    also remove airlock-base/airlock-sandbox-* tags of older hashes
#                                   and untagged images left by earlier builds
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
SUITE=${AIRLOCK_DEBIAN_SUITE:-bookworm}
UPDATES=${AIRLOCK_IMAGES_UPDATES:-1}
CACHE=${AIRLOCK_IMAGES_CACHE:-/var/cache/airlock-images}
RUNTIMES=(python node bash)
# One shared base for all runtimes (see README "Why one base"): the supervisor needs python3 in
# every image anyway, nodejs is the only extra. bash + coreutils come with minbase.
BASE_PACKAGES=python3,nodejs
STABLE_TAG=v1
SANDBOX_UID=10001
# DOCKER_BUILDKIT=0: Debian's docker.io has no buildx; the legacy builder needs nothing else and
# honours --network none for RUN steps.
export DOCKER_BUILDKIT=0 DEBIAN_FRONTEND=noninteractive LC_ALL=C

FORCE=0
PRUNE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --prune) PRUNE=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--force] [--prune]" >&2; exit 2 ;;
  esac
done

T0=$EPOCHREALTIME
say() { printf '[images %6.2fs] %s\n' "$(awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { print a - b }')" "$*" >&2; }
die() { echo "[images] ERROR: $*" >&2; exit 1; }
sha() { sha256sum | cut -c1-12; }

command -v docker >/dev/null || die "docker CLI missing; run: bash scripts/ensure-docker.sh"
timeout 20 docker info >/dev/null 2>&1 || die "Docker engine not answering; run: bash scripts/ensure-docker.sh"

# --- apt sources --------------------------------------------------------------------------------
# Prints the URIs of enabled `deb` sources that list suite $1 with component main, in file order,
# from both the one-line (.list) and the deb822 (.sources) formats.
apt_uris() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opts] uri suite comp...   (options in brackets may contain spaces only inside [])
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk -v s="$suite" '$1 == "deb" { for (i = 4; i <= NF; i++) if ($3 == s && $i == "main") { print $2; break } }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ") && (" " comps " ") ~ / main / && enabled != "no")
          { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i] }
        types = suites = comps = uris = ""; enabled = "yes"
      }
      BEGIN { enabled = "yes" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "types") types = $0; else if (key == "suites") suites = $0
        else if (key == "components") comps = $0; else if (key == "uris") uris = $0
        else if (key == "enabled") enabled = tolower($0) }
      END { flush() }' "$f"
  done
}

MIRROR=${AIRLOCK_DEBIAN_MIRROR:-$(apt_uris "$SUITE" | head -n1)}
[ -n "$MIRROR" ] || die "no apt source for suite '$SUITE' (component main) in /etc/apt/sources.list*; set AIRLOCK_DEBIAN_MIRROR"
SECURITY=""
if [ "$UPDATES" = 1 ]; then
  SECURITY=${AIRLOCK_DEBIAN_SECURITY-$(apt_uris "$SUITE-security" | head -n1)}
  [ -n "$SECURITY" ] || say "WARNING: no source for $SUITE-security found; images get no security updates (set AIRLOCK_DEBIAN_SECURITY)"
fi

# --- hashes of the build inputs ------------------------------------------------------------------
BASE_HASH=$({
  # The recipe is this script: any change but a comment-only one rebuilds everything.
  grep -v '^[[:space:]]*#' "$HERE/build.sh" | sha256sum
  echo "suite=$SUITE mirror=$MIRROR security=$SECURITY updates=$UPDATES packages=$BASE_PACKAGES uid=$SANDBOX_UID"
} | sha)
declare -A RT_HASH
for rt in "${RUNTIMES[@]}"; do
  [ -f "$HERE/$rt/Dockerfile" ] || die "missing $HERE/$rt/Dockerfile"
  RT_HASH[$rt]=$({
    echo "base=$BASE_HASH runtime=$rt"
    sha256sum "$HERE/$rt/Dockerfile" "$HERE/supervisor/supervisor.py" | cut -d' ' -f1
  } | sha)
done

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# Serialize concurrent runs (a developer and a test run both calling this script).
mkdir -p "$CACHE/debs" "$CACHE/logs"
exec 9>"$CACHE/build.lock"
flock -w 900 9 || die "another images/build.sh holds $CACHE/build.lock for >15 min"

todo=()
for rt in "${RUNTIMES[@]}"; do
  if [ "$FORCE" = 1 ] || ! image_exists "airlock-sandbox-$rt:${RT_HASH[$rt]}"; then todo+=("$rt"); fi
done

# --- 1. base rootfs ------------------------------------------------------------------------------
build_base() {
  [ "$(id -u)" -eq 0 ] || die "building the base image needs root (debootstrap/chroot)"
  command -v debootstrap >/dev/null || die "debootstrap missing; run: bash scripts/ensure-docker.sh"
  local root="$CACHE/rootfs-$BASE_HASH" log="$CACHE/logs/base-$BASE_HASH.log"
  rm -rf "$root"
  say "debootstrap --variant=minbase --include=$BASE_PACKAGES $SUITE from $MIRROR (log: $log)"
  # --cache-dir keeps downloaded .debs, so a forced rebuild only downloads what changed.
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" --cache-dir="$CACHE/debs" \
    "$SUITE" "$root" "$MIRROR" >"$log" 2>&1 </dev/null; then
    tail -n 20 "$log" >&2
    die "debootstrap failed; see $log"
  fi

  if [ "$UPDATES" = 1 ]; then
    say "applying $SUITE-updates${SECURITY:+ and $SUITE-security} (apt-get upgrade in a chroot)"
    {
      echo "deb $MIRROR $SUITE main"
      echo "deb $MIRROR $SUITE-updates main"
      [ -z "$SECURITY" ] || echo "deb $SECURITY $SUITE-security main"
    } >"$root/etc/apt/sources.list"
    # debootstrap copied the host's resolv.conf into the rootfs; apt needs no /proc for this.
    local chroot_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C)
    if ! { chroot "$root" "${chroot_env[@]}" apt-get -q update &&
      chroot "$root" "${chroot_env[@]}" apt-get -q -y -o Dpkg::Options::=--force-confold upgrade; } >>"$log" 2>&1 </dev/null; then
      tail -n 20 "$log" >&2
      die "apt-get upgrade in the rootfs failed; see $log (AIRLOCK_IMAGES_UPDATES=0 skips it)"
    fi
    echo "deb $MIRROR $SUITE main" >"$root/etc/apt/sources.list"
  fi

  say "trimming the rootfs"
  (
    cd "$root"
    # Docker bind-mounts resolv.conf/hostname/hosts; the host's copies must not ship.
    rm -f etc/resolv.conf etc/hostname etc/machine-id var/lib/dbus/machine-id
    rm -rf var/lib/apt/lists/* var/cache/apt/* var/cache/debconf/*-old var/lib/dpkg/*-old \
      usr/share/man/* usr/share/info/* usr/share/locale/* usr/share/lintian tmp/* var/tmp/*
    find var/log -type f -delete
    # Keep license texts (copyright), drop the rest of /usr/share/doc.
    find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
    find usr/share/doc -mindepth 1 -type d -empty -delete
    # No setuid/setgid programs (su, passwd, mount…): no-new-privileges already neuters them;
    # this is belt and braces for a container started without it.
    find . -xdev -type f -perm /6000 -exec chmod ug-s {} +
  )

  say "docker import airlock-base:$BASE_HASH ($(du -sh "$root" | cut -f1))"
  # --numeric-owner: ownership by id, never remapped through the host's /etc/passwd.
  tar --numeric-owner -C "$root" -c . |
    docker import \
      --change "LABEL airlock.base-hash=$BASE_HASH airlock.suite=$SUITE" \
      --message "debootstrap minbase $SUITE + $BASE_PACKAGES from $MIRROR" \
      - "airlock-base:$BASE_HASH" >/dev/null
  docker tag "airlock-base:$BASE_HASH" airlock-base:latest
  rm -rf "$root"
}

if [ ${#todo[@]} -gt 0 ]; then
  if [ "$FORCE" = 1 ] || ! image_exists "airlock-base:$BASE_HASH"; then
    build_base
  else
    say "airlock-base:$BASE_HASH exists"
  fi
  BASE_ID=$(docker image inspect --format '{{.Id}}' "airlock-base:$BASE_HASH")

  # --- 2. runtime images -------------------------------------------------------------------------
  for rt in "${todo[@]}"; do
    tag="airlock-sandbox-$rt:${RT_HASH[$rt]}"
    ctx=$(mktemp -d)
    cp "$HERE/$rt/Dockerfile" "$HERE/supervisor/supervisor.py" "$ctx/"
    log="$CACHE/logs/$rt-${RT_HASH[$rt]}.log"
    say "docker build $tag (FROM $BASE_ID)"
    if ! docker build --network none --force-rm --no-cache \
      --build-arg "BASE_IMAGE=$BASE_ID" \
      --label "airlock.inputs-hash=${RT_HASH[$rt]}" --label "airlock.base-hash=$BASE_HASH" \
      -t "$tag" "$ctx" >"$log" 2>&1 </dev/null; then
      tail -n 30 "$log" >&2
      rm -rf "$ctx"
      die "docker build of $tag failed; see $log"
    fi
    rm -rf "$ctx"
  done
else
  say "all images up to date (base $BASE_HASH)"
fi

# Stable aliases: always re-pointed (cheap), so a rebuilt hash is what `:v1` means.
for rt in "${RUNTIMES[@]}"; do
  docker tag "airlock-sandbox-$rt:${RT_HASH[$rt]}" "airlock-sandbox-$rt:$STABLE_TAG"
done

if [ "$PRUNE" = 1 ]; then
  keep=" airlock-base:$BASE_HASH airlock-base:latest "
  for rt in "${RUNTIMES[@]}"; do keep+="airlock-sandbox-$rt:${RT_HASH[$rt]} airlock-sandbox-$rt:$STABLE_TAG "; done
  for ref in $(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^airlock-(base|sandbox-(python|node|bash)):'); do
    case "$keep" in *" $ref "*) ;; *) say "pruning $ref"; docker image rm "$ref" >/dev/null || true ;; esac
  done
  # Untagged leftovers of earlier (e.g. --force) builds; every image built here has this label.
  docker image prune -f --filter label=airlock.base-hash >/dev/null || true
fi

# Resolved tags (not written to a file on purpose: the runner uses the stable tags and resolves
# them to image IDs itself).
for rt in "${RUNTIMES[@]}"; do
  docker image inspect --format "$rt airlock-sandbox-$rt:$STABLE_TAG airlock-sandbox-$rt:${RT_HASH[$rt]} {{.Id}} {{.Size}}" \
    "airlock-sandbox-$rt:$STABLE_TAG" |
    awk '{ printf "%-6s %-28s %-36s %s %.0fMB\n", $1, $2, $3, substr($4, 1, 19), $5 / 1e6 }'
done
say "done"
