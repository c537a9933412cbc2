# shellcheck shell=bash
# vuln-bank: Flask 2.0 (Werkzeug dev server, debug on) on PostgreSQL. Static OpenAPI 3.0 at
# /static/openapi.json whose servers[0] is an outside host, so the scan is given the local URL.
UPSTREAM="Commando-X/vuln-bank"
COMMIT="5e5ea5425fcf309373a0655dd111ecfb45037cbf"
PORT=5000
READY_PATH="/healthz"
BASE_PATH=""
SPEC_PATH="/static/openapi.json"

# A database of our own; the app creates and seeds its tables at start (init_db()).
VB_DB="mb_field_vuln_bank"

prepare() {
    # Every pin in requirements.txt has a wheel for Python 3.11. The venv must rest on an
    # interpreter the unprivileged user can run: a pyenv one under /root is out of its reach.
    local py=python3
    [ -x /usr/bin/python3 ] && py=/usr/bin/python3
    "$py" -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --disable-pip-version-check -r "$src/requirements.txt"
    # app.py's own entry point binds 0.0.0.0; ours imports the same app and runs it the same way
    # (init_db(), then the dev server with debug on, a flaw under test) on loopback, without
    # the reloader's second process.
    cat >"$dir/launch.py" <<'EOF'
import os
import sys

sys.path.insert(0, os.getcwd())
import app as vuln_bank  # noqa: E402  (upstream's module; it opens the DB pool at import)
from database import init_db  # noqa: E402

init_db()
vuln_bank.app.run(host="127.0.0.1", port=int(os.environ["PORT"]), debug=True, use_reloader=False)
EOF
}

reset() {
    # The app only adds rows at start (CREATE TABLE IF NOT EXISTS, seed if missing), so a fresh
    # database is the shipped state.
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $VB_DB WITH (FORCE)" \
        -c "CREATE DATABASE $VB_DB"
    # Profile pictures uploaded by earlier scans (the shipped images predate the .ready stamp).
    find "$src/static/uploads" -type f -newer "$dir/.ready" -delete
}

serve() {
    cd "$src" || return 1
    export PORT DB_NAME="$VB_DB" DB_USER=postgres DB_PASSWORD=postgres DB_HOST=127.0.0.1 DB_PORT=5432
    # /upload_profile_picture_url fetches any URL the caller names (SSRF by design): send
    # everything but loopback to a dead proxy so a scan cannot make it reach off the machine.
    export HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
    export http_proxy="$HTTP_PROXY" https_proxy="$HTTPS_PROXY" no_proxy="$NO_PROXY"
    unset DEEPSEEK_API_KEY  # the AI chat stays in its offline mock mode
    exec "$dir/venv/bin/python" "$dir/launch.py"
}
