#!/usr/bin/env bash
# Runs the scan into $MB_OUTPUT_DIR (every format) and records the outcome as step outputs;
# never fails itself, so the summary, annotations, SARIF upload and comment still happen. The
# gate is applied last by gate.sh with the exit code saved here.
# Inputs (environment): MB_BIN, MB_TARGET, MB_SPEC, MB_CONFIG, MB_MODE, MB_FAIL_ON,
# MB_MIN_SCORE, MB_BASELINE, MB_EXTRA_ARGS, MB_OUTPUT_DIR (default middlebrick-report).
set -uo pipefail
bin="${MB_BIN:-middlebrick}"
out="${MB_OUTPUT_DIR:-middlebrick-report}"
args=(scan "$MB_TARGET" --output-dir "$out" --no-progress)
[ -n "${MB_SPEC:-}" ] && args+=(--spec "$MB_SPEC")
[ -n "${MB_CONFIG:-}" ] && args+=(--config "$MB_CONFIG")
[ -n "${MB_MODE:-}" ] && args+=(--mode "$MB_MODE")
[ -n "${MB_FAIL_ON:-}" ] && args+=(--fail-on "$MB_FAIL_ON")
[ -n "${MB_MIN_SCORE:-}" ] && args+=(--min-score "$MB_MIN_SCORE")
[ -n "${MB_BASELINE:-}" ] && args+=(--baseline "$MB_BASELINE")
if [ -n "${MB_EXTRA_ARGS:-}" ]; then
    read -r -a extra <<<"$MB_EXTRA_ARGS"
    args+=("${extra[@]}")
fi
mkdir -p "$out"
"$bin" "${args[@]}" >"$out/report.txt"
code=$?
cat "$out/report.txt"
report="$out/report.json"
{
    echo "exit-code=$code"
    echo "report=$report"
    echo "sarif=$out/report.sarif"
    if [ -f "$report" ]; then
        python3 - "$report" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"score={r['score']}")
print(f"grade={r['grade']}")
print(f"findings-count={len(r['findings'])}")
PY
    fi
} >>"${GITHUB_OUTPUT:-/dev/null}"
echo "middlebrick exited with $code" >&2
exit 0
