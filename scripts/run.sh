#!/usr/bin/env bash
# Starts Eddy for development: finds or starts PostgreSQL, builds, prints the URL,
# a service key, a public key and a dev token, then runs `eddy serve`.
#
# Everything a second shell needs is kept in .eddy/dev.env: the keys and JWT secret (created
# once), and DATABASE_URL and TOKEN (rewritten on every run). Load it with
#   set -a; . .eddy/dev.env; set +a
set -euo pipefail
cd "$(dirname "$0")/.."
# A DATABASE_URL from the caller wins over the one an earlier run wrote to .eddy/dev.env.
caller_db="${DATABASE_URL:-}"
source scripts/postgres.sh
ensure_postgres

mkdir -p .eddy
if [ ! -f .eddy/dev.env ]; then
  rand() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
  {
    echo "EDDY_SERVICE_KEY=eddy_sk_$(rand)"
    echo "EDDY_PUBLIC_KEY=eddy_pk_$(rand)"
    echo "EDDY_JWT_SECRET=$(rand)"
  } > .eddy/dev.env
  chmod 600 .eddy/dev.env
fi
set -a; source .eddy/dev.env; set +a
export DATABASE_URL="${caller_db:-$EDDY_PG_URL/eddy}"
export EDDY_LISTEN="${EDDY_LISTEN:-127.0.0.1:8080}"

bin="${CARGO_TARGET_DIR:-target}/release/eddy"
if [ ! -x "$bin" ]; then
  echo "eddy: first build (release): compiling about 300 crates takes a few minutes on a laptop..." >&2
else
  echo "eddy: building (release)..." >&2
fi
cargo build --release --bin eddy
token="$("$bin" token --sub dev --role admin --ttl 24h)"

# Keep the keys, refresh what depends on this run.
{
  grep -v -e '^DATABASE_URL=' -e '^TOKEN=' .eddy/dev.env || true
  printf 'DATABASE_URL=%q\n' "$DATABASE_URL"
  echo "TOKEN=$token"
} > .eddy/dev.env.new
chmod 600 .eddy/dev.env.new
mv .eddy/dev.env.new .eddy/dev.env

cat <<MSG

  Eddy is starting on http://$EDDY_LISTEN   (WebSocket: ws://$EDDY_LISTEN/realtime)
  database:     $DATABASE_URL
  service key:  $EDDY_SERVICE_KEY
  public key:   $EDDY_PUBLIC_KEY
  dev token:    $token   (sub=dev, 24 h)
  In another shell:  set -a; . .eddy/dev.env; set +a   (sets these as EDDY_SERVICE_KEY,
  EDDY_PUBLIC_KEY, TOKEN and DATABASE_URL; the CLI is $bin)

MSG
exec "$bin" serve
