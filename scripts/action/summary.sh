#!/usr/bin/env bash
# Writes the job summary (grade, per-family table, findings, details) from the Markdown report,
# and prints the PR comment body to $MB_COMMENT_FILE: the same head without the per-finding
# details (GitHub comments are short), and a marker so comment.sh updates one comment.
set -euo pipefail
out="${MB_OUTPUT_DIR:-middlebrick-report}"
md="$out/report.md"
code="${MB_EXIT_CODE:-0}"
case "$code" in
    0) verdict="passed" ;;
    1) verdict="failed: a gate (--fail-on / --min-score) was not met" ;;
    3) verdict="failed: the scan could not run" ;;
    4) verdict="incomplete: the scan stopped early (budget or time limit)" ;;
    5) verdict="failed: the scan did not test what it was set up to (an identity could not sign in, or most operations were not reached)" ;;
    *) verdict="failed (exit code $code)" ;;
esac
if [ ! -f "$md" ]; then
    printf '## middlebrick\n\nNo report was written: %s.\n' "$verdict" >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"
    exit 0
fi
{
    cat "$md"
    printf '\n**Gate:** %s.\n' "$verdict"
} >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}"
if [ -n "${MB_COMMENT_FILE:-}" ]; then
    {
        echo "<!-- middlebrick-report -->"
        # Everything before the per-finding <details> blocks: header, family and findings tables.
        awk '/^<details>/ { exit } { print }' "$md"
        printf '\n**Gate:** %s.' "$verdict"
        if [ -n "${GITHUB_SERVER_URL:-}" ] && [ -n "${GITHUB_RUN_ID:-}" ]; then
            printf ' Evidence and remediation: [the job summary](%s/%s/actions/runs/%s).' \
                "$GITHUB_SERVER_URL" "$GITHUB_REPOSITORY" "$GITHUB_RUN_ID"
        fi
        printf '\n'
    } >"$MB_COMMENT_FILE"
fi
