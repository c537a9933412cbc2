"""Forgotten passwords: ask for a reset code, then trade it with a new password.

The code would go out by e-mail. This shop has no mailer, so in the secure build the code is never
shown anywhere: only its SHA-256 is stored, valid 15 minutes and once.
"""

import hashlib
import secrets

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import check_password_policy, stored_password
from flask_shop.errors import ApiError
from flask_shop.limits import limited
from flask_shop.validation import json_object, string_field

bp = Blueprint("password_reset", __name__, url_prefix="/api/auth/password-reset")

CODE_TTL = "15 minutes"
# Confirmation limiter: more than this many wrong codes for one username within the window -> 429.
CODE_LIMIT, CODE_WINDOW = 5, 15 * 60


def _user_id(username: str) -> int | None:
    row = db.query_one("SELECT id FROM users WHERE username = %s", (username,))
    return row["id"] if row else None


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@bp.post("")
def request_reset():
    username = string_field(json_object(), "username", 32)
    user_id = _user_id(username)
    if planted("auth.user-enumeration") and user_id is None:
        # FLAW auth.user-enumeration: an unknown username gets its own 404, so the form tells
        # anyone which accounts exist.
        raise ApiError(404, "unknown_user", "No account with that username")
    if planted("auth.weak-recovery"):
        # FLAW auth.weak-recovery: a 4-digit code (10,000 possibilities), stored as it is, and sent
        # back in the answer "until the mailer is fixed": whoever asks for the reset gets the code.
        if user_id is not None:
            code = f"{secrets.randbelow(10_000):04d}"
            db.execute("INSERT INTO password_resets (user_id, code_hash) VALUES (%s, %s)", (user_id, code))
            return jsonify(detail="Reset code sent", reset_code=code)
    elif user_id is not None:
        code = secrets.token_urlsafe(32)
        with db.conn().transaction():
            db.execute("UPDATE password_resets SET used = true WHERE user_id = %s AND NOT used", (user_id,))
            db.execute(
                "INSERT INTO password_resets (user_id, code_hash) VALUES (%s, %s)", (user_id, _code_hash(code))
            )
        # Here the code would be e-mailed to the account's address; it is never part of an answer.
    return jsonify(detail="If the account exists, a reset link was sent."), 202


def _invalid_code() -> ApiError:
    return ApiError(400, "invalid_code", "Invalid or expired code")


def _change_password_weakly(username: str, code: str, new_password: str) -> None:
    row = db.query_one(
        "SELECT r.user_id FROM password_resets r JOIN users u ON u.id = r.user_id"
        f" WHERE u.username = %s AND r.code_hash = %s AND r.created_at > now() - interval '{CODE_TTL}'",
        (username, code),
    )
    if row is None:
        raise _invalid_code()
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (stored_password(new_password), row["user_id"]))


def _change_password(username: str, code: str, new_password: str) -> None:
    row = db.query_one(
        "SELECT r.id, r.user_id FROM password_resets r JOIN users u ON u.id = r.user_id"
        " WHERE u.username = %s AND r.code_hash = %s AND NOT r.used"
        f" AND r.created_at > now() - interval '{CODE_TTL}' FOR UPDATE OF r",
        (username, _code_hash(code)),
    )
    if row is None:
        raise _invalid_code()
    db.execute("UPDATE password_resets SET used = true WHERE id = %s", (row["id"],))
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (stored_password(new_password), row["user_id"]))


@bp.post("/confirm")
def confirm_reset():
    body = json_object()
    username = string_field(body, "username", 32)
    code = string_field(body, "code", 128)
    new_password = string_field(body, "new_password", 128)
    if planted("auth.weak-recovery"):
        # FLAW auth.weak-recovery: no limiter: wrong codes are answered 400 however many come
        # (10,000 guesses cover the code space); a code that worked is never marked used, so it
        # works again for its whole 15 minutes; new_password is taken as it is.
        _change_password_weakly(username, code, new_password)
    else:
        check_password_policy(username, new_password)
        limited(
            f"reset:{username}",
            lambda: _change_password(username, code, new_password),
            limit=CODE_LIMIT,
            window=CODE_WINDOW,
            failures=(400,),
            message="Too many wrong codes; ask for a new one later.",
        )
    return jsonify(detail="Password changed")
