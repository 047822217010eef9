#!/usr/bin/env bash
# Makes sure a Docker engine answers `docker info` on this machine, installing Debian's
# `docker.io` (plus `debootstrap`, needed by images/build.sh) when dockerd is missing and
# starting dockerd in the background when no engine answers. Idempotent, non-interactive,
# safe in CI (CI=true, no stdin). Exit 0 = engine ready; non-zero = a clear message on stderr.
#
#   bash scripts/ensure-docker.sh
#
# Environment:
#   AIRLOCK_DOCKERD_TIMEOUT  seconds to wait for the engine after starting it (default 60)
#   AIRLOCK_DOCKERD_LOG      dockerd log file (default /var/log/airlock-dockerd.log)
#   AIRLOCK_DOCKERD_PIDFILE  dockerd pidfile (default /var/run/airlock-dockerd.pid)
#   AIRLOCK_DOCKERD_ARGS     extra dockerd arguments (e.g. "--storage-driver=vfs"), tried first
#
# Found on the reference host (Debian 12 in a Firecracker VM, kernel 6.18, no systemd, cgroup v1
# mounted at /sys/fs/cgroup): docker.io 20.10.24 starts with no options at all — storage driver
# overlay2 on ext4, cgroup driver cgroupfs, default seccomp profile, iptables-nft works. The
# fallbacks below (--iptables=false, then vfs storage) exist for hosts where that is not so
# (kernels without nf_tables/iptables modules, overlay-on-overlay inside another container).
set -euo pipefail

LOG=${AIRLOCK_DOCKERD_LOG:-/var/log/airlock-dockerd.log}
PIDFILE=${AIRLOCK_DOCKERD_PIDFILE:-/var/run/airlock-dockerd.pid}
TIMEOUT=${AIRLOCK_DOCKERD_TIMEOUT:-60}
EXTRA_ARGS=${AIRLOCK_DOCKERD_ARGS:-}

say() { echo "[ensure-docker] $*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    NOT_ROOT=1
  fi
fi

# `timeout`: a wedged daemon must not hang the script (docker info has no timeout of its own).
engine_up() { timeout 10 "${SUDO[@]}" docker info >/dev/null 2>&1; }

summary() {
  timeout 10 "${SUDO[@]}" docker info --format \
    'engine {{.ServerVersion}}: storage={{.Driver}} cgroup={{.CgroupDriver}}/v{{.CgroupVersion}} runtime={{.DefaultRuntime}} init={{.InitBinary}} security={{json .SecurityOptions}}' \
    2>/dev/null || true
}

# The default bridge's interface (docker0) can vanish while dockerd runs (seen on the reference
# host: something deleted it; every bridge-networked `docker run` then fails with "could not find
# bridge docker0"). Sandboxes use --network none and do not care, but dev containers (redis in
# docker-compose.yml) do: recreate the interface with the gateway dockerd expects. Best effort.
repair_bridge() {
  [ -z "${NOT_ROOT:-}" ] && command -v ip >/dev/null 2>&1 || return 0
  local name cfg gw len
  name=$(timeout 10 "${SUDO[@]}" docker network inspect bridge \
    --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null) || return 0
  [ -n "$name" ] && [ ! -e "/sys/class/net/$name" ] || return 0
  cfg=$(timeout 10 "${SUDO[@]}" docker network inspect bridge \
    --format '{{range .IPAM.Config}}{{.Gateway}} {{.Subnet}}{{end}}' 2>/dev/null) || return 0
  gw=${cfg%% *}
  len=${cfg##*/}
  [ -n "$gw" ] && [ -n "$len" ] || return 0
  say "bridge interface $name is missing; recreating it ($gw/$len)"
  if ! { "${SUDO[@]}" ip link add name "$name" type bridge &&
    "${SUDO[@]}" ip addr add "$gw/$len" dev "$name" && "${SUDO[@]}" ip link set "$name" up; }; then
    say "WARNING: could not recreate $name; bridge-networked containers will fail (sandboxes are unaffected)"
  fi
}

ready() {
  say "$1: $(summary)"
  repair_bridge
  exit 0
}

# --- 1. binaries -------------------------------------------------------------------------------
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_pkgs+=(debootstrap)
# `docker run --init` needs docker-init (Debian: from `tini`, a docker.io dependency).
command -v docker-init >/dev/null 2>&1 || [ -x /usr/libexec/docker/docker-init ] || need_pkgs+=(tini)
command -v iptables >/dev/null 2>&1 || need_pkgs+=(iptables)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ -z "${NOT_ROOT:-}" ] || die "missing ${need_pkgs[*]} and not root (no passwordless sudo); install them: apt-get install -y ${need_pkgs[*]}"
  command -v apt-get >/dev/null 2>&1 || die "missing ${need_pkgs[*]} and no apt-get; install Docker Engine (>= 20.10) and debootstrap by hand"
  # Unique names, stable order.
  mapfile -t pkgs < <(printf '%s\n' "${need_pkgs[@]}" | awk '!seen[$0]++')
  say "installing ${pkgs[*]} from the Debian mirror…"
  export DEBIAN_FRONTEND=noninteractive
  # --no-install-recommends: skips apparmor/needrestart/git etc.; nothing the engine needs.
  "${SUDO[@]}" apt-get update -q </dev/null || die "apt-get update failed"
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${pkgs[@]}" </dev/null ||
    die "apt-get install ${pkgs[*]} failed"
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after install"

# --- 2. engine ---------------------------------------------------------------------------------
if engine_up; then
  ready "engine already answers"
fi
[ -z "${NOT_ROOT:-}" ] || die "no Docker engine answers and starting dockerd needs root (or passwordless sudo)"

# A dockerd from an earlier run of this script that is still starting: just wait for it.
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null &&
  grep -q dockerd "/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null; then
  say "dockerd (pid $(cat "$PIDFILE")) already running from $PIDFILE; waiting for it"
  for _ in $(seq "$TIMEOUT"); do
    engine_up && ready "engine ready"
    sleep 1
  done
  die "dockerd pid $(cat "$PIDFILE") runs but the engine does not answer after ${TIMEOUT}s; see $LOG"
fi

# Any other dockerd (e.g. one systemd is starting, or one we do not own): do not start a second
# one on the same data root; wait briefly, then fail with a hint.
other=$(for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = dockerd ] && echo "${p#/proc/}"; done | tr '\n' ' ') || true
if [ -n "$other" ]; then
  say "a dockerd we did not start is running (pid $other); waiting for it"
  for _ in $(seq "$TIMEOUT"); do
    engine_up && ready "engine ready"
    sleep 1
  done
  die "a dockerd is running but does not answer \`docker info\` after ${TIMEOUT}s; check it (or its socket permissions)"
fi

# Systemd hosts: prefer the packaged service (it has the right socket activation and restarts).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  say "starting docker.service via systemd"
  if systemctl start docker.service </dev/null; then
    for _ in $(seq "$TIMEOUT"); do
      engine_up && ready "engine ready"
      sleep 1
    done
  fi
  say "systemd could not start docker.service; falling back to a background dockerd"
fi

# cgroups: dockerd needs a cgroup hierarchy. Mount cgroup v2 if nothing is mounted (bare VMs
# without an init system); hosts with v1 or v2 already mounted are left alone.
if ! grep -qE '^cgroup2? /sys/fs/cgroup|/sys/fs/cgroup/(memory|unified) ' /proc/mounts 2>/dev/null &&
  [ ! -e /sys/fs/cgroup/cgroup.controllers ] && [ ! -d /sys/fs/cgroup/memory ]; then
  say "no cgroup hierarchy mounted; mounting cgroup2 at /sys/fs/cgroup"
  mount -t cgroup2 none /sys/fs/cgroup || die "could not mount cgroup2 on /sys/fs/cgroup"
fi

# Starts dockerd with the given arguments; returns 0 once `docker info` answers, 1 if dockerd
# exits first (the caller then tries the next fallback) or the timeout passes.
try_start() {
  say "starting: dockerd $* (log: $LOG)"
  mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
  echo "=== $(date -u +%FT%TZ) airlock ensure-docker: dockerd $*" >>"$LOG"
  # setsid + nohup: dockerd survives this script, its CI step, and a closed terminal.
  # dockerd writes (and on a clean exit removes) its own pidfile; setsid and nohup exec, so $! is
  # dockerd's pid too.
  setsid nohup dockerd --pidfile "$PIDFILE" "$@" </dev/null >>"$LOG" 2>&1 &
  local pid=$!
  local i
  for i in $(seq "$TIMEOUT"); do
    if engine_up; then
      say "engine answered after ${i}s"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd exited during startup; last log lines:"
      tail -n 5 "$LOG" | sed 's/^/    /' >&2
      return 1
    fi
    sleep 1
  done
  say "engine did not answer within ${TIMEOUT}s; stopping that dockerd (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 10); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  return 1
}

# shellcheck disable=SC2086  # EXTRA_ARGS is a word list on purpose
{
  # 1) defaults (overlay2 + iptables): works on the reference host.
  try_start $EXTRA_ARGS ||
    # 2) --iptables=false: kernels/VMs without the iptables/nf_tables modules make dockerd exit
    #    ("failed to create NAT chain DOCKER"). Sandboxes run with --network none and builds use
    #    --network none, so Airlock needs neither NAT nor the bridge's iptables rules.
    try_start $EXTRA_ARGS --iptables=false ||
    # 3) vfs storage: for hosts where overlay2 cannot be used (e.g. /var/lib/docker on overlayfs
    #    inside another container). Slow and disk-hungry, but works everywhere.
    try_start $EXTRA_ARGS --iptables=false --storage-driver=vfs
} && ready "engine ready"

die "could not start dockerd (tried defaults, --iptables=false, vfs storage); see $LOG"
