"""Input checks used by the secure paths (and by the vulnerable build wherever no flaw is planted)."""

from decimal import Decimal, InvalidOperation

from flask import request

from flask_shop.errors import ApiError

INT4_MAX = 2**31 - 1


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{name} {message}")


def parse_id(raw: str, name: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= INT4_MAX:
        raise _bad(name, "must be a positive integer")
    return int(raw)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        raise _bad(name, f"must be an integer between {low} and {high}")
    return int(raw)


def decimal_arg(name: str, high: Decimal = Decimal("99999999.99")) -> Decimal | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 0 <= value <= high:
        raise _bad(name, "must be a non-negative number")
    return value


def text_arg(name: str, max_len: int) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if "\x00" in raw or len(raw) > max_len:
        raise _bad(name, f"must be at most {max_len} characters, without NUL bytes")
    return raw


def json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "The request body must be a JSON object.")
    return body


def string_field(body: dict, name: str, max_len: int, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or "\x00" in value or not 1 <= len(value) <= max_len:
        raise _bad(name, f"must be a string of 1 to {max_len} characters")
    return value


def int_field(body: dict, name: str, low: int, high: int) -> int:
    value = body.get(name)
    # bool is an int subclass in Python; `true` is not a quantity.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(name, f"must be an integer between {low} and {high}")
    return value
