"""Shopping lists. The single-page front end sends the owner's id with every new list."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, forgotten_in_vulnerable, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import int_field, json_object, parse_id, string_field

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


@bp.get("/<list_id>")
@login_required
def get_list(list_id: str):
    row = db.query_one(
        f"SELECT {COLUMNS} FROM shopping_lists WHERE id = %s AND user_id = %s",
        (parse_id(list_id, "list_id"), current_user()["id"]),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such list.")
    return jsonify(list_json(row))


@bp.delete("/<list_id>")
# FLAW auth.missing-authentication: the vulnerable build forgot @login_required on the delete, and
# without a caller the statement has no owner to match: anyone, signed in or not, deletes any list.
@forgotten_in_vulnerable("auth.missing-authentication", login_required)
def delete_list(list_id: str):
    caller = current_user()
    if caller is None:
        row = db.query_one("DELETE FROM shopping_lists WHERE id = %s RETURNING id", (parse_id(list_id, "list_id"),))
    else:
        row = db.query_one(
            "DELETE FROM shopping_lists WHERE id = %s AND user_id = %s RETURNING id",
            (parse_id(list_id, "list_id"), caller["id"]),
        )
    if row is None:
        raise ApiError(404, "not_found", "No such list.")
    return "", 204
