"""The caller's preferences: newsletter opt-in and a note for the courier."""

from flask import Blueprint, jsonify, request

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, string_field

bp = Blueprint("preferences", __name__, url_prefix="/api/preferences")

DEFAULTS = {"newsletter": False, "delivery_note": ""}


def _current(user_id: int) -> dict:
    row = db.query_one("SELECT newsletter, delivery_note FROM preferences WHERE user_id = %s", (user_id,))
    return dict(row) if row else dict(DEFAULTS)


@bp.get("")
@login_required
def get_preferences():
    return jsonify(_current(current_user()["id"]))


def _lenient_body() -> dict:
    # FLAW csrf.preflight-bypass: written for an old HTML settings form and never tightened: the
    # body may be JSON of any content type (text/plain included) or form fields. Both kinds of
    # request need no CORS preflight, so any site's form can post them with the session cookie.
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        body = request.form.to_dict()
    if "newsletter" in body and isinstance(body["newsletter"], str):
        body["newsletter"] = body["newsletter"].lower() in ("true", "on", "1", "yes")
    return body


@bp.post("")
@login_required
def save_preferences():
    body = _lenient_body() if planted("csrf.preflight-bypass") else json_object()
    prefs = _current(current_user()["id"])
    if "newsletter" in body:
        if not isinstance(body["newsletter"], bool):
            raise ApiError(400, "invalid_parameter", "newsletter must be a boolean.")
        prefs["newsletter"] = body["newsletter"]
    if "delivery_note" in body:
        prefs["delivery_note"] = string_field(body, "delivery_note", 200)
    db.query_one(
        "INSERT INTO preferences (user_id, newsletter, delivery_note) VALUES (%s, %s, %s)"
        " ON CONFLICT (user_id) DO UPDATE SET newsletter = EXCLUDED.newsletter,"
        " delivery_note = EXCLUDED.delivery_note RETURNING user_id",
        (current_user()["id"], prefs["newsletter"], prefs["delivery_note"]),
    )
    return jsonify(prefs)
