"""The JSend envelope every handler answers with, and the application's failure exception.

Success: `{"status": "success", "data": ...}`. An application failure (bad input, not found, not
yours): `{"status": "fail", "message": ...}`. Errors raised by the framework itself before a
handler runs (missing or invalid token, a parameter that does not match the spec) keep
connexion's RFC 7807 problem documents, as they do in most connexion services.
"""

import uuid
from datetime import date, datetime

from flask import Flask, jsonify, request


class Fail(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def reply(body: dict, status: int = 200, headers: dict | None = None):
    """A JSON answer. The content type is named: connexion refuses to guess it (500) once an
    operation documents more than one."""
    return body, status, {"Content-Type": "application/json", **(headers or {})}


def success(data, status: int = 200, headers: dict | None = None):
    return reply({"status": "success", "data": data}, status, headers)


def page(items: list) -> dict:
    return {"items": items, "total": len(items)}


def plain(value):
    """A database value as JSON: UUIDs as strings, dates and times in ISO 8601."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def camel(row: dict) -> dict:
    """A row with snake_case columns as a camelCase JSON object (the API's spelling)."""
    out = {}
    for key, value in row.items():
        head, *rest = key.split("_")
        out[head + "".join(word.capitalize() for word in rest)] = plain(value)
    return out


def parse_uuid(value: str, what: str) -> str:
    """`value` as a canonical UUID; anything else cannot name a record, so it is a 404."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError):
        raise Fail(404, f"{what} not found") from None


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_nul():
        # PostgreSQL text cannot hold NUL; refuse it up front instead of failing in the driver.
        values = [*request.args.values(), *request.form.values()]
        if request.is_json:
            values.append(request.get_json(silent=True))
        if any(_has_nul(v) for v in values):
            raise Fail(400, "text must not contain NUL characters")

    @app.errorhandler(Fail)
    def failed(exc: Fail):
        response = jsonify(status="fail", message=exc.message)
        response.status_code = exc.status
        response.headers.update(exc.headers)
        return response
