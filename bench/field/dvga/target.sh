# shellcheck shell=bash
# DVGA: Flask 2.2 + Graphene 2 served by gevent pywsgi, SQLite. No OpenAPI: one GraphQL endpoint
# (/graphql, introspection on), GraphiQL at /graphiql and a few HTML pages.
UPSTREAM="dolevf/Damn-Vulnerable-GraphQL-Application"
COMMIT="a961308c02d1fb462b192681c336b0739e432da7"
PORT=5013
READY_PATH="/"
BASE_PATH=""
SPEC_PATH=""

prepare() {
    # The last line of requirements.txt installs the author's flask-sockets fork from GitHub,
    # which is out of reach here; PyPI's Flask-Sockets 0.2.1 replaces it (only the websocket
    # subscriptions differ). Every other pin has a wheel for Python 3.11.
    sed -i '/^git+/d' "$src/requirements.txt"
    # The system interpreter, not whatever `python3` is first on root's PATH: a pyenv build under
    # /root cannot be executed by mbfield, and the venv links to the interpreter it was made with.
    /usr/bin/python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --disable-pip-version-check \
        -r "$src/requirements.txt" Flask-Sockets==0.2.1
}

# app.py runs `python3 setup.py` at every start, which deletes and re-seeds dvga.db (in the
# working directory) and empties pastes/; the restart alone restores the shipped data. We only
# make sure mbfield owns the checkout, so that setup.py can replace the database file.
reset() { give_dir "$src"; }

serve() {
    cd "$src" || return 1
    # app.py and /start_over shell out to `python3 setup.py`: the venv's python must come first.
    export PATH="$dir/venv/bin:$PATH" WEB_HOST=127.0.0.1 WEB_PORT="$PORT"
    exec python3 app.py
}
