#!/usr/bin/env bash
# Makes `middlebrick` available to the next steps: an existing binary (MIDDLEBRICK_BIN or on
# PATH), else a release build of the checkout this action lives in. Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -n "${MIDDLEBRICK_BIN:-}" ] && [ -x "$MIDDLEBRICK_BIN" ]; then
    bin="$MIDDLEBRICK_BIN"
elif command -v middlebrick >/dev/null 2>&1; then
    bin="$(command -v middlebrick)"
else
    echo "building middlebrick from $root (cargo build --release)…" >&2
    cargo build --release --locked -q -p middlebrick --manifest-path "$root/Cargo.toml" >&2
    bin="$root/target/release/middlebrick"
fi
if [ -n "${GITHUB_PATH:-}" ]; then dirname "$bin" >>"$GITHUB_PATH"; fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "bin=$bin" >>"$GITHUB_OUTPUT"; fi
echo "$bin"
