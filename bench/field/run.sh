#!/usr/bin/env bash
# Scans every field-corpus target that is set up (or the ones named) and scores the reports:
#   bench/field/run.sh [NAME…]
# For each target and each run (zero: the URL alone; ident: the documented identities and spec):
# reset the data, start the app on 127.0.0.1 as the unprivileged user, scan, stop. Then one table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$field_root/../.."

mode="${MB_FIELD_MODE:-disposable}"
out="${MB_FIELD_OUT:-target/field/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(field_names)

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
say "building the release binary"
cargo build --release --locked -q -p middlebrick
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/middlebrick"
ensure_user
ensure_postgres

server_pid=""
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
trap stop_server EXIT

start_server() {
    local name="$1" log="$2"
    reset >>"$log" 2>&1
    # A session of its own, so the whole process group stops with it.
    setsid bash -c ". '$field_root/lib.sh'; load_target '$name'; cd '$dir'; as_user bash -c \". '$field_root/lib.sh'; load_target '$name'; cd '$dir'; serve\"" >>"$log" 2>&1 &
    server_pid=$!
    wait_ready
}

# scan NAME RUN: one scan per scope; reports named NAME-RUN-N.json; prints the score JSON file.
scan_target() {
    local name="$1" run="$2" i=0 wall_total=0 rss_max=0 scope base spec reports=()
    local scopes=("${SCOPES[@]:-$BASE_PATH|$SPEC_PATH}")
    for scope in "${scopes[@]}"; do
        base="${scope%%|*}" spec="${scope#*|}"
        local stem="$out/$name-$run-$i"
        start_server "$name" "$stem.server.log" || { say "$name did not start; see $stem.server.log"; stop_server; return 1; }
        local args=(scan "http://127.0.0.1:$PORT$base" --mode "$mode" --no-progress --format json -o "$stem.json")
        # The data is reset before every scan: deletes are allowed wherever the mode writes.
        case "$mode" in active | disposable) args+=(--allow-delete) ;; esac
        if [ "$run" = ident ]; then
            args+=(--config "$here/identities.toml")
            [ -n "$spec" ] && args+=(--spec "http://127.0.0.1:$PORT$spec")
        fi
        # shellcheck disable=SC2086
        MIDDLEBRICK_LOG=middlebrick_engine=debug /usr/bin/time -f '%e %M' -o "$stem.time" \
            "$bin" "${args[@]}" ${MB_FIELD_ARGS:-} >/dev/null 2>"$stem.log" || true
        stop_server
        local wall rss
        # GNU time puts "Command exited with non-zero status N" first when the scan's exit is
        # not 0 (4: stopped early, 5: an identity did not sign in); the figures are the last line.
        read -r wall rss < <(tail -n 1 "$stem.time") || { wall=0; rss=0; }
        wall_total=$(python3 -c "print($wall_total + $wall)")
        [ "$rss" -gt "$rss_max" ] && rss_max=$rss
        [ -f "$stem.json" ] && reports+=(--report "$stem.json") || say "$name $run: no report (see $stem.log)"
        i=$((i + 1))
    done
    python3 "$field_root/score.py" run --truth "$here/ground_truth.json" --run "$run" \
        --wall "$wall_total" --rss-kb "$rss_max" "${reports[@]}" >"$out/$name-$run.score.json"
}

results=()
for name in "${names[@]}"; do
    load_target "$name" || exit 2
    if ! is_set_up "$name"; then
        printf '{"target": "%s", "status": "not set up", "setup": "bench/field/setup.sh %s <checkout of %s at %s>"}\n' \
            "$name" "$name" "$UPSTREAM" "${COMMIT:0:12}" >"$out/$name.score.json"
        results+=("$out/$name.score.json")
        continue
    fi
    for run in zero ident; do
        say "$name: $run run"
        scan_target "$name" "$run" && results+=("$out/$name-$run.score.json")
    done
done

python3 "$field_root/score.py" table "${results[@]}" | tee "$out/table.txt"
python3 "$field_root/score.py" markdown "${results[@]}" >"$out/table.md"
python3 "$field_root/score.py" details --field "$field_root" "${results[@]}" >"$out/details.md"
python3 "$field_root/score.py" classes --field "$field_root" "${results[@]}" >"$out/classes.md"
say "reports, logs and scores in $out"
