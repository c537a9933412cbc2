#!/usr/bin/env bash
# Full scans of the bundled targets with the release binary: wall time, requests sent, findings
# and peak memory for each app and variant. Usage: bench/scan-targets.sh [mode] (default: active)
# Extra scan flags come from MB_SCAN_ARGS, e.g. what one family costs:
#   MB_SCAN_ARGS="--skip-checks auth.login-throttling,auth.throttle-bypass" bench/scan-targets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-active}"
bash targets/setup.sh >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release --locked -q -p middlebrick
config="$(mktemp -t mb-bench-XXXX.toml)"
printf '[[identity]]\nname = "alice"\nusername = "alice"\npassword = "Alice-pass-1234"\n\n[[identity]]\nname = "bob"\nusername = "bob"\npassword = "Bob-pass-1234"\n' >"$config"
printf '%-8s %-10s %-6s %9s %9s %9s %12s\n' app variant mode wall_s requests findings max_rss_mb
for app in flask fastapi; do
  for variant in vulnerable secure; do
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    targets/.venv/bin/python targets/serve.py "$app" "$variant" --port "$port" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
    out="$(mktemp -t mb-bench-XXXX.json)"
    /usr/bin/time -f '%e %M' -o "$out.time" ./target/release/middlebrick scan "http://127.0.0.1:$port" \
        --config "$config" --mode "$mode" --no-progress --format json -o "$out" ${MB_SCAN_ARGS:-} >/dev/null 2>&1 || true
    read -r wall rss < <(tail -n 1 "$out.time")   # a non-zero exit adds a line before the figures
    python3 - "$out" "$app" "$variant" "$mode" "$wall" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]:<8} {sys.argv[3]:<10} {sys.argv[4]:<6} {float(sys.argv[5]):9.1f} {r['requests_sent']:9d} {len(r['findings']):9d} {int(sys.argv[6])/1024:12.1f}")
PY
    kill -TERM $pid; wait $pid 2>/dev/null || true
    rm -f "$out" "$out.time"
  done
done
rm -f "$config"
