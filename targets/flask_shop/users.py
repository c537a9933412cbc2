"""The caller's own profile."""

from flask import Blueprint, jsonify, request
from psycopg import sql

from common.variant import planted
from flask_shop import db
from flask_shop.auth import EMAIL_RE, USER_COLUMNS, current_user, login_required, public_user
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, string_field

bp = Blueprint("users", __name__, url_prefix="/api/users")

EDITABLE = ("email", "full_name")
if planted("authz.mass-assignment"):
    # FLAW authz.mass-assignment: `role` was added to the editable profile fields (for the back
    # office, which shares this view), so a customer's PATCH {"role": "admin"} makes them an admin.
    EDITABLE += ("role",)


@bp.get("/me")
@login_required
def me():
    if planted("authz.data-exposure"):
        # FLAW authz.data-exposure: the profile is the whole users row, password_hash included
        # (`scrypt:16384:8:1$<salt>$<hex>`), serialised as it comes from the database.
        row = db.query_one("SELECT * FROM users WHERE id = %s", (current_user()["id"],))
        return jsonify(public_user(row))
    return jsonify(public_user(current_user()))


def _checked_changes() -> dict:
    body = json_object()
    changes = {}
    if "email" in body:
        email = string_field(body, "email", 254)
        if not EMAIL_RE.fullmatch(email):
            raise ApiError(400, "invalid_parameter", "email is not a valid address.")
        changes["email"] = email
    if "full_name" in body:
        changes["full_name"] = string_field(body, "full_name", 100)
    return changes


@bp.patch("/me")
@login_required
def update_me():
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: values are written as sent. A JSON array body, an object-valued
        # field or an over-long string fails in Python/psycopg/PostgreSQL with no handler, and the
        # Werkzeug debugger renders the traceback.
        body = request.get_json(silent=True) or {}
        changes = {k: v for k, v in body.items() if k in EDITABLE}
    else:
        changes = _checked_changes()
    if changes:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in changes
        )
        db.query_one(
            sql.SQL("UPDATE users SET {} WHERE id = %s RETURNING id").format(assignments),
            (*changes.values(), current_user()["id"]),
        )
    row = db.query_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (current_user()["id"],))
    return jsonify(public_user(row))
