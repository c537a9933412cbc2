"""Changing an account's password: PUT /api/users/<user_id>/password, answered 204.

A customer changes their own password with the current one; the back office resets a customer's
password without it (the admin role).
"""

from flask import Blueprint

from common.variant import planted
from flask_shop import db
from flask_shop.auth import check_credentials, check_password_policy, current_user, login_required, stored_password
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, parse_id, string_field

bp = Blueprint("account_password", __name__, url_prefix="/api/users")


@bp.put("/<user_id>/password")
@login_required
def change_password(user_id: str):
    account = parse_id(user_id, "user_id")
    caller = current_user()
    body = json_object()
    if account == caller["id"]:
        current = string_field(body, "current_password", 128)
        if not check_credentials(caller["username"], current)[1]:
            raise ApiError(403, "forbidden", "The current password is wrong.")
    elif planted("authz.bola-write"):
        # FLAW authz.bola-write: the branch for another account was meant for the back office, but
        # the role is never checked: bob sets alice's password (PUT /api/users/1/password, no
        # current password needed) and signs in as her.
        pass
    elif caller["role"] != "admin":
        raise ApiError(403, "forbidden", "You can only change your own password.")
    password = string_field(body, "new_password", 128)
    row = db.query_one("SELECT username FROM users WHERE id = %s", (account,))
    if row is None:
        raise ApiError(404, "not_found", "No such account.")
    check_password_policy(row["username"], password)
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (stored_password(password), account))
    return "", 204
