# Shared by setup.sh and run.sh: where targets live, the unprivileged user, readiness.
# shellcheck shell=bash

field_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MB_FIELD_DIR="${MB_FIELD_DIR:-/var/tmp/middlebrick-field}"
# The user every third-party app runs as: several of them execute shell commands by design.
MB_FIELD_USER="${MB_FIELD_USER:-mbfield}"

say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

field_names() {
    local d
    for d in "$field_root"/*/; do
        [ -f "$d/target.sh" ] && basename "$d"
    done
}

# Loads bench/field/NAME/target.sh and sets $dir and $src for it.
load_target() {
    local name="$1"
    [ -f "$field_root/$name/target.sh" ] || { say "no target named '$name' (have: $(field_names | tr '\n' ' '))"; return 2; }
    unset -f prepare reset serve
    UPSTREAM="" COMMIT="" PORT="" READY_PATH="/" BASE_PATH="" SPEC_PATH="" SCOPES=()
    # shellcheck source=/dev/null
    . "$field_root/$name/target.sh"
    here="$field_root/$name"
    dir="$MB_FIELD_DIR/$name"
    src="$dir/src"
}

is_set_up() { [ -f "$MB_FIELD_DIR/$1/.ready" ]; }

# Creates the unprivileged user when running as root; without root we already are one.
ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id -u "$MB_FIELD_USER" >/dev/null 2>&1 && return 0
    useradd --system --create-home --home-dir "/var/lib/$MB_FIELD_USER" --shell /usr/sbin/nologin "$MB_FIELD_USER"
}

# Runs a command as the unprivileged user (as the caller when not root) with a minimal
# environment: some targets echo their whole environment in error answers. What a target
# needs, its `serve` sets after load_target (which run.sh calls again inside).
as_user() {
    local path=/usr/local/bin:/usr/bin:/bin
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$MB_FIELD_USER" -- env -i PATH="$path" HOME="/var/lib/$MB_FIELD_USER" LANG=C.UTF-8 "$@"
    else
        env -i PATH="$path" HOME="$HOME" LANG=C.UTF-8 "$@"
    fi
}

# Hands the target's work directory to the unprivileged user.
give_dir() {
    [ "$(id -u)" -eq 0 ] || return 0
    chown -R "$MB_FIELD_USER:" "$1"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until http://127.0.0.1:$PORT$READY_PATH answers anything but a connection error.
wait_ready() {
    local url="http://127.0.0.1:$PORT$READY_PATH" i
    for i in $(seq 1 240); do
        curl -s -o /dev/null -m 2 "$url" && return 0
        sleep 0.5
    done
    say "no answer from $url after 120 s"
    return 1
}

ensure_postgres() { bash "$field_root/../../targets/setup.sh" >/dev/null; }
