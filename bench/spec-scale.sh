#!/usr/bin/env bash
# How `scan --dry-run` (load the spec, plan every check on every operation, render the plan)
# scales with the number of operations: synthetic specs of 1k, 10k and 50k operations
# (bench/spec-scale/gen.py), release build, wall time and peak memory of the whole process.
# Linear means: time and memory per operation about the same at every size.
#   bench/spec-scale.sh                 # 3 runs per size, median
#   SIZES="1000 5000" RUNS=5 bench/spec-scale.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
sizes="${SIZES:-1000 10000 50000}"
runs="${RUNS:-3}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (for peak memory)..." >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -q time >&2; else sudo apt-get install -y -q time >&2; fi
fi
(cd "$repo" && cargo build --release -q --locked -p middlebrick)
bin="$target_dir/release/middlebrick"

printf '%-10s %10s %12s %14s %12s %14s\n' operations "spec MB" "median s" "us/operation" "peak MB" "KB/operation"
for n in $sizes; do
  spec="$work/spec-$n.json"
  python3 "$repo/bench/spec-scale/gen.py" "$n" "$spec"
  times=()
  rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$work/t" "$bin" scan http://127.0.0.1:9 --spec "$spec" --dry-run >/dev/null 2>"$work/err" \
      || { cat "$work/err" >&2; exit 1; }
    read -r t m <"$work/t"
    times+=("$t")
    [ "$m" -gt "$rss" ] && rss="$m"
  done
  median="$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  size_mb="$(awk -v b="$(stat -c %s "$spec")" 'BEGIN {printf "%.1f", b/1048576}')"
  awk -v n="$n" -v s="$size_mb" -v t="$median" -v m="$rss" 'BEGIN {
    printf "%-10d %10s %12.2f %14.1f %12.1f %14.2f\n", n, s, t, t*1e6/n, m/1024, m/n }'
done
