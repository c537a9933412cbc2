#!/usr/bin/env bash
# Keeps one PR comment up to date: finds our comment by its marker and edits it, or creates it.
# Needs GITHUB_TOKEN, GITHUB_API_URL, GITHUB_REPOSITORY and a pull_request event; otherwise it
# says why and does nothing.
set -euo pipefail
body_file="$1"
marker="<!-- middlebrick-report -->"
pr=""
if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
    pr="$(jq -r '.pull_request.number // empty' "$GITHUB_EVENT_PATH")"
fi
if [ -z "$pr" ] || [ -z "${GITHUB_TOKEN:-}" ]; then
    echo "no pull request or no token: PR comment skipped" >&2
    exit 0
fi
api="${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY"
auth=(-H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json")
existing="$(curl -fsS "${auth[@]}" "$api/issues/$pr/comments?per_page=100" |
    jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty')"
payload="$(jq -Rs '{body: .}' <"$body_file")"
if [ -n "$existing" ]; then
    curl -fsS -X PATCH "${auth[@]}" "$api/issues/comments/$existing" -d "$payload" >/dev/null
    echo "updated PR comment $existing" >&2
else
    curl -fsS -X POST "${auth[@]}" "$api/issues/$pr/comments" -d "$payload" >/dev/null
    echo "created the PR comment" >&2
fi
