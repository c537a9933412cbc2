#!/usr/bin/env bash
# Scans the bundled demo target: the deliberately vulnerable Flask shop on PostgreSQL.
# Usage: scripts/demo.sh [flask|fastapi] [vulnerable|secure] [extra scan flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
app="${1:-flask}"
variant="${2:-vulnerable}"
shift $(( $# > 2 ? 2 : $# ))

bash targets/setup.sh >&2
if [ ! -x target/release/middlebrick ]; then
    echo "building middlebrick (release): a first build compiles every dependency and takes several minutes…" >&2
else
    echo "building middlebrick (release; only what changed)…" >&2
fi
# cargo's own progress lines, on stderr.
cargo build --release --locked -p middlebrick
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
log="$(mktemp -t mb-demo-XXXX.log)"
targets/.venv/bin/python targets/serve.py "$app" "$variant" --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.2
done
config="$(mktemp -t mb-demo-XXXX.toml)"
cat >"$config" <<TOML
[[identity]]
name = "alice"
username = "alice"
password = "Alice-pass-1234"

[[identity]]
name = "bob"
username = "bob"
password = "Bob-pass-1234"
TOML
echo "scanning the $variant $app target at http://127.0.0.1:$port" >&2
set +e
./target/release/middlebrick scan "http://127.0.0.1:$port" --config "$config" "$@"
code=$?
set -e
rm -f "$config"
exit $code
