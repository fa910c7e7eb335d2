#!/usr/bin/env bash
# Soak test (long; not part of CI): 10,000 connections for MINUTES minutes (default 30):
# 5,000 idle subscribed sockets, 1,000 subscribers of a 20 writes/s feed, 4,000 room members
# broadcasting (rooms of 100, 2 msgs/s per room), against a freshly started release server.
# Samples the server's RSS, open file descriptors and threads every 30 s into
# .eddy/soak/samples.csv; each load generator reports lost/duplicated deliveries at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres.sh
ensure_postgres
MINUTES="${1:-30}"
SECS=$((MINUTES * 60))
OUT=.eddy/soak; mkdir -p "$OUT"
ulimit -n 20000 || true
export EDDY_SERVICE_KEY=eddy_sk_soaksoaksoaksoaksoaksoak
cargo build --release --quiet -p eddy -p eddy-bench
./target/release/eddy serve --listen 127.0.0.1:8095 --database-url "$EDDY_PG_URL/eddy_soak" \
  --max-connections 20000 > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:8095/readyz >/dev/null && break; sleep 0.2; done
B="./target/release/eddy-bench --url http://127.0.0.1:8095 --server-pid $SERVER --max-runtime $((SECS + 300))"
$B connections -n 5000 -t "$SECS" > "$OUT/connections.txt" 2>&1 & P1=$!
$B latency -s 1000 -r 20 -t "$SECS" > "$OUT/latency.txt" 2>&1 & P2=$!
$B rooms -n 4000 -k 100 -r 2 -t "$SECS" --source-addrs 4 > "$OUT/rooms.txt" 2>&1 & P3=$!
echo "t_s,rss_kib,fds,threads" > "$OUT/samples.csv"
start=$(date +%s)
while kill -0 $P1 2>/dev/null || kill -0 $P2 2>/dev/null || kill -0 $P3 2>/dev/null; do
  now=$(( $(date +%s) - start ))
  rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status)
  fds=$(ls /proc/$SERVER/fd | wc -l)
  thr=$(awk '/Threads/ {print $2}' /proc/$SERVER/status)
  echo "$now,$rss,$fds,$thr" | tee -a "$OUT/samples.csv"
  [ "$now" -gt $((SECS + 600)) ] && break
  sleep 30
done
wait $P1 $P2 $P3 || true
grep -hE "^(lost|duplicated|all_delivered|deliveries_per_s|still_open_at_end)" "$OUT"/*.txt
