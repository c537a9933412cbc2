#!/usr/bin/env bash
# The whole test suite, from a fresh machine: prepares the targets (PostgreSQL started if it is
# down, the Python venv from PyPI), then runs every Rust test, the black-box target tests included.
#
# Headless Chromium (for the HTML rendering test) is installed only under CI=true or with
# MIDDLEBRICK_INSTALL_CHROMIUM=1; without it that test is listed as not run. Every test that
# could not run (no Chromium, no ../shared, targets not prepared) is listed in one summary at
# the end; under CI=true those tests fail instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash targets/setup.sh
if [ "${CI:-}" = true ] || [ "${MIDDLEBRICK_INSTALL_CHROMIUM:-}" = 1 ]; then
    bash scripts/chromium.sh >/dev/null || echo "chromium unavailable: the HTML rendering test will not run" >&2
fi
# Tests that cannot run append a line here (crates/cli/tests/common/mod.rs `not_run`).
MIDDLEBRICK_NOT_RUN_LOG="$(mktemp -t mb-not-run-XXXXXX.log)"
export MIDDLEBRICK_NOT_RUN_LOG
trap 'rm -f "$MIDDLEBRICK_NOT_RUN_LOG"' EXIT
# The field corpus's scorer (bench/field): stdlib Python, no targets needed.
python3 -m unittest discover -s bench/field -p 'test_*.py'
# The targets' own tests: both builds of the FastAPI shop's GraphQL API, served on free ports.
targets/.venv/bin/python -m unittest discover -s targets/tests
# The monitoring service's store tests run on SQLite and, with this, on the PostgreSQL that
# setup.sh started (each test makes its own database).
export MIDDLEBRICK_TEST_PG="${MIDDLEBRICK_TEST_PG:-postgres://postgres@127.0.0.1:5432}"
set +e
cargo test --workspace --locked "$@"
code=$?
set -e
if [ -s "$MIDDLEBRICK_NOT_RUN_LOG" ]; then
    echo
    echo "tests that could not run here (they fail under CI=true):"
    sort -u "$MIDDLEBRICK_NOT_RUN_LOG" | sed 's/^/  - /'
else
    echo "every test ran"
fi
exit $code
