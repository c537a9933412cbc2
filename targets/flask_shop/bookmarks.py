"""Bookmarked products: the caller's own list, a page at a time (`page`, `per_page`)."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import int_arg, int_field, json_object, string_field

bp = Blueprint("bookmarks", __name__, url_prefix="/api/bookmarks")

COLUMNS = "id, product_id, note, created_at"
# The maximum page size the spec documents.
MAX_PER_PAGE = 5


def _json(row: dict) -> dict:
    return {**row, "created_at": row["created_at"].isoformat()}


def _per_page() -> int:
    if planted("availability.uncapped-page-size"):
        # FLAW availability.uncapped-page-size: the spec documents a maximum of 5, but the bound
        # was never written here: `?per_page=100000` reads the whole list in one request.
        return int_arg("per_page", 3, 1, 2**31 - 1)
    return int_arg("per_page", 3, 1, MAX_PER_PAGE)


@bp.get("")
@login_required
def list_bookmarks():
    page = int_arg("page", 1, 1, 10_000)
    per_page = _per_page()
    rows = db.query(
        f"SELECT {COLUMNS} FROM bookmarks WHERE user_id = %s ORDER BY id LIMIT %s OFFSET %s",
        (current_user()["id"], per_page, (page - 1) * per_page),
    )
    return jsonify(items=[_json(r) for r in rows], page=page, per_page=per_page)


@bp.post("")
@login_required
def create_bookmark():
    body = json_object()
    product_id = int_field(body, "product_id", 1, 2**31 - 1)
    note = string_field(body, "note", 200, required=False) or ""
    if db.query_one("SELECT id FROM products WHERE id = %s", (product_id,)) is None:
        raise ApiError(404, "not_found", "No such product.")
    row = db.query_one(
        f"INSERT INTO bookmarks (user_id, product_id, note) VALUES (%s, %s, %s) RETURNING {COLUMNS}",
        (current_user()["id"], product_id, note),
    )
    return jsonify(_json(row)), 201
