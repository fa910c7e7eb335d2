#!/usr/bin/env bash
# Sourced by run.sh and test.sh: makes sure a PostgreSQL server is reachable and
# exports EDDY_PG_URL (a URL without a database name).
#
# Order: $EDDY_PG_URL or $DATABASE_URL if set; a server already answering on
# 127.0.0.1:5432 with trust auth; otherwise a private cluster under .eddy/pg
# (installing Debian's postgresql package first when it is missing and we are
# root); otherwise `docker compose up -d db` when a Docker engine runs.

set -euo pipefail
EDDY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRIVATE_PORT="${EDDY_PRIVATE_PG_PORT:-54329}"

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$dir" ] && [ -x "$dir/$1" ]; then echo "$dir/$1"; return 0; fi
  command -v "$1" 2>/dev/null || return 1
}

answers() { # host port
  local ready
  ready="$(pg_bin pg_isready 2>/dev/null)" || return 1
  "$ready" -q -h "$1" -p "$2" -U postgres -d postgres >/dev/null 2>&1 || return 1
  # Trust auth is needed for the passwordless URL we hand out.
  local psql
  psql="$(pg_bin psql 2>/dev/null)" || return 0
  PGCONNECT_TIMEOUT=3 "$psql" -w -h "$1" -p "$2" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1
}

install_postgres() {
  if pg_bin initdb >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "eddy: installing PostgreSQL from the OS packages (apt-get install postgresql)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    return 0
  fi
  return 1
}

start_private_cluster() {
  local data="$EDDY_ROOT/.eddy/pg" initdb pg_ctl run_as=()
  initdb="$(pg_bin initdb)"; pg_ctl="$(pg_bin pg_ctl)"
  mkdir -p "$EDDY_ROOT/.eddy"
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: run the private cluster as `postgres`.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    run_as=(runuser -u postgres --)
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres "$data"
    echo "eddy: creating a private PostgreSQL cluster in .eddy/pg (port $PRIVATE_PORT)" >&2
    "${run_as[@]}" "$initdb" -D "$data" -U postgres --auth=trust >/dev/null
  fi
  if ! answers 127.0.0.1 "$PRIVATE_PORT"; then
    [ "$(id -u)" = 0 ] && chown -R postgres "$data"
    "${run_as[@]}" "$pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-p $PRIVATE_PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  fi
  answers 127.0.0.1 "$PRIVATE_PORT"
}

ensure_postgres() {
  if [ -n "${EDDY_PG_URL:-}" ]; then export EDDY_PG_URL; return 0; fi
  if [ -n "${DATABASE_URL:-}" ]; then
    EDDY_PG_URL="${DATABASE_URL%/*}"; export EDDY_PG_URL; return 0
  fi
  # EDDY_IGNORE_SYSTEM_PG=1 exercises the fresh-machine path on a machine that has a server.
  if [ -z "${EDDY_IGNORE_SYSTEM_PG:-}" ] && answers 127.0.0.1 5432; then
    export EDDY_PG_URL="postgres://postgres@127.0.0.1:5432"; return 0
  fi
  if install_postgres && start_private_cluster; then
    export EDDY_PG_URL="postgres://postgres@127.0.0.1:$PRIVATE_PORT"; return 0
  fi
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    echo "eddy: starting PostgreSQL with docker compose" >&2
    (cd "$EDDY_ROOT" && docker compose up -d db >&2)
    for _ in $(seq 1 60); do
      if (cd "$EDDY_ROOT" && docker compose exec -T db pg_isready -U postgres >/dev/null 2>&1); then
        export EDDY_PG_URL="postgres://postgres:eddy@127.0.0.1:5432"; return 0
      fi
      sleep 1
    done
  fi
  cat >&2 <<'MSG'
eddy: no PostgreSQL found and none could be started.
Install it, then run this command again:
    sudo apt-get install -y postgresql
or point Eddy at a server:  DATABASE_URL=postgres://user:pass@host:5432/eddy
MSG
  return 1
}
