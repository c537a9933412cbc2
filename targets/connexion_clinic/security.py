"""Access tokens and who the caller is.

Both sign-ins (`POST /session`, `POST /oauth/token`) hand out the same HS256 JWT. The spec's two
security schemes (`bearerAuth`, `oauth2`) both point at `token_info` below, which connexion's
security middleware calls before any handler runs, outside Flask's app context: that is why the
key lives here and not in the Flask config. Connexion passes the token's `sub` (the account's UUID)
to handlers as their `user` argument; `caller` turns it into the account row, so a role changed
since the token was issued counts at once.
"""

import secrets
import time

import jwt

from connexion_clinic import db
from connexion_clinic.envelope import Fail

ISSUER = "vet-clinic-api"
TOKEN_TTL_SECONDS = 3600
USER_COLUMNS = "id, username, email, full_name, role, created_at"

_key = {"secret": None}


def configure(secret: str) -> None:
    _key["secret"] = secret


def issue_token(user: dict) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": str(user["id"]),
        "username": user["username"],
        "role": user["role"],
        "iat": now,
        "exp": now + TOKEN_TTL_SECONDS,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, _key["secret"], algorithm="HS256")


def token_info(token: str) -> dict | None:
    """The claims of a token this API signed (connexion answers 401 when this returns None)."""
    try:
        return jwt.decode(
            token,
            _key["secret"],
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.InvalidTokenError:
        return None


def caller(user: str) -> dict:
    """The signed-in account (`user` is the token's subject)."""
    row = db.query_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user,))
    if row is None:  # deleted since the token was issued
        raise Fail(401, "account no longer exists")
    return row


def require_self(user: str, username: str) -> dict:
    """The caller, who must be the owner named in the path (collections under /users/{username})."""
    me = caller(user)
    if me["username"] != username:
        raise Fail(403, "you can only use your own records")
    return me


def require_admin(user: str) -> dict:
    me = caller(user)
    if me["role"] != "admin":
        raise Fail(403, "staff only")
    return me


def user_json(row: dict) -> dict:
    return {
        "id": str(row["id"]),
        "username": row["username"],
        "email": row["email"],
        "fullName": row["full_name"],
        "role": row["role"],
        "createdAt": row["created_at"].isoformat(),
    }
