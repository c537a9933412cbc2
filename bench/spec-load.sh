#!/usr/bin/env bash
# Load time and peak memory of middlebrick-spec on the two large shared specs, release build:
# Twilio's 1.9 MB single-file JSON (target <= 50 ms) and DigitalOcean's description split over
# ~2,900 YAML files (target <= 500 ms); peak RSS <= 150 MB for either.
#   bench/spec-load.sh            # 20 runs each
#   RUNS=50 SPECS=/path/to/shared/specs bench/spec-load.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
specs="${SPECS:-$repo/../shared/specs}"
runs="${RUNS:-20}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak memory)..." >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q time >&2; else sudo apt-get install -y -q time >&2; fi
fi

(cd "$repo" && cargo build --release -q -p middlebrick-spec --example load_spec)
bin="$target_dir/release/examples/load_spec"

status=0
measure() { # name, spec, time target (ms)
  local name="$1" spec="$2" target_ms="$3" log
  if [ ! -f "$spec" ]; then
    echo "$name: $spec not found; skipped" >&2
    return
  fi
  log="$(mktemp)"
  local out rss_kb median
  out="$(/usr/bin/time -v "$bin" "$spec" "$runs" 2>"$log")"
  echo "$out"
  rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
  median="$(sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$out")"
  rm -f "$log"
  local verdict=ok
  if awk -v m="$median" -v t="$target_ms" -v r="$rss_kb" 'BEGIN { exit !(m > t || r > 150 * 1024) }'; then
    verdict="OVER TARGET"
    status=1
  fi
  printf '%s: median %s ms (target %s ms), max RSS %.1f MB (target 150 MB): %s\n' \
    "$name" "$median" "$target_ms" "$(awk -v r="$rss_kb" 'BEGIN { print r / 1024 }')" "$verdict"
}

measure twilio_api_v2010 "$specs/twilio/twilio_api_v2010.json" 50
measure digitalocean "$specs/digitalocean/DigitalOcean-public.v2.yaml" 500
exit "$status"
