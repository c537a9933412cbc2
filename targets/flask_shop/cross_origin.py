"""What browsers on other sites may do: the CORS policy, and the CSRF defence for writes that are
authenticated by a cookie, the Flask session or the `sid` (double-submit token plus an Origin allowlist).

Scripts that send `Authorization: Bearer` are not affected: no other site can make a browser send
that header, so those requests need no CSRF token.
"""

import hmac
import secrets

from flask import Flask, request

from common.variant import planted
from flask_shop.errors import ApiError
from flask_shop.sessions import cookie_user_id

# The shop's web front end; the only origin allowed to read answers or send cookie writes.
ALLOWED_ORIGINS = frozenset({"https://shop.example.test"})
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same_origin(origin: str) -> bool:
    return origin == request.host_url.rstrip("/")


def _check_cookie_write() -> None:
    if request.method in SAFE_METHODS or "Authorization" in request.headers or cookie_user_id() is None:
        return
    origin = request.headers.get("Origin")
    if origin is not None and origin not in ALLOWED_ORIGINS and not _same_origin(origin):
        raise ApiError(403, "forbidden", "Cross-origin request refused.")
    if request.endpoint == "auth.logout":
        # Sign-out only ever takes rights away, and a forged one from another site carries that
        # site's Origin (refused above); clients that sign out with the cookie alone must succeed.
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise ApiError(403, "csrf_failed", f"Missing or wrong {CSRF_HEADER} header.")


def _cors(response):
    origin = request.headers.get("Origin")
    if origin is None:
        return
    response.vary.add("Origin")
    preflight = request.method == "OPTIONS"
    if planted("cors.misconfiguration"):
        # FLAW cors.misconfiguration: "make the front end work from anywhere": every origin is
        # echoed back with credentials allowed, and preflights grant whatever they ask for.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if preflight:
            response.headers["Access-Control-Allow-Methods"] = request.headers.get(
                "Access-Control-Request-Method", "GET"
            )
            response.headers["Access-Control-Allow-Headers"] = request.headers.get(
                "Access-Control-Request-Headers", ""
            )
        return
    if origin in ALLOWED_ORIGINS:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        if preflight:
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE"
            response.headers["Access-Control-Allow-Headers"] = f"Authorization, Content-Type, {CSRF_HEADER}"


def init_app(app: Flask) -> None:
    @app.before_request
    def csrf_protect():
        # FLAW csrf.cookie-state-change: no CSRF defence at all: any write authenticated by the
        # session cookie is accepted, whatever its Origin and without a token.
        if not planted("csrf.cookie-state-change"):
            _check_cookie_write()

    @app.after_request
    def browser_headers(response):
        _cors(response)
        if CSRF_COOKIE not in request.cookies and cookie_user_id() is not None:
            # Readable by the shop's own scripts (not HttpOnly), which echo it in X-CSRF-Token.
            response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), samesite="Lax", path="/")
        return response
