#!/usr/bin/env bash
# Throughput of middlebrick's transport against wrk, on the same loopback server (issue 21:
# the transport within 10 % of wrk's requests per second and CPU per request).
#
# Builds crates/http/examples/loopback_bench in release, starts its server, then alternates
# wrk and the transport (same connection count, same client thread count, the same request:
# GET / with Host, this User-Agent and `Accept: */*`) for a few rounds, and prints each rate and
# CPU cost per request (user + system, split), their medians and the median of the per-round
# ratios. Alternating rounds and taking medians keeps a neighbour's burst of CPU from deciding
# the result; on a busy machine, rerun it (it prints the load average before and after).
#
# With FLOORS=1 (the default) each round also runs the floors under the transport
# (examples/loopback_bench/floors.rs): `raw`, tokio sockets and httparse with no HTTP library,
# and `hyper`, hyper's connection API alone. They split the transport's distance from wrk into
# kernel + tokio, hyper, and our own layer.
#
# How to read the CPU figures: user time is the client's own code. System time is mostly the
# loopback TCP stack, which does the receiving side's work inside the sender's system calls,
# and waking the server's thread; a slower client finds the server asleep more often and pays
# more of that, so part of a slower client's system time is a consequence of being slower.
#
# With two or more CPUs the server is pinned to one and the clients to another (PIN=0 turns
# this off): unpinned on a small machine, the scheduler's placement of client and server
# threads moves the numbers by ±40%, which measures the scheduler more than the client.
#
# Environment: CONCURRENCY (8), THREADS (client threads, 1), REQUESTS per transport round
# (100000), DURATION of a wrk round in seconds (3), ROUNDS (5), PIN (1), FLOORS (1), BIN (a
# loopback_bench binary to use instead of building one: a copy kept from another commit
# compares two builds on the same machine state).
# The user/system split comes from the kernel's tick sampling and is rough on short runs; their
# sum is exact.
# Needs wrk (installed with apt-get when missing and run as root) or oha (cargo install oha).
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-8}
THREADS=${THREADS:-1}
REQUESTS=${REQUESTS:-100000}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-5}
PIN=${PIN:-1}
FLOORS=${FLOORS:-1}
WARMUP=1000
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

if [ -n "${BIN:-}" ]; then
    bench=$BIN
else
    cargo build --release --quiet -p middlebrick-http --example loopback_bench
    bench="${CARGO_TARGET_DIR:-$root/target}/release/examples/loopback_bench"
fi

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

# Each prints "<requests/s> <user us per request> <system us per request>", the CPU times from
# the shell's `time` over the whole run (the transport's start-up and warm-up included).
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
         /^[0-9.]+ [0-9.]+$/ {user = $1; sys = $2}
         END {if (!n) n = rps * '"$DURATION"'; printf "%d %.2f %.2f\n", rps, user * 1e6 / n, sys * 1e6 / n}' <<<"$out"
}

# ours CLIENT: the transport, or one of the floors (hyper, raw).
ours() {
    local out
    out=$({ time "${client_cpu[@]}" "$bench" --url "$url" --requests "$REQUESTS" --warmup "$WARMUP" \
        --concurrency "$CONCURRENCY" --threads "$THREADS" --user-agent "$USER_AGENT" \
        --client "$1"; } 2>&1)
    awk -v n=$((REQUESTS + WARMUP)) '/requests\/s:/ {rps = $2}
         /^[0-9.]+ [0-9.]+$/ {user = $1; sys = $2}
         END {printf "%d %.2f %.2f\n", rps, user * 1e6 / n, sys * 1e6 / n}' <<<"$out"
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

clients=(transport)
[ "$FLOORS" = 1 ] && clients+=(hyper raw)
echo "server $url; $tool vs ${clients[*]}; concurrency $CONCURRENCY, client threads $THREADS${client_cpu:+, pinned}"
# Other work on the machine moves both numbers; the load average says how much to trust them.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
declare -A rate user sys
ratios=() cpu_ratios=()
for round in $(seq "$ROUNDS"); do
    read -r r ru rs < <(reference)
    rate[$tool]+="$r " user[$tool]+="$ru " sys[$tool]+="$rs "
    line=$(printf "round %d: %s %6d/s %5.2f+%5.2f us" "$round" "$tool" "$r" "$ru" "$rs")
    for c in "${clients[@]}"; do
        read -r o ou os < <(ours "$c")
        rate[$c]+="$o " user[$c]+="$ou " sys[$c]+="$os "
        line+=$(printf " | %s %6d/s %5.2f+%5.2f us" "$c" "$o" "$ou" "$os")
        if [ "$c" = transport ]; then
            ratios+=("$(awk -v o="$o" -v r="$r" 'BEGIN {printf "%.1f", 100 * o / r}')")
            cpu_ratios+=("$(awk -v a="$ou" -v b="$os" -v c="$ru" -v d="$rs" 'BEGIN {printf "%.1f", 100 * (a + b) / (c + d)}')")
        fi
    done
    echo "$line"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
m() { tr ' ' '\n' <<<"$1" | grep . | median; }
echo "medians (CPU per request is user + system microseconds):"
for c in "$tool" "${clients[@]}"; do
    printf "  %-9s %7.0f req/s  %5.2f + %5.2f = %5.2f us cpu/req\n" "$c" "$(m "${rate[$c]}")" \
        "$(m "${user[$c]}")" "$(m "${sys[$c]}")" "$(awk -v a="$(m "${user[$c]}")" -v b="$(m "${sys[$c]}")" 'BEGIN {print a + b}')"
done
printf "transport/%s: rate %.1f%% (target >= 90%%), cpu per request %.1f%% (target <= 110%%); medians of the rounds' ratios\n" \
    "$tool" "$(printf "%s\n" "${ratios[@]}" | median)" "$(printf "%s\n" "${cpu_ratios[@]}" | median)"
