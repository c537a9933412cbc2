"""Private notes, one list per user."""

from flask import Blueprint, jsonify

from flask_shop import db
from flask_shop.auth import current_user, forgotten_in_vulnerable, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, parse_id, string_field

bp = Blueprint("notes", __name__, url_prefix="/api/notes")

COLUMNS = "id, user_id, title, body, created_at"


def note_json(row: dict) -> dict:
    return {**row, "created_at": row["created_at"].isoformat()}


@bp.get("")
@login_required
def list_notes():
    rows = db.query(f"SELECT {COLUMNS} FROM notes WHERE user_id = %s ORDER BY id", (current_user()["id"],))
    return jsonify(items=[note_json(r) for r in rows], count=len(rows))


@bp.post("")
@login_required
def create_note():
    body = json_object()
    title = string_field(body, "title", 200)
    text = string_field(body, "body", 10_000, required=False) or ""
    row = db.query_one(
        f"INSERT INTO notes (user_id, title, body) VALUES (%s, %s, %s) RETURNING {COLUMNS}",
        (current_user()["id"], title, text),
    )
    return jsonify(note_json(row)), 201


@bp.get("/<note_id>")
# FLAW auth.missing-authentication: the vulnerable build forgot @login_required on this view, so an
# anonymous caller reads any note by id.
@forgotten_in_vulnerable("auth.missing-authentication", login_required)
def get_note(note_id: str):
    user = current_user()
    if user is None:
        # Reachable only where authentication was forgotten (see above).
        row = db.query_one(f"SELECT {COLUMNS} FROM notes WHERE id = %s", (parse_id(note_id, "note_id"),))
    else:
        row = db.query_one(
            f"SELECT {COLUMNS} FROM notes WHERE id = %s AND user_id = %s",
            (parse_id(note_id, "note_id"), user["id"]),
        )
    if row is None:
        raise ApiError(404, "not_found", "No such note.")
    return jsonify(note_json(row))


@bp.delete("/<note_id>")
@login_required
def delete_note(note_id: str):
    row = db.query_one(
        "DELETE FROM notes WHERE id = %s AND user_id = %s RETURNING id",
        (parse_id(note_id, "note_id"), current_user()["id"]),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such note.")
    return "", 204
