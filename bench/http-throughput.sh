#!/usr/bin/env bash
# Throughput of middlebrick's transport against wrk, on the same loopback server.
#
# Builds crates/http/examples/loopback_bench in release, starts its server, then alternates
# wrk and the transport (same connection count, same client thread count) for a few rounds
# and prints each rate and CPU cost per request, their medians and the median of the per-round
# ratios. Alternating rounds and taking medians keeps a neighbour's burst of CPU from deciding
# the result; on a busy machine, rerun it (it prints the load average before and after).
#
# With two or more CPUs the server is pinned to one and the clients to another (PIN=0 turns
# this off): unpinned on a small machine, the scheduler's placement of client and server
# threads moves the numbers by ±40%, which measures the scheduler more than the client.
#
# Environment: CONCURRENCY (8), THREADS (client threads, 1), REQUESTS per transport round
# (100000), DURATION of a wrk round in seconds (3), ROUNDS (5), PIN (1).
# Needs wrk (installed with apt-get when missing and run as root) or oha (cargo install oha).
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-8}
THREADS=${THREADS:-1}
REQUESTS=${REQUESTS:-100000}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-5}
PIN=${PIN:-1}
# Both clients send the same request: Host, this User-Agent and `Accept: */*`.
USER_AGENT="middlebrick-bench/1"

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v wrk >/dev/null && ! command -v oha >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    fi
fi
if command -v wrk >/dev/null; then
    tool=wrk
elif command -v oha >/dev/null; then
    tool=oha
else
    echo "need wrk (apt-get install wrk) or oha (cargo install oha)" >&2
    exit 2
fi

cargo build --release --quiet -p middlebrick-http --example loopback_bench
target_dir=${CARGO_TARGET_DIR:-$root/target}
bench="$target_dir/release/examples/loopback_bench"

server_cpu=() client_cpu=()
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1-$(($(nproc) - 1)))
fi

log=$(mktemp)
"${server_cpu[@]}" "$bench" --serve 127.0.0.1:0 >"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do
    grep -q "listening on" "$log" && break
    sleep 0.1
done
url=$(awk '/listening on/ {print $3}' "$log")
[ -n "$url" ] || { echo "the bench server did not start" >&2; exit 1; }

# Each prints "<requests/s> <CPU microseconds per request>". The CPU cost (user + system, from
# the shell's `time`) is the steadier number when other work shares the machine.
TIMEFORMAT='%U %S'
reference() {
    local out
    out=$({ time case $tool in
        wrk) "${client_cpu[@]}" wrk -t"$THREADS" -c"$CONCURRENCY" -d"${DURATION}s" \
            -H "User-Agent: $USER_AGENT" -H "Accept: */*" "$url" ;;
        oha) "${client_cpu[@]}" oha --no-tui -c "$CONCURRENCY" -z "${DURATION}s" \
            -H "User-Agent: $USER_AGENT" -H "Accept: */*" "$url" ;;
    esac; } 2>&1)
    awk '/Requests\/sec/ {rps = $2}
         /requests in/ {n = $1}
         /^[0-9.]+ [0-9.]+$/ {cpu = $1 + $2}
         END {if (!n) n = rps * '"$DURATION"'; printf "%d %.2f\n", rps, cpu * 1e6 / n}' <<<"$out"
}

ours() {
    local out
    out=$({ time "${client_cpu[@]}" "$bench" --url "$url" --requests "$REQUESTS" \
        --concurrency "$CONCURRENCY" --threads "$THREADS" --user-agent "$USER_AGENT"; } 2>&1)
    # The run also sends --warmup (1000) requests before the timed ones.
    awk -v n=$((REQUESTS + 1000)) '/requests\/s:/ {rps = $2}
         /^[0-9.]+ [0-9.]+$/ {cpu = $1 + $2}
         END {printf "%d %.2f\n", rps, cpu * 1e6 / n}' <<<"$out"
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

echo "server $url; $tool vs transport; concurrency $CONCURRENCY, client threads $THREADS${client_cpu:+, pinned}"
# Other work on the machine moves both numbers; the load average says how much to trust them.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
refs=() ourss=() ratios=() ref_cpu=() our_cpu=()
for round in $(seq "$ROUNDS"); do
    read -r r rc < <(reference)
    read -r o oc < <(ours)
    ratio=$(awk -v o="$o" -v r="$r" 'BEGIN {printf "%.1f", 100 * o / r}')
    printf "round %d: %s %7d req/s (%5.2f us cpu/req)   transport %7d req/s (%5.2f us cpu/req)   %5s%%\n" \
        "$round" "$tool" "$r" "$rc" "$o" "$oc" "$ratio"
    refs+=("$r") ourss+=("$o") ratios+=("$ratio") ref_cpu+=("$rc") our_cpu+=("$oc")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
ref_median=$(printf "%s\n" "${refs[@]}" | median)
our_median=$(printf "%s\n" "${ourss[@]}" | median)
ratio_median=$(printf "%s\n" "${ratios[@]}" | median)
ref_cpu_median=$(printf "%s\n" "${ref_cpu[@]}" | median)
our_cpu_median=$(printf "%s\n" "${our_cpu[@]}" | median)
printf "median cpu per request: %s %.2f us, transport %.2f us (%s does %.0f%% of the transport's work per request)\n" \
    "$tool" "$ref_cpu_median" "$our_cpu_median" "$tool" "$(awk -v a="$ref_cpu_median" -v b="$our_cpu_median" 'BEGIN {print 100 * a / b}')"
printf "median: %s %.0f req/s, transport %.0f req/s; transport/%s %.1f%% (target >= 80%%)\n" \
    "$tool" "$ref_median" "$our_median" "$tool" "$ratio_median"
