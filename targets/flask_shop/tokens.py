"""Token refresh for API clients (scripts, the mobile app): bearer token only, never the cookie."""

from flask import Blueprint, current_app, jsonify, request

from flask_shop import db
from flask_shop.auth import USER_COLUMNS, _user_id_from_token, issue_token
from flask_shop.errors import ApiError

bp = Blueprint("tokens", __name__, url_prefix="/api/auth")


@bp.post("/refresh")
def refresh():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    user_id = _user_id_from_token(token.strip()) if scheme.lower() == "bearer" and token else None
    user = db.query_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)) if user_id else None
    if user is None:
        raise ApiError(401, "unauthorized", "A valid bearer token is required.", {"WWW-Authenticate": "Bearer"})
    ttl = current_app.config["TOKEN_TTL_SECONDS"]
    return jsonify(access_token=issue_token(user), token_type="bearer", expires_in=ttl)
