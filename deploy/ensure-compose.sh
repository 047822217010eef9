#!/usr/bin/env bash
# Makes sure a Docker Compose CLI exists: the v2 plugin (`docker compose`) or v1
# (`docker-compose`). When neither works, installs Debian's `docker-compose` package (1.29, the
# only Compose in bookworm's archive; Docker's own v2 plugin needs their apt repository).
# Prints the command to use on stdout. Idempotent, non-interactive.
#
#   bash deploy/ensure-compose.sh
set -euo pipefail

say() { echo "[ensure-compose] $*" >&2; }

found() {
  if docker compose version >/dev/null 2>&1; then echo "docker compose"; return 0; fi
  if docker-compose version >/dev/null 2>&1; then echo "docker-compose"; return 0; fi
  return 1
}

if found; then exit 0; fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    say "ERROR: no docker compose; install it as root: apt-get install docker-compose"
    exit 1
  fi
fi
command -v apt-get >/dev/null || { say "ERROR: no docker compose and no apt-get; install Docker Compose yourself"; exit 1; }

say "installing Debian's docker-compose"
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends docker-compose >&2; then
  "${SUDO[@]}" apt-get update -q >&2
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends docker-compose >&2
fi
found || { say "ERROR: docker-compose installed but does not run"; exit 1; }
