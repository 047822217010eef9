# shellcheck shell=bash
# Shared by images/build.sh (sandbox images) and images/build-service.sh (compose stack images).
# Sourced, never run. Both scripts do the same thing in the same way:
#
#   - find the Debian mirror and security archive in the host's apt sources (apt_uris);
#   - make a base image from Debian packages only: debootstrap minbase + updates/security
#     upgrade + optional apt installs in a chroot, trimmed, setuid bits cleared, `docker import`ed
#     (build_base_image), tagged with a hash of its recipe and inputs (base_hash);
#   - `docker build --network none` thin images FROM that base, pinned by image ID (docker_build);
#   - skip every image whose hash tag already exists, so a second run is a sub-second no-op;
#   - serialize on one lock and share one .deb cache ($CACHE).
#
# Set LOG_NAME (the prefix of progress messages) before sourcing. After sourcing, the script has
# SUITE, UPDATES, CACHE (from the environment, see build.sh), FORCE=0 (need() reads it), and calls
# require_docker, resolve_apt_sources (sets MIRROR, SECURITY) and take_lock itself.

SUITE=${AIRLOCK_DEBIAN_SUITE:-bookworm}
UPDATES=${AIRLOCK_IMAGES_UPDATES:-1}
CACHE=${AIRLOCK_IMAGES_CACHE:-/var/cache/airlock-images}
# DOCKER_BUILDKIT=0: Debian's docker.io has no buildx; the legacy builder needs nothing else and
# honours --network none for RUN steps.
export DOCKER_BUILDKIT=0 DEBIAN_FRONTEND=noninteractive LC_ALL=C
FORCE=0
MIRROR=""
SECURITY=""
T0=$EPOCHREALTIME

say() { printf '[%s %6.2fs] %s\n' "${LOG_NAME:-images}" "$(awk -v a="$EPOCHREALTIME" -v b="$T0" 'BEGIN { print a - b }')" "$*" >&2; }
die() { echo "[${LOG_NAME:-images}] ERROR: $*" >&2; exit 1; }
sha() { sha256sum | cut -c1-12; }
# The script's header comment (line 2 up to `set -euo`) is its --help.
usage_text() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

require_docker() {
  command -v docker >/dev/null || die "docker CLI missing; run: bash scripts/ensure-docker.sh"
  timeout 20 docker info >/dev/null 2>&1 || die "Docker engine not answering; run: bash scripts/ensure-docker.sh"
}

# --- apt sources ---------------------------------------------------------------------------------
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

# Sets MIRROR and SECURITY (empty: no security updates) from the environment or the apt sources.
resolve_apt_sources() {
  MIRROR=${AIRLOCK_DEBIAN_MIRROR:-$(apt_uris "$SUITE" | head -n1)}
  [ -n "$MIRROR" ] || die "no apt source for suite '$SUITE' (component main) in /etc/apt/sources.list*; set AIRLOCK_DEBIAN_MIRROR"
  SECURITY=""
  if [ "$UPDATES" = 1 ]; then
    SECURITY=${AIRLOCK_DEBIAN_SECURITY-$(apt_uris "$SUITE-security" | head -n1)}
    [ -n "$SECURITY" ] || say "WARNING: no source for $SUITE-security found; the images get no security updates (set AIRLOCK_DEBIAN_SECURITY)"
  fi
}

# --- base image ----------------------------------------------------------------------------------
# build_base_image REPO HASH LABEL INCLUDE INSTALL: makes REPO:HASH from Debian packages.
#   LABEL    label key that carries HASH on the base and everything built FROM it (the prune filter)
#   INCLUDE  comma-separated packages for debootstrap --include (may be empty)
#   INSTALL  space-separated packages apt-get installs in the chroot after the upgrade (may be
#            empty), with policy-rc.d in place so that no service starts inside the build chroot
# The body of this function is part of base_hash (declare -f, comments not included), so editing
# the recipe rebuilds the bases, while edits elsewhere do not.
build_base_image() {
  local repo=$1 hash=$2 label=$3 include=$4 install=$5
  local root="$CACHE/rootfs-$repo-$hash" log="$CACHE/logs/$repo-$hash.log"
  local -a install_pkgs all_pkgs
  read -r -a install_pkgs <<<"$install"
  read -r -a all_pkgs <<<"${include//,/ } $install"
  [ "$(id -u)" -eq 0 ] || die "building $repo needs root (debootstrap/chroot)"
  command -v debootstrap >/dev/null || die "debootstrap missing; run: bash scripts/ensure-docker.sh"
  rm -rf "$root"
  say "debootstrap --variant=minbase${include:+ --include=$include} $SUITE from $MIRROR (log: $log)"
  # --cache-dir keeps downloaded .debs, so a forced rebuild only downloads what changed.
  if ! debootstrap --variant=minbase ${include:+"--include=$include"} --cache-dir="$CACHE/debs" \
    "$SUITE" "$root" "$MIRROR" >"$log" 2>&1 </dev/null; then
    tail -n 20 "$log" >&2
    die "debootstrap failed; see $log"
  fi

  # debootstrap alone installs the point release without security fixes.
  if [ "$UPDATES" = 1 ] || [ ${#install_pkgs[@]} -gt 0 ]; then
    say "apt-get upgrade${install:+, install $install}${SECURITY:+ with $SUITE-updates and $SUITE-security} (chroot)"
    {
      echo "deb $MIRROR $SUITE main"
      if [ "$UPDATES" = 1 ]; then
        echo "deb $MIRROR $SUITE-updates main"
        [ -z "$SECURITY" ] || echo "deb $SECURITY $SUITE-security main"
      fi
    } >"$root/etc/apt/sources.list"
    # No service may start inside the chroot while packages are configured.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    # debootstrap copied the host's resolv.conf into the rootfs; apt needs no /proc for this.
    local chroot_env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C)
    if ! { chroot "$root" "${chroot_env[@]}" apt-get -q update &&
      chroot "$root" "${chroot_env[@]}" apt-get -q -y -o Dpkg::Options::=--force-confold upgrade &&
      { [ ${#install_pkgs[@]} -eq 0 ] ||
        chroot "$root" "${chroot_env[@]}" apt-get -q -y --no-install-recommends install "${install_pkgs[@]}"; }; } \
      >>"$log" 2>&1 </dev/null; then
      tail -n 20 "$log" >&2
      die "apt-get in the rootfs failed; see $log (AIRLOCK_IMAGES_UPDATES=0 skips the upgrade)"
    fi
    echo "deb $MIRROR $SUITE main" >"$root/etc/apt/sources.list"
    rm -f "$root/usr/sbin/policy-rc.d"
  fi

  say "trimming the rootfs"
  (
    cd "$root" || exit 1
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

  say "docker import $repo:$hash ($(du -sh "$root" | cut -f1))"
  # --numeric-owner: ownership by id, never remapped through the host's /etc/passwd.
  tar --numeric-owner -C "$root" -c . |
    docker import \
      --change "LABEL $label=$hash airlock.suite=$SUITE" \
      --message "debootstrap minbase $SUITE + ${all_pkgs[*]} from $MIRROR" \
      - "$repo:$hash" >/dev/null
  rm -rf "$root"
}

# base_hash INCLUDE INSTALL: the hash tag of a base made by build_base_image with these packages.
# It does not see new packages on the mirror: --force picks up Debian updates.
base_hash() {
  {
    declare -f build_base_image
    echo "suite=$SUITE mirror=$MIRROR security=$SECURITY updates=$UPDATES include=$1 install=$2"
  } | sha
}

# --- images ----------------------------------------------------------------------------------------
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }
# True when image $1 has to be built: it is missing, or --force.
need() { [ "$FORCE" = 1 ] || ! image_exists "$1"; }

# One image build at a time on this host, across both scripts (the .deb cache is shared too).
take_lock() {
  mkdir -p "$CACHE/debs" "$CACHE/logs"
  exec 9>"$CACHE/build.lock"
  flock -w 900 9 || die "another image build holds $CACHE/build.lock for >15 min"
}

# Build context: new_ctx makes an empty $CTX under $CACHE, drop_ctx (also on exit) removes it.
CTX=""
drop_ctx() { [ -z "$CTX" ] || rm -rf "$CTX"; CTX=""; }
new_ctx() { drop_ctx; CTX=$(mktemp -d "$CACHE/ctx-XXXXXX"); }
trap drop_ctx EXIT

# docker_build TAG LOGNAME [ARGS...]: builds $CTX into TAG, offline, from scratch (no cache, so a
# --force rebuild really rebuilds); the output goes to $CACHE/logs/LOGNAME.log.
docker_build() {
  local tag=$1 log="$CACHE/logs/$2.log"
  shift 2
  say "docker build $tag"
  if ! docker build --network none --force-rm --no-cache "$@" -t "$tag" "$CTX" >"$log" 2>&1 </dev/null; then
    tail -n 30 "$log" >&2
    die "docker build of $tag failed; see $log"
  fi
}

# prune_images PATTERN LABEL KEEP...: removes every tag matching the (extended) regex PATTERN
# that is not one of KEEP, then untagged leftovers of earlier builds that carry LABEL.
prune_images() {
  local pattern=$1 label=$2 ref keep
  shift 2
  keep=" $* "
  for ref in $(docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E "$pattern"); do
    case "$keep" in *" $ref "*) ;; *) say "pruning $ref"; docker image rm "$ref" >/dev/null || true ;; esac
  done
  docker image prune -f --filter "label=$label" >/dev/null || true
}
