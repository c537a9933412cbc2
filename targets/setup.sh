#!/usr/bin/env bash
# Prepare the test targets: PostgreSQL on 127.0.0.1:5432 and the Python venv in targets/.venv.
# Idempotent and non-interactive; each step says what it did.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
requirements="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

say() { printf 'setup.sh: %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

ensure_postgres() {
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        say "PostgreSQL already accepting connections on 127.0.0.1:5432"
        return
    fi
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
        say "PostgreSQL not installed; installing with apt-get"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -1)"
    say "starting PostgreSQL $version cluster 'main'"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
    pg_isready -h 127.0.0.1 -p 5432 >/dev/null || { say "PostgreSQL did not come up"; exit 1; }
    say "PostgreSQL is up"
}

can_connect() {
    (cd "$here" && "$venv/bin/python" -c '
import psycopg
from common.database import _server
psycopg.connect(dbname="postgres", connect_timeout=5, **_server()).close()
') >/dev/null 2>&1
}

ensure_trust_auth() {
    # The targets connect as `postgres` over TCP, without a password unless MB_PG_PASSWORD is set.
    if can_connect; then
        say "can connect to PostgreSQL as ${MB_PG_USER:-postgres} over ${MB_PG_HOST:-127.0.0.1}"
        return
    fi
    local hba
    hba="$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | sort -V | tail -1 || true)"
    if [ -z "$hba" ]; then
        say "cannot connect to PostgreSQL and there is no local cluster to configure"
        exit 1
    fi
    say "allowing trust auth for 127.0.0.1 and ::1 in $hba"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$(dirname "$hba")")")" main reload
    can_connect || { say "still cannot connect as postgres over 127.0.0.1"; exit 1; }
}

ensure_venv() {
    local want have=""
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    [ -f "$stamp" ] && have="$(cat "$stamp")"
    if [ -x "$venv/bin/python" ] && [ "$want" = "$have" ]; then
        say "venv $venv is up to date with requirements.txt"
        return
    fi
    if [ ! -x "$venv/bin/python" ]; then
        say "creating venv $venv with $python"
        "$python" -m venv "$venv"
    fi
    say "installing requirements.txt into the venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
    say "venv ready"
}

ensure_postgres
ensure_venv
ensure_trust_auth
