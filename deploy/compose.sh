#!/usr/bin/env bash
# Runs the Compose CLI that deploy/ensure-compose.sh finds (installing Debian's docker-compose
# if there is none) with the given arguments, from the checkout's root. Debian 12 has only
# Compose v1 (`docker-compose`); `docker compose` (v2) exists only with Docker's own packages.
#
#   bash deploy/compose.sh up -d        (npm run dc:up does this after the images and secrets)
#   bash deploy/compose.sh down         (npm run dc:down)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
compose=$(bash deploy/ensure-compose.sh)
# shellcheck disable=SC2086  # "docker compose" is two words on purpose
exec $compose "$@"
