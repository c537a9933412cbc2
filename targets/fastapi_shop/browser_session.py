"""Browser sessions: the token login also sets an HttpOnly session cookie (the same JWT) so the
shop's web front end needs no script-readable token, plus the CORS policy for that front end.

A write authenticated by the cookie must carry the double-submit token (the `csrf_token` cookie
echoed in `X-CSRF-Token`) and, when the browser sends one, an allowed `Origin`. Requests with
`Authorization: Bearer` are not affected: no other site can make a browser send that header.
"""

import hmac
import secrets

from fastapi import FastAPI, HTTPException, Request, Response, status
from starlette.middleware.cors import CORSMiddleware

from common.variant import planted

SESSION_COOKIE = "session"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The shop's web front end; the only origin allowed to read answers or send cookie writes.
ALLOWED_ORIGINS = ["https://shop.example.test"]


def set_session_cookies(response: Response, token: str, max_age: int) -> None:
    # FLAW csrf.cookie-state-change: the session cookie is set without a SameSite attribute, so
    # Firefox and Safari send it with requests that other sites start (see cookie_token for the
    # missing token check).
    same_site = None if planted("csrf.cookie-state-change") else "lax"
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite=same_site, path="/")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=max_age, samesite="lax", path="/")


def _same_origin(request: Request, origin: str) -> bool:
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def cookie_token(request: Request) -> str | None:
    """The session cookie's token, for a request without an Authorization header; unsafe methods
    must pass the CSRF checks first."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or request.method in SAFE_METHODS:
        return token
    if planted("csrf.cookie-state-change"):
        # FLAW csrf.cookie-state-change: the double-submit token and the Origin are never checked,
        # so any site can make a signed-in browser send writes with the session cookie.
        return token
    origin = request.headers.get("origin")
    if origin is not None and origin not in ALLOWED_ORIGINS and not _same_origin(request, origin):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Cross-origin request refused")
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=f"Missing or wrong {CSRF_HEADER} header")
    return token


def install_cors(app: FastAPI) -> None:
    if planted("cors.misconfiguration"):
        # FLAW cors.misconfiguration: "allow everything" copied from a tutorial. With
        # allow_credentials=True Starlette echoes every Origin back with credentials allowed, and
        # preflights grant any method and header.
        app.add_middleware(
            CORSMiddleware, allow_origins=["*"], allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
        )
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=ALLOWED_ORIGINS,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
    )
