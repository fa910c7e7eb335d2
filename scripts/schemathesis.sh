#!/usr/bin/env bash
# Property-based API test: schemathesis (PyPI) generates requests from /v1/openapi.json
# and checks that no answer is a 5xx and every answer fits the document. It runs against
# a fresh `eddy serve` on a free port with its own database, and stops it by PID.
# schemathesis is installed into .eddy/schemathesis (a venv) on first use; when pip cannot
# install it (no network), this prints why and exits 0 so the rest of the suite still counts.
#
#   EDDY_BIN=path/to/eddy  EDDY_SCHEMATHESIS_EXAMPLES=20  EDDY_SCHEMATHESIS_MAX_TIME=150
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.eddy/schemathesis
ST="$VENV/bin/schemathesis"
BIN="${EDDY_BIN:-${CARGO_TARGET_DIR:-target}/debug/eddy}"

mkdir -p "$(dirname "$VENV")"
if [ ! -x "$ST" ]; then
  echo "eddy: installing schemathesis into $VENV (pip)..." >&2
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q 'schemathesis>=4,<5'; } >"$VENV.log" 2>&1; then
    echo "eddy: SKIPPED schemathesis: could not install it (see $VENV.log):" >&2
    tail -n 3 "$VENV.log" >&2 || true
    rm -rf "$VENV"
    exit 0
  fi
fi
[ -x "$BIN" ] || { echo "eddy: $BIN missing; run cargo build --bin eddy first" >&2; exit 1; }

if [ -z "${EDDY_PG_URL:-}" ]; then
  source scripts/postgres.sh
  ensure_postgres
fi
DB="eddy_st_$(python3 -c 'import uuid; print(uuid.uuid4().hex)')"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
KEY="eddy_sk_schemathesis_$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
LOG="$(mktemp -t eddy-schemathesis.XXXXXX)"

# Limits that would answer 429 to a fuzzer are lifted; everything else is the default.
EDDY_LOG=warn "$BIN" serve --listen "127.0.0.1:$PORT" --database-url "$EDDY_PG_URL/$DB" \
  --service-key "$KEY" --jwt-secret "schemathesis-$KEY" --rest-rate-limit 0 \
  --auth-ip-rate 1000000 --auth-account-rate 1000000 --argon2-memory-kib 1024 --argon2-iterations 1 \
  2>"$LOG" &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  if psql_bin="$(command -v psql || true)"; [ -n "$psql_bin" ]; then
    "$psql_bin" "$EDDY_PG_URL/postgres" -qc "DROP DATABASE IF EXISTS \"$DB\"" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

for _ in $(seq 1 150); do
  if curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$PID" 2>/dev/null || { echo "eddy: the server exited:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "eddy: the server did not become ready" >&2; exit 1; }

# Its own sign-up would replace the service key with a user token: every request uses the key.
CONFIG="$(mktemp -t eddy-schemathesis-config.XXXXXX)"
printf '[auth]\nauto-signup = false\n' >"$CONFIG"

echo "== schemathesis against 127.0.0.1:$PORT" >&2
status=0
# The realtime endpoints stream or upgrade and the console/docs serve files: not for a fuzzer.
"$ST" --config-file "$CONFIG" run "http://127.0.0.1:$PORT/v1/openapi.json" \
  -H "Authorization: Bearer $KEY" -H "x-api-key: $KEY" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${EDDY_SCHEMATHESIS_EXAMPLES:-20}" \
  --max-time "${EDDY_SCHEMATHESIS_MAX_TIME:-150}" \
  --exclude-path-regex '^/(realtime|console|docs)' \
  --request-timeout 10 --workers 2 --no-color || status=$?
if grep -q "panicked" "$LOG"; then
  echo "eddy: the server panicked during the run:" >&2
  grep -A3 "panicked" "$LOG" >&2
  status=1
fi
rm -f "$LOG" "$CONFIG"
exit "$status"
