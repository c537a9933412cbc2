#!/usr/bin/env bash
# The whole test suite, from a fresh machine: prepares the targets (PostgreSQL started if it is
# down, the Python venv from PyPI), then runs every Rust test, the black-box target tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash targets/setup.sh
cargo test --workspace --locked "$@"
