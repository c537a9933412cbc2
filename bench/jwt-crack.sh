#!/usr/bin/env bash
# The offline key search of auth.jwt-weak-secret: how many candidate keys it tries and how fast
# (one thread, release build). Usage: bench/jwt-crack.sh [--debug]  (--debug: the unoptimised
# build the integration tests use).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
[[ "${1:-}" == "--debug" ]] && profile=()
cargo run -q "${profile[@]}" -p middlebrick-checks --example jwt_crack_rate
