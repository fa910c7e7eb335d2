#!/usr/bin/env bash
# The whole test suite: Rust unit + integration tests against a real PostgreSQL,
# then the JavaScript SDK's tests (Node and a headless Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh
ensure_postgres
export EDDY_TEST_DATABASE_URL="$EDDY_PG_URL"
export DATABASE_URL="$EDDY_PG_URL/postgres"

# Databases left by earlier runs.
if psql_bin="$(pg_bin psql 2>/dev/null)"; then
  "$psql_bin" "$EDDY_PG_URL/postgres" -tAc \
    "select 'DROP DATABASE \"' || datname || '\";' from pg_database where datname like 'eddy_it_%' or datname like 'eddy_sdk_%' or datname like 'eddy_filter_%'" \
    2>/dev/null | "$psql_bin" "$EDDY_PG_URL/postgres" -q >/dev/null 2>&1 || true
fi

# The broker tests start private Redis and NATS servers on free ports; they need
# the binaries (Debian's redis-server and nats-server packages).
if ! command -v redis-server >/dev/null || { ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "eddy: installing redis-server and nats-server for the broker tests (apt-get)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nats-server >&2
  else
    echo "eddy: redis-server/nats-server missing and not root: their broker tests will be skipped" >&2
  fi
fi

echo "== Rust tests"
cargo build --bin eddy
cargo test --workspace

echo "== API fuzzing against the OpenAPI document (schemathesis)"
EDDY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/eddy" scripts/schemathesis.sh

echo "== JavaScript SDK tests"
export EDDY_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/eddy"
(cd sdk-js && npm ci --no-audit --no-fund && npm test)
