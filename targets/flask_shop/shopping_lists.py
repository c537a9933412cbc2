"""Shopping lists. The single-page front end sends the owner's id with every new list."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import int_field, json_object, string_field

bp = Blueprint("shopping_lists", __name__, url_prefix="/api/lists")

COLUMNS = "id, user_id, name, created_at"


def list_json(row: dict) -> dict:
    return {**row, "created_at": row["created_at"].isoformat()}


@bp.get("")
@login_required
def my_lists():
    rows = db.query(f"SELECT {COLUMNS} FROM shopping_lists WHERE user_id = %s ORDER BY id", (current_user()["id"],))
    return jsonify(items=[list_json(r) for r in rows], count=len(rows))


@bp.post("")
@login_required
def new_list():
    body = json_object()
    owner = int_field(body, "user_id", 1, 2**31 - 1)
    name = string_field(body, "name", 80)
    if planted("authz.bola-write"):
        # FLAW authz.bola-write: the owner comes from the body as the front end sent it, so bob
        # can put a list into alice's account ({"user_id": 1, ...}); it shows in her lists.
        pass
    elif owner != current_user()["id"]:
        raise ApiError(403, "forbidden", "Lists can only be created for your own account.")
    row = db.query_one(
        f"INSERT INTO shopping_lists (user_id, name) VALUES (%s, %s) RETURNING {COLUMNS}",
        (owner, name),
    )
    return jsonify(list_json(row)), 201
