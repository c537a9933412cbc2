# c{api}tal: the RealWorld "Conduit" blogging API (FastAPI 0.79, asyncpg) with ten planted
# OWASP API Top 10 (2019) challenges. Sourced by bench/field/setup.sh and run.sh.
# shellcheck shell=bash
UPSTREAM="Checkmarx/capital"
COMMIT="70c0bfd93d83b266f8e85fb7b21509718b657ac0"
PORT=8000
READY_PATH="/openapi.json"
BASE_PATH=""
SPEC_PATH="/openapi.json"   # FastAPI's generated spec; the README points at /docs, which serves it

# Our own database, so the lead's targets and other field targets never share rows with it.
CAPITAL_DB="mb_field_capital"
# The app's settings (pydantic BaseSettings read them from the environment), passed only to
# its own processes so they never leak into the next target run.sh loads. APP_ENV=prod is what
# upstream's docker-compose sets; the fixed SECRET_KEY only keeps tokens valid across restarts
# (upstream draws a random one per start when it is unset: not guessable either way).
capital_env=(
    DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$CAPITAL_DB"
    APP_ENV=prod
    SECRET_KEY=5d0f3a9c2e8b47a1b6c4e2f9081d7a3c6e5b4a29f7c1d0e8b3a6f5c4d2e1b0a9
)

prepare() {
    # Python 3.11: the pinned asyncpg 0.26.0 and psycopg2-binary 2.9.3 have no cp311 wheels and
    # pydantic 1.9.1 predates 3.11, so move them to the nearest releases that do (FastAPI 0.79
    # accepts any pydantic < 2). `slugify==0.0.1` is an unrelated package that also installs a
    # `slugify` module over python-slugify's, so `from slugify import slugify` may break: drop it.
    sed -i -e 's/^asyncpg==.*/asyncpg==0.27.0/' \
           -e 's/^psycopg2-binary==.*/psycopg2-binary==2.9.9/' \
           -e 's/^\(pydantic[^=]*\)==1\.9\.1/\1==1.10.13/' \
           -e '/^slugify==/d' "$src/requirements.txt"
    # Debian's interpreter, not the first python3 on root's PATH: pyenv's lives under /root,
    # which mbfield cannot enter, so a venv built on it cannot start as mbfield.
    /usr/bin/python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --disable-pip-version-check -r "$src/requirements.txt"
    "$dir/venv/bin/python" -c 'from slugify import slugify; assert slugify("A b") == "a-b"'
}

reset() {
    # Upstream's data is its one alembic migration (schema plus seeded users, articles, comments):
    # a fresh database and `alembic upgrade head` is the state `python3 main.py` starts from.
    ensure_postgres
    psql -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $CAPITAL_DB WITH (FORCE)" -c "CREATE DATABASE $CAPITAL_DB" >/dev/null
    # As the app's user, so no root-owned __pycache__ lands in $src.
    as_user env "${capital_env[@]}" \
        bash -c 'cd "$1" && exec "$2/venv/bin/alembic" upgrade head' _ "$src" "$dir"
}

serve() {
    # Upstream's main.py migrates and then binds 0.0.0.0; we migrate in reset and bind loopback.
    cd "$src" || return 1
    exec env "${capital_env[@]}" "$dir/venv/bin/uvicorn" --factory app.main:get_application --host 127.0.0.1 --port "$PORT"
}
