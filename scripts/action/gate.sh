#!/usr/bin/env bash
# The last step: fails the job with middlebrick's own exit code (docs/cli.md#exit-codes).
set -euo pipefail
code="${MB_EXIT_CODE:-0}"
if [ "$code" != 0 ]; then
    echo "::error title=middlebrick::the scan exited with $code (see the job summary)"
fi
exit "$code"
