#!/usr/bin/env bash
# Scans per hour of a middlebrick fleet on PostgreSQL with 1, 2 and 4 workers, against a fast
# loopback target (the Flask shop, secure variant), and the queue's claim latency (the claim
# transaction as each worker logs it). Public tools only: bash, curl, psql, python3.
# Usage: bench/fleet.sh [SCANS_PER_RUN] (default 24). Needs PostgreSQL at 127.0.0.1:5432
# (user postgres, trust) and a debug or release build of middlebrick.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-24}
BIN=${MIDDLEBRICK_BIN:-${CARGO_TARGET_DIR:-target}/debug/middlebrick}
CHECKS=transport.security-headers,info.verbose-error
bash targets/setup.sh >/dev/null
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

TPORT=$(free_port)
targets/.venv/bin/python targets/serve.py flask secure --port "$TPORT" >"$WORK/target.log" 2>&1 &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$TPORT/health" >/dev/null; do sleep 0.2; done
export MIDDLEBRICK_SERVICE_KEY=$(python3 -c 'import secrets;print(secrets.token_hex(32))')

printf '| workers | scans | wall (s) | scans/hour | claim p50 (ms) | claim p95 (ms) |\n|---|---|---|---|---|---|\n'
for W in 1 2 4; do
  DBN="mb_bench_$$_$W"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DBN" >/dev/null
  DB="postgres://postgres@127.0.0.1:5432/$DBN"
  KEY=$("$BIN" key create --database "$DB" --scans-per-hour 100000 2>/dev/null)
  SPORT=$(free_port)
  "$BIN" serve --listen "127.0.0.1:$SPORT" --database "$DB" --jobs 0 >"$WORK/serve-$W.log" 2>&1 &
  SERVE=$!; PIDS+=($SERVE)
  until curl -sf "http://127.0.0.1:$SPORT/health" >/dev/null; do sleep 0.2; done
  WPIDS=()
  for i in $(seq 1 "$W"); do
    MIDDLEBRICK_LOG=middlebrick_monitor=info "$BIN" worker --database "$DB" >"$WORK/worker-$W-$i.log" 2>&1 &
    WPIDS+=($!); PIDS+=($!)
  done
  API="http://127.0.0.1:$SPORT"
  TID=$(curl -sf -H "x-api-key: $KEY" -H 'content-type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:$TPORT\",\"checks\":[\"${CHECKS//,/\",\"}\"],\"max_concurrent\":64}" \
    "$API/api/v1/targets" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
  START=$(date +%s.%N)
  for i in $(seq 1 "$N"); do
    curl -sf -X POST -H "x-api-key: $KEY" "$API/api/v1/targets/$TID/scans" >/dev/null
  done
  while :; do
    DONE=$(curl -sf -H "x-api-key: $KEY" "$API/api/scans?status=completed&limit=1" \
      | python3 -c 'import json,sys;print(json.load(sys.stdin)["total"])')
    [ "$DONE" -ge "$N" ] && break
    sleep 0.2
  done
  END=$(date +%s.%N)
  CLAIMS=$(cat "$WORK"/worker-$W-*.log | sed -n 's/.*claim_ms="\{0,1\}\([0-9.]*\).*/\1/p' | sort -n)
  python3 - "$W" "$N" "$START" "$END" <<PY
import sys
w, n, s, e = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
c = [float(x) for x in """$CLAIMS""".split()]
p = lambda q: c[min(len(c) - 1, int(q * len(c)))] if c else float("nan")
print(f"| {w} | {n} | {e - s:.1f} | {n / (e - s) * 3600:.0f} | {p(0.5):.1f} | {p(0.95):.1f} |")
PY
  for p in "${WPIDS[@]}" "$SERVE"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DBN" >/dev/null
done
