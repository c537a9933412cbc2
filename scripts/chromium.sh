#!/usr/bin/env bash
# Makes headless Chromium available for the HTML rendering test (crates/cli/tests/html_render.rs).
# Prints the browser's path on stdout. When it is missing, installs Debian's `chromium` with
# apt-get only under CI=true or MIDDLEBRICK_INSTALL_CHROMIUM=1, and when we may (root, or
# passwordless sudo); otherwise exits 1, and the test then says "not run" (and fails under
# CI=true).
set -euo pipefail
find_browser() {
    for b in chromium chromium-browser google-chrome; do
        if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
    done
    return 1
}
if find_browser; then exit 0; fi
# Hundreds of megabytes: installed only in CI or when the user asks.
if [ "${CI:-}" != true ] && [ "${MIDDLEBRICK_INSTALL_CHROMIUM:-}" != 1 ]; then
    echo "chromium is missing; set MIDDLEBRICK_INSTALL_CHROMIUM=1 to install it with apt-get" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "chromium is missing and apt-get needs root" >&2; exit 1
fi
echo "installing chromium with apt-get (once; this can take a while)…" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q chromium >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q chromium >&2; }
find_browser
