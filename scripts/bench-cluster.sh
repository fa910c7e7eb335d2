#!/usr/bin/env bash
# Rooms across nodes: one node with the memory broker, then three nodes with each
# broker (postgres, redis, nats), clients spread over the nodes. Not part of the
# test suite. Needs release builds:  cargo build --release -p eddy -p eddy-bench
# Usage: [RATE=per-room broadcasts/s] scripts/bench-cluster.sh [CLIENTS] [SECONDS]   (defaults 5, 3000, 20)
# Prints one eddy-bench table per run plus server and broker CPU seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS="${1:-3000}"; SECS="${2:-20}"
BIN=target/release/eddy; BENCH=target/release/eddy-bench
KEY=eddy_sk_benchbenchbenchbenchbench
PG="${EDDY_PG_URL:-postgres://postgres@127.0.0.1:5432}"
OUT="${OUT:-.eddy/bench-cluster}"; mkdir -p "$OUT"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

cpu() { # pid -> utime+stime in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15)/hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
wait_port() { for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

run() { # name broker nodes
  local name=$1 broker=$2 n=$3 db="eddy_bench_cluster_$RANDOM" urls=() node_pids=()
  for i in $(seq 1 "$n"); do
    local port=$((18100 + i))
    EDDY_SERVICE_KEY=$KEY EDDY_LOG=warn "$BIN" serve --listen "127.0.0.1:$port" --database-url "$PG/$db" \
      --broker "$broker" --max-connections 50000 --rate-limit 1000 --rate-burst 2000 >"$OUT/$name-$i.log" 2>&1 &
    pids+=($!); node_pids+=($!)
    wait_port "$port"; urls+=("http://127.0.0.1:$port")
    sleep 0.5
  done
  local also; also=$(IFS=,; echo "${urls[*]:1}")
  local before=() b_before; for p in "${node_pids[@]}"; do before+=("$(cpu "$p")"); done
  b_before=$( [ -n "${BROKER_PID:-}" ] && cpu "$BROKER_PID" || echo 0 )
  echo "== $name ($n node(s), broker $broker)"
  EDDY_SERVICE_KEY=$KEY "$BENCH" --url "${urls[0]}" ${also:+--also "$also"} --server-pid "${node_pids[0]}" \
    --json "$OUT/results.jsonl" rooms -n "$CLIENTS" -k 100 -r "${RATE:-5}" -t "$SECS" | tee "$OUT/$name.txt"
  local total=0 i=0; for p in "${node_pids[@]}"; do
    total=$(awk -v a="$total" -v b="$(cpu "$p")" -v c="${before[$i]}" 'BEGIN{print a+b-c}'); i=$((i+1)); done
  local bcpu; bcpu=$( [ -n "${BROKER_PID:-}" ] && awk -v a="$(cpu "$BROKER_PID")" -v b="$b_before" 'BEGIN{print a-b}' || echo 0 )
  echo "server CPU seconds (all nodes, whole run incl. setup): $total; broker CPU seconds: $bcpu" | tee -a "$OUT/$name.txt"
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
}

BROKER_PID= run memory-1 memory 1
BROKER_PID= run postgres-3 postgres 3
RPORT=16391; redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
pids+=($!); BROKER_PID=$!; wait_port $RPORT
run redis-3 "redis://127.0.0.1:$RPORT/0" 3
kill "$BROKER_PID"
NPORT=16422; NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
"$NATS" -a 127.0.0.1 -p $NPORT >/dev/null 2>&1 &
pids+=($!); BROKER_PID=$!; wait_port $NPORT
run nats-3 "nats://127.0.0.1:$NPORT" 3
