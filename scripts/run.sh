#!/usr/bin/env bash
# Starts Eddy for development: finds or starts PostgreSQL, builds, prints the URL,
# a service key, a public key and a dev token, then runs `eddy serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
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
export DATABASE_URL="${DATABASE_URL:-$EDDY_PG_URL/eddy}"
export EDDY_LISTEN="${EDDY_LISTEN:-127.0.0.1:8080}"

cargo build --release --quiet --bin eddy
token="$(./target/release/eddy token --sub dev --role admin --ttl 24h)"
cat <<MSG

  Eddy is starting on http://$EDDY_LISTEN   (WebSocket: ws://$EDDY_LISTEN/realtime)
  database:     $DATABASE_URL
  service key:  $EDDY_SERVICE_KEY
  public key:   $EDDY_PUBLIC_KEY
  dev token:    $token   (sub=dev, 24 h)
  (keys and the JWT secret are kept in .eddy/dev.env)

MSG
exec ./target/release/eddy serve
