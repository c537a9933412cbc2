"""Editing a note (title and/or body). Reading, listing and deleting notes live in notes.py."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.notes import COLUMNS, note_json
from flask_shop.validation import json_object, parse_id, string_field

bp = Blueprint("note_edits", __name__, url_prefix="/api/notes")


@bp.patch("/<note_id>")
@login_required
def update_note(note_id: str):
    lookup_id = parse_id(note_id, "note_id")
    body = json_object()
    changes = {}
    if "title" in body:
        changes["title"] = string_field(body, "title", 200)
    if "body" in body:
        changes["body"] = string_field(body, "body", 10_000)
    if not changes:
        raise ApiError(400, "invalid_body", "Send title and/or body.")
    assignments = ", ".join(f"{name} = %s" for name in changes)  # names are fixed above
    if planted("authz.bola-write"):
        # FLAW authz.bola-write: the update matches the note by id alone, so any signed-in customer
        # rewrites anyone's note (bob: PATCH /api/notes/1 changes alice's note 1, and alice's next
        # GET /api/notes/1 shows bob's text; bob's own GET of it is still a 404).
        row = db.query_one(
            f"UPDATE notes SET {assignments} WHERE id = %s RETURNING {COLUMNS}",
            (*changes.values(), lookup_id),
        )
    else:
        row = db.query_one(
            f"UPDATE notes SET {assignments} WHERE id = %s AND user_id = %s RETURNING {COLUMNS}",
            (*changes.values(), lookup_id, current_user()["id"]),
        )
    if row is None:
        raise ApiError(404, "not_found", "No such note.")
    return jsonify(note_json(row))
