"""Browser sessions: the token login also sets an HttpOnly session cookie (the same JWT) so the
shop's web front end needs no script-readable token; the cookie sign-in (sessions.py) sets `sid`,
the id of a server-side session in `web_sessions`. Both cookies authenticate the same routes. Plus
the CORS policy for the web front end.

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
SID_COOKIE = "sid"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The shop's web front end; the only origin allowed to read answers or send cookie writes.
ALLOWED_ORIGINS = ["https://shop.example.test"]


def _set_session_cookie(response: Response, token: str, max_age: int) -> None:
    # FLAW csrf.cookie-state-change: the session cookie is set without a SameSite attribute, so
    # Firefox and Safari send it with requests that other sites start (see cookie_credential for
    # the missing token check).
    same_site = None if planted("csrf.cookie-state-change") else "lax"
    # FLAW auth.cookie-flags: no Secure attribute ("TLS ends at the load balancer"), so the
    # browser also sends the session cookie over plain HTTP, where anyone on the path can read it.
    secure = not planted("auth.cookie-flags")
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite=same_site, path="/"
    )


def set_sid_cookie(response: Response, sid: str, max_age: int) -> None:
    if planted("auth.cookie-flags"):
        # FLAW auth.cookie-flags: the sid cookie of the new web pages was set by hand with none of
        # HttpOnly, Secure and SameSite: page scripts (and any injected one) can read it, it goes
        # over plain HTTP, and other sites' requests carry it.
        response.set_cookie(SID_COOKIE, sid, max_age=max_age, samesite=None, path="/")
        return
    response.set_cookie(SID_COOKIE, sid, max_age=max_age, httponly=True, secure=True, samesite="lax", path="/")


def set_csrf_cookie(response: Response, max_age: int) -> None:
    # Not HttpOnly: the front end's scripts read it and echo it in X-CSRF-Token.
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=max_age, samesite="lax", path="/")


def set_session_cookies(response: Response, token: str, max_age: int) -> None:
    _set_session_cookie(response, token, max_age)
    set_csrf_cookie(response, max_age)


def expire_cookies(response: Response) -> None:
    """Sign-out: every cookie of a browser session expires (same attributes, empty value)."""
    _set_session_cookie(response, "", 0)
    set_sid_cookie(response, "", 0)
    response.set_cookie(CSRF_COOKIE, "", max_age=0, samesite="lax", path="/")


def _same_origin(request: Request, origin: str) -> bool:
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def cookie_credential(request: Request) -> tuple[str, str] | None:
    """The cookie that authenticates a request without an Authorization header, as (name, value):
    the session JWT, else the sid. Unsafe methods must pass the CSRF checks first, whichever
    cookie it is."""
    name = next((n for n in (SESSION_COOKIE, SID_COOKIE) if request.cookies.get(n)), None)
    if name is None:
        return None
    credential = (name, request.cookies[name])
    if request.method in SAFE_METHODS:
        return credential
    if planted("csrf.cookie-state-change"):
        # FLAW csrf.cookie-state-change: the double-submit token and the Origin are never checked,
        # so any site can make a signed-in browser send writes with the session cookie.
        return credential
    origin = request.headers.get("origin")
    if origin is not None and origin not in ALLOWED_ORIGINS and not _same_origin(request, origin):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Cross-origin request refused")
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=f"Missing or wrong {CSRF_HEADER} header")
    return credential


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
