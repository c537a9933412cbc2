"""Login, registration and the guards that protect views.

A caller is authenticated by `Authorization: Bearer <JWT>` (HS256, issued by /api/auth/login) or,
when that header is absent, by the Flask session cookie that the same login sets.
"""

import functools
import re
import time

import jwt
from flask import Blueprint, current_app, g, jsonify, request, session

from common.passwords import hash_password, verify_password
from common.variant import planted
from flask_shop import db
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, string_field

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")
EMAIL_RE = re.compile(r"[^@\s\x00]{1,64}@[^@\s\x00]{1,188}\.[A-Za-z]{2,24}")
USER_COLUMNS = "id, username, email, full_name, role, created_at"
_UNKNOWN_USER_HASH = hash_password("no user has this password")


def public_user(row: dict) -> dict:
    return {**row, "created_at": row["created_at"].isoformat()}


def issue_token(user: dict) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user["id"]),
        "username": user["username"],
        "role": user["role"],
        "iat": now,
        "exp": now + current_app.config["TOKEN_TTL_SECONDS"],
    }
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm="HS256")


def _user_id_from_token(token: str) -> int | None:
    try:
        if planted("auth.jwt-none") and jwt.get_unverified_header(token).get("alg", "").lower() == "none":
            # FLAW auth.jwt-none: unsigned tokens from the internal batch jobs are trusted as they are.
            return int(jwt.decode(token, options={"verify_signature": False})["sub"])
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
        return int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        return None


def _load_user() -> dict | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        user_id = _user_id_from_token(token.strip())
    else:
        user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    return db.query_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,))


def current_user() -> dict | None:
    if "user" not in g:
        g.user = _load_user()
    return g.user


def _unauthenticated() -> ApiError:
    return ApiError(401, "unauthorized", "Authentication required.", {"WWW-Authenticate": "Bearer"})


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            raise _unauthenticated()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        user = current_user()
        if user is None:
            raise _unauthenticated()
        if user["role"] != "admin":
            raise ApiError(403, "forbidden", "Administrator role required.")
        return view(*args, **kwargs)

    return wrapper


def forgotten_in_vulnerable(check_id: str, guard):
    """`guard` as a decorator, except in the build where `check_id` is planted: there it was left off."""
    if planted(check_id):
        return lambda view: view
    return guard


@bp.post("/register")
def register():
    body = json_object()
    username = string_field(body, "username", 32)
    password = string_field(body, "password", 128)
    email = string_field(body, "email", 254)
    if not USERNAME_RE.fullmatch(username):
        raise ApiError(400, "invalid_parameter", "username may contain letters, digits, '_', '.', '-' (3-32).")
    if len(password) < 8:
        raise ApiError(400, "invalid_parameter", "password must be at least 8 characters.")
    if not EMAIL_RE.fullmatch(email):
        raise ApiError(400, "invalid_parameter", "email is not a valid address.")
    role = "customer"
    if planted("authz.mass-assignment"):
        # FLAW authz.mass-assignment: the account takes `role` (or `is_admin`) from the sign-up body;
        # the value is checked to be a known role, never whether the caller may choose it, so
        # {"role": "admin"} or {"is_admin": true} registers an administrator.
        role = "admin" if body.get("is_admin") is True else body.get("role", role)
        if role not in ("customer", "admin"):
            raise ApiError(400, "invalid_parameter", "role must be customer or admin.")
    row = db.query_one(
        "INSERT INTO users (username, email, password_hash, role) VALUES (%s, %s, %s, %s)"
        f" ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}",
        (username, email, hash_password(password), role),
    )
    if row is None:
        raise ApiError(409, "conflict", "That username is taken.")
    return jsonify(public_user(row)), 201


@bp.post("/login")
def login():
    body = json_object()
    username = body.get("username")
    password = body.get("password")
    user = None
    # Usernames have a fixed alphabet, so anything else cannot match and is not worth a query.
    if isinstance(username, str) and USERNAME_RE.fullmatch(username) and isinstance(password, str):
        user = db.query_one(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = %s", (username,)
        )
    if user is None:
        verify_password("", _UNKNOWN_USER_HASH)  # unknown users take as long as wrong passwords
        raise ApiError(401, "invalid_credentials", "Invalid username or password.")
    if not verify_password(password, user.pop("password_hash")):
        raise ApiError(401, "invalid_credentials", "Invalid username or password.")
    session.clear()
    session["user_id"] = user["id"]
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    return jsonify(access_token=issue_token(user), token_type="bearer", expires_in=ttl)


@bp.post("/logout")
def logout():
    session.clear()
    return "", 204
