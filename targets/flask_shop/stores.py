"""Shop locations. Shared by design: every signed-in customer may read every store."""

from flask import Blueprint, jsonify

from flask_shop import db
from flask_shop.auth import login_required
from flask_shop.errors import ApiError
from flask_shop.validation import parse_id

bp = Blueprint("stores", __name__, url_prefix="/api/stores")

COLUMNS = "id, name, street, city, postcode, phone, opening_hours"


@bp.get("")
@login_required
def list_stores():
    rows = db.query(f"SELECT {COLUMNS} FROM stores ORDER BY id")
    return jsonify(items=rows, count=len(rows))


@bp.get("/<store_id>")
@login_required
def get_store(store_id: str):
    row = db.query_one(f"SELECT {COLUMNS} FROM stores WHERE id = %s", (parse_id(store_id, "store_id"),))
    if row is None:
        raise ApiError(404, "not_found", "No such store.")
    return jsonify(row)
