#!/usr/bin/env bash
# Generates the secrets of the docker-compose stack (docker-compose.yml) — never commit them:
#
#   <dir>/passwords.env  the source of truth (0600): Redis passwords of the harness, runner,
#                        sealer, healthcheck and admin users, AIRLOCK_DEV_API_KEY, AIRLOCK_ADMIN_API_KEY
#   <dir>/harness.env    env_file of the harness: REDIS_URL with the harness user, the API keys
#   <dir>/runner.env     env_file of the runner: REDIS_URL with the runner user
#   <dir>/sealer.env     REDIS_URL with the audit sealer's user (reads the audit streams only)
#   <dir>/redis.env      env_file of redis: REDISCLI_AUTH for its healthcheck (a PING-only user)
#   <dir>/users.acl      Redis ACL file from deploy/redis/users.acl.template (password hashes only,
#                        0644 so the redis user in the container can read it)
#
# <dir> is deploy/secrets (git-ignored) unless --secrets-dir or AIRLOCK_SECRETS_DIR says otherwise;
# docker-compose.yml reads the same AIRLOCK_SECRETS_DIR.
#
# Idempotent: values already in passwords.env are kept, missing ones are generated, and the
# derived files are rewritten from it (so editing passwords.env + re-running is how you change
# a value). Restart the stack afterwards (redis reads the ACL file only at start).
#
#   bash deploy/setup.sh                     generate what is missing
#   bash deploy/setup.sh --rotate            new random values for everything
#   bash deploy/setup.sh --no-dev-key        no AIRLOCK_DEV_API_KEY (production; use AIRLOCK_AGENTS_FILE)
#   bash deploy/setup.sh --no-admin-key      no bootstrap admin key (grants cannot be managed)
#   bash deploy/setup.sh --secrets-dir DIR   write to DIR instead of deploy/secrets
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${AIRLOCK_SECRETS_DIR:-$HERE/secrets}
TEMPLATE=$HERE/redis/users.acl.template
ROTATE=0
NO_DEV=0
NO_ADMIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rotate) ROTATE=1 ;;
    --no-dev-key) NO_DEV=1 ;;
    --no-admin-key) NO_ADMIN=1 ;;
    --secrets-dir) DIR=${2:?--secrets-dir needs a directory}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--rotate] [--no-dev-key] [--no-admin-key] [--secrets-dir DIR]" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "[setup] $*" >&2; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }
[ -f "$TEMPLATE" ] || die "missing $TEMPLATE"

umask 077
mkdir -p "$DIR"
chmod 700 "$DIR"
DIR=$(cd "$DIR" && pwd)
SRC=$DIR/passwords.env

# 256-bit random hex: safe in URLs, env files and shell without quoting.
rand_hex() { head -c 32 /dev/urandom | od -An -tx1 -v | tr -d ' \n'; }
# The same format as scripts/start.mjs's dev key.
rand_key() { printf '%s%s' "$1" "$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; }

# Current values (KEY=value lines only; nothing is executed).
declare -A V=()
if [ -f "$SRC" ] && [ "$ROTATE" = 0 ]; then
  while IFS= read -r line; do
    case "$line" in '#'* | '') continue ;; esac
    [[ "$line" =~ ^([A-Z0-9_]+)=(.*)$ ]] || die "$SRC: cannot parse line: $line"
    V[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  done <"$SRC"
fi

generated=()
for name in HARNESS_REDIS_PASSWORD RUNNER_REDIS_PASSWORD SEALER_REDIS_PASSWORD HEALTHCHECK_REDIS_PASSWORD ADMIN_REDIS_PASSWORD; do
  if [ -z "${V[$name]:-}" ]; then V[$name]=$(rand_hex); generated+=("$name"); fi
  [[ "${V[$name]}" =~ ^[A-Za-z0-9._~-]{16,}$ ]] || die "$name in $SRC must be 16+ characters of A-Z a-z 0-9 . _ ~ - (it goes into a URL)"
done
# API keys: an existing line with an empty value means "disabled" and is kept.
for pair in AIRLOCK_DEV_API_KEY:ak_dev_:$NO_DEV AIRLOCK_ADMIN_API_KEY:ak_admin_:$NO_ADMIN; do
  IFS=: read -r name prefix off <<<"$pair"
  if [ "$off" = 1 ]; then
    V[$name]=""
  elif [ -z "${V[$name]+set}" ]; then
    V[$name]=$(rand_key "$prefix"); generated+=("$name")
  fi
  if [ -n "${V[$name]}" ] && ! [[ "${V[$name]}" =~ ^[A-Za-z0-9._~-]{16,}$ ]]; then
    die "$name in $SRC must be empty (disabled) or 16+ characters of A-Z a-z 0-9 . _ ~ -"
  fi
done

# Writes stdin to $1 atomically with mode $2.
put() {
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  cat >"$tmp"
  chmod "$2" "$tmp"
  mv -f "$tmp" "$1"
}

{
  echo "# Airlock stack secrets, written by deploy/setup.sh. Keep private; never commit."
  echo "# Edit a value and re-run deploy/setup.sh to regenerate the derived files; an empty"
  echo "# API key disables that key."
  for name in HARNESS_REDIS_PASSWORD RUNNER_REDIS_PASSWORD SEALER_REDIS_PASSWORD HEALTHCHECK_REDIS_PASSWORD ADMIN_REDIS_PASSWORD \
    AIRLOCK_DEV_API_KEY AIRLOCK_ADMIN_API_KEY; do
    echo "$name=${V[$name]}"
  done
} | put "$SRC" 600

{
  echo "REDIS_URL=redis://harness:${V[HARNESS_REDIS_PASSWORD]}@redis:6379"
  [ -z "${V[AIRLOCK_DEV_API_KEY]}" ] || echo "AIRLOCK_DEV_API_KEY=${V[AIRLOCK_DEV_API_KEY]}"
  [ -z "${V[AIRLOCK_ADMIN_API_KEY]}" ] || echo "AIRLOCK_ADMIN_API_KEY=${V[AIRLOCK_ADMIN_API_KEY]}"
} | put "$DIR/harness.env" 600
echo "REDIS_URL=redis://runner:${V[RUNNER_REDIS_PASSWORD]}@redis:6379" | put "$DIR/runner.env" 600
echo "REDIS_URL=redis://sealer:${V[SEALER_REDIS_PASSWORD]}@redis:6379" | put "$DIR/sealer.env" 600
echo "REDISCLI_AUTH=${V[HEALTHCHECK_REDIS_PASSWORD]}" | put "$DIR/redis.env" 600

# ACL file: drop comments/blank lines, join `\` continuations, substitute password hashes.
acl=$(awk '
  /^[ \t]*#/ || /^[ \t]*$/ { next }
  { sub(/^[ \t]+/, ""); line = line $0 }
  /\\$/ { sub(/[ \t]*\\$/, " ", line); next }
  { print line; line = "" }
  END { if (line != "") print line }' "$TEMPLATE")
for name in HARNESS_REDIS_PASSWORD RUNNER_REDIS_PASSWORD SEALER_REDIS_PASSWORD HEALTHCHECK_REDIS_PASSWORD ADMIN_REDIS_PASSWORD; do
  hash=$(printf '%s' "${V[$name]}" | sha256sum | cut -d' ' -f1)
  acl=${acl//@${name}_SHA256@/$hash}
done
if [[ "$acl" == *@*_SHA256@* ]]; then die "unknown placeholder left in $TEMPLATE: $(grep -o '@[A-Z0-9_]*_SHA256@' <<<"$acl" | head -n1)"; fi
printf '%s\n' "$acl" | put "$DIR/users.acl" 644

if [ ${#generated[@]} -gt 0 ]; then say "generated: ${generated[*]}"; else say "kept existing values"; fi
say "wrote $DIR/{passwords.env,harness.env,runner.env,sealer.env,redis.env,users.acl}"
if [ "$DIR" = "$HERE/secrets" ] && command -v git >/dev/null && git -C "$HERE/.." rev-parse --git-dir >/dev/null 2>&1; then
  git -C "$HERE/.." check-ignore -q "$DIR/passwords.env" || say "WARNING: $DIR/passwords.env is not git-ignored!"
fi
