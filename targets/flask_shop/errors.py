"""The JSON error envelope, `{"error": <code>, "message": <text>}`, and the app's error handlers."""

import psycopg
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from common.variant import planted


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def envelope(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def database_error_details(exc: psycopg.Error) -> Response:
    """What a team writes while debugging and forgets to take out: the driver's error, verbatim."""
    response = jsonify(
        error="database_error",
        message=str(exc),
        sqlstate=exc.sqlstate,
        exception=f"{type(exc).__module__}.{type(exc).__qualname__}",
    )
    response.status_code = 400
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return envelope(exc.status, exc.code, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        allowed = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(allowed)} if allowed else None
        return envelope(exc.code or 500, code, exc.description or "", headers)

    if not planted("info.verbose-error"):
        # The vulnerable build has no catch-all, so unexpected exceptions reach the Werkzeug
        # debugger it runs under (see serve.py). The secure build logs them and answers generically.
        @app.errorhandler(Exception)
        def unexpected(exc: Exception):
            app.logger.exception("unhandled error")
            return envelope(500, "internal_error", "An unexpected error occurred.")
