"""Cookie sign-in for the web front end: an HTML form posts username and password, the answer sets
the `sid` cookie of a server-side session (flask_shop/sessions.py).

GET /api/auth/session tells the page whether it is signed in, and starts an anonymous session
(a `web_sessions` row without a user) for a visitor who has none yet.
"""

import re

from flask import Blueprint, jsonify, request

from common.variant import planted
from flask_shop import sessions
from flask_shop.auth import check_credentials, sign_in_limited, username_key
from flask_shop.errors import ApiError

bp = Blueprint("session_signin", __name__, url_prefix="/api/auth")

_FORWARDED_FOR = re.compile(r'(?:^|[;,\s])for\s*=\s*"?([^";,\s]+)', re.IGNORECASE)


def _client_address() -> str:
    """The client as the proxy headers name it: the first X-Forwarded-For entry, else X-Real-IP,
    else the `for=` of Forwarded, else the peer. Any client can send these headers itself."""
    forwarded_for = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
    if forwarded_for:
        return forwarded_for
    real_ip = request.headers.get("X-Real-IP", "").strip()
    if real_ip:
        return real_ip
    match = _FORWARDED_FOR.search(request.headers.get("Forwarded", ""))
    if match:
        return match.group(1)
    return request.remote_addr or ""


def _limiter_key(username) -> str:
    if planted("auth.throttle-bypass"):
        # FLAW auth.throttle-bypass: the limiter counts failures per client address "so one user
        # cannot lock another out", and takes the address from proxy headers the client controls:
        # a new X-Forwarded-For (or X-Real-IP, Forwarded) value gets a fresh allowance.
        return "ip:" + _client_address()[:200]
    return username_key(username)


def _check(username, password) -> dict:
    user, password_ok = check_credentials(username, password)
    if not password_ok:
        # One answer for unknown users and wrong passwords, in both builds.
        raise ApiError(401, "invalid_credentials", "Invalid username or password.")
    return user


def _signed_in_sid(user_id: int) -> tuple[str, bool]:
    """The sid that is now signed in as `user_id`, and whether the browser must be sent it."""
    presented = sessions.find_session(request.cookies.get(sessions.SID_COOKIE))
    if planted("auth.session-fixation"):
        # FLAW auth.session-fixation: the visitor's existing session is "upgraded" in place: the
        # row gets the user and keeps its id, so whoever planted that sid in the browser (a link,
        # a subdomain cookie) is now signed in with it.
        if presented is not None:
            sessions.sign_in_existing(presented["sid"], user_id)
            return presented["sid"], False
    elif presented is not None:
        sessions.delete_session(presented["sid"])
    return sessions.new_session(user_id), True


@bp.post("/session")
def sign_in():
    username = request.form.get("username")
    password = request.form.get("password")
    if not username or not password:
        raise ApiError(400, "invalid_body", "Form fields username and password are required.")
    user = sign_in_limited(_limiter_key(username), lambda: _check(username, password))
    sid, send = _signed_in_sid(user["id"])
    sessions.remember_cookie_user(user["id"])
    response = jsonify(username=user["username"])
    if send:
        sessions.set_sid_cookie(response, sid)
    return response


@bp.get("/session")
def session_state():
    row = sessions.find_session(request.cookies.get(sessions.SID_COOKIE))
    if row is None:
        response = jsonify(authenticated=False)
        sessions.set_sid_cookie(response, sessions.new_session(None))
        return response
    if row["user_id"] is None:
        return jsonify(authenticated=False)
    return jsonify(authenticated=True, username=row["username"])
