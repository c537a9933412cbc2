"""One psycopg connection per request (autocommit, dict rows), closed when Flask's app context ends.

Connexion's FlaskApp runs the handlers inside the wrapped Flask app, so `flask.g` and teardown
hooks work as in any Flask app. Handlers that must commit several statements together use
`conn().transaction()`.
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
    conn().execute(sql, params)


def _close(_exc=None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close)
