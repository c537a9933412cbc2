"""The clinic's database access: the per-request connection shared by the Flask targets."""

from common.flask_db import conn, execute, init_app, query, query_one  # noqa: F401
