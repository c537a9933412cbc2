"""Login, registration, sign-out and the guards that protect views.

A caller is authenticated by `Authorization: Bearer <JWT>` (HS256, issued by /api/auth/login) or,
when that header is absent, by a browser cookie: the Flask session cookie that the same login sets,
or the `sid` of the cookie sign-in (flask_shop/sessions.py, session_signin.py).
"""

import functools
import re
import secrets
import time

import jwt
from flask import Blueprint, current_app, g, jsonify, make_response, request, session

from common.passwords import hash_password, legacy_md5, password_problem, verify_password
from common.variant import planted
from flask_shop import db, sessions
from flask_shop.errors import ApiError
from flask_shop.limits import limited
from flask_shop.validation import json_object, string_field

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")
EMAIL_RE = re.compile(r"[^@\s\x00]{1,64}@[^@\s\x00]{1,188}\.[A-Za-z]{2,24}")
USER_COLUMNS = "id, username, email, full_name, role, created_at"
_UNKNOWN_USER_HASH = hash_password("no user has this password")

# Sign-in limiter: more than this many failures for one username within the window -> 429.
SIGN_IN_LIMIT, SIGN_IN_WINDOW = 5, 60
SIGN_IN_THROTTLED = "Too many failed sign-in attempts; try again later."


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
        "jti": secrets.token_urlsafe(16),  # what sign-out revokes
    }
    return jwt.encode(claims, current_app.config["SECRET_KEY"], algorithm="HS256")


def verified_claims(token: str) -> dict | None:
    """The claims of a token this app signed and has not revoked, else None."""
    try:
        claims = jwt.decode(
            token,
            current_app.config["SECRET_KEY"],
            algorithms=["HS256"],
            options={"require": ["exp", "sub"]},
        )
    except jwt.InvalidTokenError:
        return None
    jti = claims.get("jti")
    if isinstance(jti, str) and db.query_one("SELECT 1 AS revoked FROM revoked_tokens WHERE jti = %s", (jti,)):
        return None
    return claims


def _user_id_from_token(token: str) -> int | None:
    try:
        if planted("auth.jwt-none") and jwt.get_unverified_header(token).get("alg", "").lower() == "none":
            # FLAW auth.jwt-none: unsigned tokens from the internal batch jobs are trusted as they are.
            return int(jwt.decode(token, options={"verify_signature": False})["sub"])
        claims = verified_claims(token)
        return int(claims["sub"]) if claims is not None else None
    except (jwt.InvalidTokenError, ValueError):
        return None


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _load_user() -> dict | None:
    header = request.headers.get("Authorization")
    if header is not None:
        token = bearer_token()
        if token is None:
            return None
        user_id = _user_id_from_token(token)
    elif planted("auth.credentials-in-url") and "access_token" in request.args:
        # FLAW auth.credentials-in-url: download links (invoices, exports) were made to work by
        # accepting the token as ?access_token=, on every route: it ends up in browser history,
        # proxy and server logs, and Referer headers.
        user_id = _user_id_from_token(request.args["access_token"])
    else:
        user_id = sessions.cookie_user_id()
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


def stored_password(password: str) -> str:
    """What goes into users.password_hash for a password set now (registration, reset)."""
    if planted("auth.password-storage"):
        # FLAW auth.password-storage: new passwords are stored the way the old PHP shop did: an
        # unsalted MD5 hex digest, cracked at billions of guesses per second (the seeded accounts
        # still carry scrypt hashes, so verify_password accepts both).
        return legacy_md5(password)
    return hash_password(password)


def check_password_policy(username: str, password: str) -> None:
    if planted("auth.weak-password-policy"):
        # FLAW auth.weak-password-policy: "let customers choose": any non-empty password is
        # accepted ("abc", "password", the username itself).
        return
    problem = password_problem(username, password)
    if problem is not None:
        raise ApiError(400, "weak_password", problem)


@bp.post("/register")
def register():
    body = json_object()
    username = string_field(body, "username", 32)
    password = string_field(body, "password", 128)
    email = string_field(body, "email", 254)
    if not USERNAME_RE.fullmatch(username):
        raise ApiError(400, "invalid_parameter", "username may contain letters, digits, '_', '.', '-' (3-32).")
    check_password_policy(username, password)
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
        (username, email, stored_password(password), role),
    )
    if row is None:
        raise ApiError(409, "conflict", "That username is taken.")
    return jsonify(public_user(row)), 201


def check_credentials(username, password) -> tuple[dict | None, bool]:
    """(the user row or None when unknown, whether the password is right); the same work either way."""
    user = None
    # Usernames have a fixed alphabet, so anything else cannot match and is not worth a query.
    if isinstance(username, str) and USERNAME_RE.fullmatch(username) and isinstance(password, str):
        user = db.query_one(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = %s", (username,)
        )
    if user is None:
        verify_password("", _UNKNOWN_USER_HASH)  # unknown users take as long as wrong passwords
        return None, False
    return user, verify_password(password, user.pop("password_hash"))


def username_key(username) -> str:
    """The limiter key of a sign-in attempt: the username as sent, known or not."""
    return "user:" + (username if isinstance(username, str) else "")[:64]


def sign_in_limited(key: str, attempt):
    return limited(
        key, attempt, limit=SIGN_IN_LIMIT, window=SIGN_IN_WINDOW, failures=(401, 404), message=SIGN_IN_THROTTLED
    )


def _token_sign_in(username, password) -> dict:
    user, password_ok = check_credentials(username, password)
    if password_ok:
        return user
    if planted("auth.user-enumeration"):
        # FLAW auth.user-enumeration: "helpful" errors: an unknown username is a 404 and a known
        # one with a wrong password a 401, so anyone can test which accounts exist.
        if user is None:
            raise ApiError(404, "unknown_user", "No account with that username")
        raise ApiError(401, "invalid_credentials", "Incorrect password")
    raise ApiError(401, "invalid_credentials", "Invalid username or password.")


@bp.post("/login")
def login():
    body = json_object()
    username = body.get("username")
    password = body.get("password")
    if planted("auth.login-throttling"):
        # FLAW auth.login-throttling: no limiter at all: a script may try passwords as fast as the
        # server answers, for any account.
        user = _token_sign_in(username, password)
    else:
        user = sign_in_limited(username_key(username), lambda: _token_sign_in(username, password))
    sessions.start_flask_session(user["id"])
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    return jsonify(access_token=issue_token(user), token_type="bearer", expires_in=ttl)


def _revoke_presented_credentials() -> None:
    """Revoke whatever signed this request in: the bearer token's jti, the session row, the sid row."""
    token = bearer_token()
    claims = verified_claims(token) if token else None
    if claims is not None and isinstance(claims.get("jti"), str):
        db.execute("DELETE FROM revoked_tokens WHERE expires_at < now()")
        db.execute(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES (%s, to_timestamp(%s)) ON CONFLICT DO NOTHING",
            (claims["jti"][:64], claims["exp"]),
        )
    sessions.delete_session(session.get("sid"))
    sessions.delete_session(request.cookies.get(sessions.SID_COOKIE))


@bp.post("/logout")
def logout():
    if planted("auth.logout-ineffective"):
        # FLAW auth.logout-ineffective: sign-out only tells the browser to forget its cookies;
        # nothing is revoked server side, so the bearer token, a copy of the session cookie and
        # the sid all keep working.
        pass
    else:
        _revoke_presented_credentials()
    session.clear()
    sessions.remember_cookie_user(None)
    response = make_response("", 204)
    if sessions.SID_COOKIE in request.cookies:
        sessions.expire_sid_cookie(response)
    return response
