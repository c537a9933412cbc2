"""Server-side browser sessions (`web_sessions`) and the cookies that authenticate a browser.

Two cookies carry a browser's sign-in: Flask's signed `session` cookie (set by the token login) and
the `sid` cookie of the cookie sign-in (POST /api/auth/session), a random id whose row says who, if
anyone, is signed in. In the secure build the `session` cookie also holds the id of a `web_sessions`
row and counts only while that row exists, so signing out ends every copy of it.
"""

import secrets

from flask import g, request, session

from common.variant import planted
from flask_shop import db

SID_COOKIE = "sid"
_SID_MAX = 64  # the column's width; longer values cannot be ours


def new_session(user_id: int | None) -> str:
    sid = secrets.token_urlsafe(32)  # 43 characters
    db.execute("INSERT INTO web_sessions (sid, user_id) VALUES (%s, %s)", (sid, user_id))
    return sid


def _well_formed(sid) -> bool:
    return isinstance(sid, str) and 0 < len(sid) <= _SID_MAX


def find_session(sid: str | None) -> dict | None:
    if not _well_formed(sid):
        return None
    return db.query_one(
        "SELECT s.sid, s.user_id, u.username FROM web_sessions s LEFT JOIN users u ON u.id = s.user_id"
        " WHERE s.sid = %s",
        (sid,),
    )


def sign_in_existing(sid: str, user_id: int) -> None:
    db.execute("UPDATE web_sessions SET user_id = %s WHERE sid = %s", (user_id, sid))


def delete_session(sid: str | None) -> None:
    if _well_formed(sid):
        db.execute("DELETE FROM web_sessions WHERE sid = %s", (sid,))


def _cookie_flags() -> dict:
    if planted("auth.cookie-flags"):
        # FLAW auth.cookie-flags: the session id is set like any preference cookie: readable by
        # scripts (no HttpOnly), sent over plain HTTP (no Secure) and with cross-site requests
        # (no SameSite).
        return {"path": "/"}
    return {"path": "/", "httponly": True, "secure": True, "samesite": "Lax"}


def set_sid_cookie(response, sid: str) -> None:
    response.set_cookie(SID_COOKIE, sid, **_cookie_flags())


def expire_sid_cookie(response) -> None:
    response.delete_cookie(SID_COOKIE, **_cookie_flags())


def _flask_session_user_id() -> int | None:
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    if planted("auth.logout-ineffective"):
        # FLAW auth.logout-ineffective: the signed cookie stands on its own: sign-out only asks the
        # browser to drop it, so any copy taken before keeps working until the secret changes.
        return user_id
    row = find_session(session.get("sid"))
    return user_id if row is not None and row["user_id"] == user_id else None


def _sid_user_id() -> int | None:
    row = find_session(request.cookies.get(SID_COOKIE))
    return row["user_id"] if row is not None else None


def start_flask_session(user_id: int) -> None:
    """Sign the Flask session cookie in as `user_id` (a fresh one: nothing of the old one is kept)."""
    previous = session.get("sid")
    session.clear()
    session["user_id"] = user_id
    remember_cookie_user(user_id)
    if planted("auth.logout-ineffective"):
        # FLAW auth.logout-ineffective: the signed cookie is all there is; no server-side row
        # stands behind it that sign-out could delete.
        return
    delete_session(previous)
    session["sid"] = new_session(user_id)


def cookie_user_id() -> int | None:
    """The user the request's cookies sign in (the Flask session first, then `sid`), or None."""
    if "cookie_user_id" not in g:
        g.cookie_user_id = _flask_session_user_id() or _sid_user_id()
    return g.cookie_user_id


def remember_cookie_user(user_id: int | None) -> None:
    """After a view signs a browser in or out, so the response hooks (CSRF cookie) see it."""
    g.cookie_user_id = user_id
