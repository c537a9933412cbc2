#!/usr/bin/env bash
# The whole test suite, from a fresh machine: prepares the targets (PostgreSQL started if it is
# down, the Python venv from PyPI), then runs every Rust test, the black-box target tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash targets/setup.sh
# Headless Chromium for the HTML report test; installed with apt-get when missing. Without it
# that test says "not run" (and fails under CI=true).
bash scripts/chromium.sh >/dev/null || echo "chromium unavailable: the HTML rendering test will not run" >&2
# The field corpus's scorer (bench/field): stdlib Python, no targets needed.
python3 -m unittest discover -s bench/field -p 'test_*.py'
cargo test --workspace --locked "$@"
