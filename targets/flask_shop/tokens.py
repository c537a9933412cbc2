"""Token refresh for API clients (scripts, the mobile app): bearer token only, never the cookie."""

import jwt
from flask import Blueprint, current_app, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import USER_COLUMNS, _user_id_from_token, bearer_token, issue_token
from flask_shop.errors import ApiError

bp = Blueprint("tokens", __name__, url_prefix="/api/auth")


def _unverified_user_id(token: str) -> int | None:
    try:
        return int(jwt.decode(token, options={"verify_signature": False})["sub"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return None


@bp.post("/refresh")
def refresh():
    token = bearer_token()
    if token is None:
        user_id = None
    elif planted("auth.jwt-signature"):
        # FLAW auth.jwt-signature: "it only ever refreshes our own tokens", so the claims are read
        # without checking the signature (or expiry): a token with an altered signature, or edited
        # claims, is exchanged for a genuine one.
        user_id = _unverified_user_id(token)
    else:
        user_id = _user_id_from_token(token)
    user = db.query_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)) if user_id else None
    if user is None:
        raise ApiError(401, "unauthorized", "A valid bearer token is required.", {"WWW-Authenticate": "Bearer"})
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    return jsonify(access_token=issue_token(user), token_type="bearer", expires_in=ttl)
