"""Run one target in the foreground on its own, freshly seeded PostgreSQL database.

    targets/.venv/bin/python targets/serve.py <flask|fastapi|connexion> <vulnerable|secure> --port N

The database (mb_<app>_<variant>_<port>) is recreated on start and dropped on SIGTERM/SIGINT.
Servers: the vulnerable Flask build runs on the Werkzeug development server with the debugger on,
the secure one on gunicorn; both FastAPI builds and both connexion (clinic) builds run on uvicorn.
The shops share common/schema.sql; the clinic brings its own schema and seed (connexion_clinic/seed.py).
"""

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import database, request_log  # noqa: E402


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", choices=("flask", "fastapi", "connexion"))
    parser.add_argument("variant", choices=("vulnerable", "secure"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    return parser.parse_args()


def _stop(signum, _frame):
    # Turn SIGTERM into the same unwinding as Ctrl-C so the database is dropped on the way out.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _serve_flask(args, dsn: str, secret: str) -> None:
    from common.variant import planted
    from flask_shop import create_app

    app = create_app(dsn, secret)
    app.wsgi_app = request_log.wrap_wsgi(app.wsgi_app)
    if planted("info.verbose-error") or planted("transport.dev-server"):
        # FLAW transport.dev-server: the Werkzeug development server, debugger on, faces clients.
        # FLAW info.verbose-error: the Werkzeug debugger renders unhandled exceptions, with an
        # interactive console when the Host header is 127.0.0.1 or *.localhost.
        # FLAW transport.security-headers: the development server sends `Server: Werkzeug/x Python/y`.
        app.run(host=args.host, port=args.port, debug=True, use_reloader=False, threaded=True)
    else:
        _run_gunicorn(app, f"{args.host}:{args.port}")


def _run_gunicorn(app, bind: str) -> None:
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": bind,
                "workers": 2,
                "worker_class": "gthread",
                "threads": 4,
                "graceful_timeout": 5,
                "accesslog": "-",
            }.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Gunicorn().run()


def _serve_fastapi(args, dsn: str, secret: str) -> None:
    import uvicorn

    from common.variant import planted
    from fastapi_shop import create_app

    config = uvicorn.Config(
        request_log.wrap_asgi(create_app(dsn, secret)),
        host=args.host,
        port=args.port,
        lifespan="on",
        # The secure build sends no Server header; uvicorn's own carries no version either, the
        # vulnerable build's version disclosure is its X-Powered-By (fastapi_shop/headers.py).
        server_header=planted("transport.security-headers"),
    )
    uvicorn.Server(config).run()


def _serve_connexion(args, dsn: str, secret: str) -> None:
    import uvicorn

    from common.variant import planted
    from connexion_clinic import create_app

    config = uvicorn.Config(
        request_log.wrap_asgi(create_app(dsn, secret)),
        host=args.host,
        port=args.port,
        lifespan="on",
        # The secure build sends no Server header (uvicorn's names no version either way).
        server_header=planted("transport.security-headers"),
    )
    uvicorn.Server(config).run()


def _create_database(app: str, name: str) -> None:
    if app == "connexion":
        from connexion_clinic import seed

        database.create(name, seed.SCHEMA, seed.seed)
    else:
        database.create(name)


SERVERS = {"flask": _serve_flask, "fastapi": _serve_fastapi, "connexion": _serve_connexion}


def main() -> int:
    args = _arguments()
    os.environ["MB_VARIANT"] = args.variant
    name = database.database_name(args.app, args.variant, args.port)
    # Set both explicitly: a shell that starts us in the background without job control leaves
    # SIGINT ignored, and Python keeps it that way.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    owner = os.getpid()  # gunicorn workers are forks of this process and unwind through here too
    _create_database(args.app, name)
    print(f"serve.py: {args.app}/{args.variant} on {args.host}:{args.port}, database {name}", file=sys.stderr)
    try:
        SERVERS[args.app](args, database.dsn(name), secrets.token_urlsafe(32))
    except KeyboardInterrupt:
        pass
    finally:
        if os.getpid() == owner:
            database.drop(name)
            print(f"serve.py: dropped database {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
