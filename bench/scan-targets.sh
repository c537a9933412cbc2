#!/usr/bin/env bash
# Full scans of the bundled targets with the release binary: wall time, requests sent, findings
# and peak memory for each app and variant, and how close the scan came to the target's own limit.
# Usage: bench/scan-targets.sh [mode] (default: active)
#
# The target's limit: the target logs every request it answers, replayable (MB_REQUEST_LOG with
# MB_REQUEST_LOG_REPLAY=1, targets/common/request_log.py); after the scan, bench/replay.py sends
# the same requests again, in order, at the scan's concurrency and as fast as the target answers.
# `limit_s` is that replay's time and `ratio` the scan's wall time over it (1.0 would be a scan
# that never waits on anything but the target). The log holds credentials: it lives in a private
# temporary directory, next to a throwaway database, and is deleted with it.
#
# Environment:
#   MB_SCAN_ARGS  extra scan flags, e.g. what one family costs:
#                 MB_SCAN_ARGS="--skip-checks auth.login-throttling,auth.throttle-bypass" bench/scan-targets.sh
#   MB_BIN        the binary to run (default: a fresh release build of this tree), to compare two builds
#   MB_APPS       the apps (default: "flask fastapi connexion"); MB_VARIANTS (default: "vulnerable secure")
#   MB_REPORTS    a directory to keep each JSON report in (<app>-<variant>.json), to compare findings
#   MB_CONCURRENCY  the scan's --concurrency and the replay's (default: the scanner's default, 8)
#   MB_TIMING     a directory to keep each scan's timing trace in (<app>-<variant>.timing), read
#                 by bench/critical-path.py: where the wall time went, phase by phase and check by check
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-active}"
bash targets/setup.sh >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
bin="${MB_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --locked -q -p middlebrick
  bin="${CARGO_TARGET_DIR:-target}/release/middlebrick"
fi
concurrency="${MB_CONCURRENCY:-8}"
work="$(mktemp -d -t mb-bench-XXXX)"
trap 'rm -rf "$work"' EXIT
config="$work/identities.toml"
printf '[[identity]]\nname = "alice"\nusername = "alice"\npassword = "Alice-pass-1234"\n\n[[identity]]\nname = "bob"\nusername = "bob"\npassword = "Bob-pass-1234"\n' >"$config"
[ -n "${MB_REPORTS:-}" ] && mkdir -p "$MB_REPORTS"
[ -n "${MB_TIMING:-}" ] && mkdir -p "$MB_TIMING"
printf '%-9s %-10s %-6s %9s %9s %7s %9s %12s %9s %7s  %s\n' app variant mode wall_s requests req/op findings max_rss_mb limit_s ratio "rate/s start>max>end (cuts)"
for app in ${MB_APPS:-flask fastapi connexion}; do
  for variant in ${MB_VARIANTS:-vulnerable secure}; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    log="$work/$app-$variant.log"
    MB_REQUEST_LOG="$log" MB_REQUEST_LOG_REPLAY=1 \
      targets/.venv/bin/python targets/serve.py "$app" "$variant" --port "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
    out="$work/$app-$variant.json"
    : >"$log"   # the readiness polls are not the scan's
    trace=/dev/null
    [ -n "${MB_TIMING:-}" ] && trace="$MB_TIMING/$app-$variant.timing"
    MIDDLEBRICK_LOG="${MB_TIMING:+middlebrick_engine::timing=debug}" \
    /usr/bin/time -f '%e %M' -o "$out.time" "$bin" scan "http://127.0.0.1:$port" \
        --config "$config" --mode "$mode" --no-progress --no-history --concurrency "$concurrency" \
        --format json -o "$out" ${MB_SCAN_ARGS:-} >/dev/null 2>"$trace" || true
    read -r wall rss < <(tail -n 1 "$out.time")   # a non-zero exit adds a line before the figures
    sleep 0.5   # the target logs a request after answering it: let the last lines land
    cp "$log" "$log.scan"   # the replay's own requests are logged too; replay only the scan's
    read -r _ limit _ < <(python3 bench/replay.py "$log.scan" --port "$port" --concurrency "$concurrency")
    python3 - "$out" "$app" "$variant" "$mode" "$wall" "$rss" "$limit" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall, limit = float(sys.argv[5]), float(sys.argv[7])
ops = max(r["coverage"]["operations"], 1)
rates = " ".join(f"{x['start']}>{x['max']}>{x['end']} ({x['cuts']})" for x in r["coverage"].get("rates", [])) or "unlimited"
print(f"{sys.argv[2]:<9} {sys.argv[3]:<10} {sys.argv[4]:<6} {wall:9.1f} {r['requests_sent']:9d} {r['requests_sent'] / ops:7.1f} "
      f"{len(r['findings']):9d} {int(sys.argv[6])/1024:12.1f} {limit:9.1f} {wall / max(limit, 0.001):7.2f}  {rates}")
PY
    [ -n "${MB_REPORTS:-}" ] && cp "$out" "$MB_REPORTS/$app-$variant.json"
    kill -TERM $pid; wait $pid 2>/dev/null || true
    rm -f "$log" "$log.scan" "$out" "$out.time"
  done
done
