# Tiredful API (Python 3 port): Django 3.2 + Django REST Framework + django-oauth-toolkit, with
# its data in the SQLite file db.sqlite3 that upstream ships (users, the OAuth application,
# the scenario rows). No OpenAPI spec: the scenario pages under / list the endpoints.
# shellcheck shell=bash

UPSTREAM="siddharthbezalwar/Tiredful-API-py3-beta"
COMMIT="f0fc18bc853c4ca07ce20aede5fb06533b5097e2"
# 8000 is upstream's default and the one other targets are likely to want.
PORT=8100
READY_PATH="/"
BASE_PATH=""
SPEC_PATH=""

prepare() {
    # Python 3.11 needs two pins moved: cffi 1.14.5 has no cp311 wheel (and will not build
    # without libffi headers), and Django 3.2.0 predates 3.11; 3.2.25 is the last 3.2 release.
    sed -i -e 's/^Django==3\.2$/Django==3.2.25/' -e 's/^cffi==.*/cffi>=1.15.1/' "$src/requirements.txt"
    # The system interpreter: root's `python3` may live under /root, where mbfield cannot run it.
    /usr/bin/python3 -m venv "$dir/venv"
    "$dir/venv/bin/pip" install -q --disable-pip-version-check -r "$src/requirements.txt"
    # Our settings: upstream's, minus the throttle the py3 port applies to every view (10
    # anonymous requests a day would turn a scan into 429s after its tenth request). The
    # trains view keeps its own @throttle_classes, which is the throttling scenario.
    mkdir -p "$dir/launcher"
    cat >"$dir/launcher/mb_settings.py" <<'PY'
from pathlib import Path

from Tiredful_API.settings import *  # noqa: F401,F403

REST_FRAMEWORK = dict(REST_FRAMEWORK)
REST_FRAMEWORK.pop("DEFAULT_THROTTLE_CLASSES", None)
# A working copy, so that the exported tree stays as upstream ships it and reset can copy from it.
DATABASES["default"]["NAME"] = Path(__file__).resolve().parent.parent / "db.sqlite3"
PY
}

reset() {
    # The whole state is the SQLite file; the throttle counters live in memory and go with
    # the process. mbfield owns $dir, where SQLite also writes its journal.
    cp "$src/Tiredful_API/db.sqlite3" "$dir/db.sqlite3"
    give_dir "$dir/db.sqlite3"
}

serve() {
    # The working directory matters: the JWT views open their keys by relative path.
    cd "$src/Tiredful_API" || return 1
    export PYTHONPATH="$dir/launcher" DJANGO_SETTINGS_MODULE=mb_settings
    exec "$dir/venv/bin/python" manage.py runserver "127.0.0.1:$PORT" --noreload
}
