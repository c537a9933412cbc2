"""One psycopg connection per request, opened on first use and closed at teardown, for the
Flask-based targets (the Flask shop, and the connexion clinic, whose FlaskApp runs its handlers
inside a Flask app, so `flask.g` and teardown hooks work the same).

Connections are in autocommit mode; handlers that write more than one row wrap the writes in
`conn().transaction()` so they commit or roll back together.
"""

import psycopg
from flask import Flask, current_app, g
from psycopg.rows import dict_row


def conn() -> psycopg.Connection:
    if "db" not in g:
        g.db = psycopg.connect(current_app.config["DATABASE_URL"], autocommit=True, row_factory=dict_row)
    return g.db


def query(sql, params=()) -> list[dict]:
    return conn().execute(sql, params).fetchall()


def query_one(sql, params=()) -> dict | None:
    return conn().execute(sql, params).fetchone()


def execute(sql, params=()) -> None:
    """A statement whose rows (if any) nobody reads."""
    conn().execute(sql, params)


def _close(_exc=None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
