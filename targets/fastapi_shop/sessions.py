"""Cookie sign-in for the shop's web pages: a server-side session (`web_sessions`) named by the
`sid` cookie, and the sign-out that ends whatever the caller signed in with.

The `sid` authenticates the same routes as the token login's `session` cookie (auth.get_current_user),
and cookie-authenticated writes pass the same CSRF checks (browser_session.cookie_credential).
"""

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from common.variant import planted
from fastapi_shop import browser_session, throttle
from fastapi_shop.auth import (
    SID_TTL_SECONDS,
    UNAUTHORIZED,
    Connection,
    find_account,
    get_current_user,
    optional_oauth2_scheme,
    password_matches,
    request_token,
    sign_in_failed,
    token_claims,
)
from fastapi_shop.schemas import Message, SessionSignIn, SessionState, SessionUser

router = APIRouter(prefix="/api/auth", tags=["auth"])

SIGN_IN_RESPONSES = {
    401: {"model": Message, "description": "Wrong username or password"},
    **throttle.TOO_MANY,
}


def _new_sid() -> str:
    return secrets.token_urlsafe(32)  # 43 characters


@router.post(
    "/session",
    response_model=SessionUser,
    responses=SIGN_IN_RESPONSES,
    summary="Sign in for the web pages (sets the sid cookie of a server-side session)",
)
async def open_session(body: SessionSignIn, request: Request, response: Response, conn: Connection):
    if planted("auth.throttle-bypass"):
        # FLAW auth.throttle-bypass: failures are counted per client address, and the address is
        # taken from X-Forwarded-For / X-Real-IP / Forwarded as the client sent them (the app was
        # meant to sit behind a proxy that overwrites them), so every new header value is a fresh
        # allowance of five attempts.
        limit_key = throttle.address_key(request)
    else:
        # Counted per username, like the token sign-in (headers play no part).
        limit_key = throttle.user_key(body.username)
    await throttle.refuse_when_blocked(conn, limit_key)
    user = await find_account(conn, body.username)
    if not await password_matches(user, body.password):
        await throttle.record_failure(conn, limit_key)
        raise sign_in_failed()
    await throttle.forget(conn, limit_key)
    presented = request.cookies.get(browser_session.SID_COOKIE, "")[:64]
    if planted("auth.session-fixation"):
        # FLAW auth.session-fixation: sign-in "upgrades" the visitor's session in place: the sid
        # the browser came with (which whoever planted it in that browser also knows) now belongs
        # to the account, and no new sid is issued.
        adopted = presented and await conn.fetchval(
            "UPDATE web_sessions SET user_id = $2 WHERE sid = $1"
            " AND created_at > now() - make_interval(secs => $3) RETURNING sid",
            presented,
            user["id"],
            float(SID_TTL_SECONDS),
        )
        if adopted:
            browser_session.set_csrf_cookie(response, SID_TTL_SECONDS)
            return SessionUser(username=user["username"])
    elif presented:
        # Always a fresh id: the pre-sign-in session ends here.
        await conn.execute("DELETE FROM web_sessions WHERE sid = $1", presented)
    sid = _new_sid()
    await conn.execute("INSERT INTO web_sessions (sid, user_id) VALUES ($1, $2)", sid, user["id"])
    browser_session.set_sid_cookie(response, sid, SID_TTL_SECONDS)
    browser_session.set_csrf_cookie(response, SID_TTL_SECONDS)
    return SessionUser(username=user["username"])


@router.get(
    "/session",
    response_model=SessionState,
    response_model_exclude_none=True,
    summary="Who the browser session belongs to (starts an anonymous session when there is none)",
)
async def session_state(request: Request, response: Response, conn: Connection):
    sid = request.cookies.get(browser_session.SID_COOKIE, "")
    row = None
    if sid and len(sid) <= 64:
        row = await conn.fetchrow(
            "SELECT u.username FROM web_sessions s LEFT JOIN users u ON u.id = s.user_id"
            " WHERE s.sid = $1 AND s.created_at > now() - make_interval(secs => $2)",
            sid,
            float(SID_TTL_SECONDS),
        )
    if row is None:
        sid = _new_sid()
        await conn.execute("INSERT INTO web_sessions (sid) VALUES ($1)", sid)
        browser_session.set_sid_cookie(response, sid, SID_TTL_SECONDS)
        return SessionState(authenticated=False)
    if row["username"] is None:
        return SessionState(authenticated=False)
    return SessionState(authenticated=True, username=row["username"])


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=UNAUTHORIZED,
    summary="Sign out: ends the bearer token, session cookie and sid the request carries",
)
async def logout(
    request: Request,
    conn: Connection,
    _user: Annotated[dict, Depends(get_current_user)],
    bearer: Annotated[str | None, Depends(optional_oauth2_scheme)],
):
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    browser_session.expire_cookies(response)
    if planted("auth.logout-ineffective"):
        # FLAW auth.logout-ineffective: sign-out only asks the browser to drop its cookies; nothing
        # ends on the server, so the bearer token, a copy of the session cookie (the same JWT)
        # and the sid all keep working until they expire.
        return response
    # The token's jti goes on the denylist until the token would have expired anyway (the session
    # cookie holds a token too); the sid's row goes.
    for token in (request_token(request, bearer), request.cookies.get(browser_session.SESSION_COOKIE)):
        claims = token_claims(request, token) if token else None
        if claims is not None:
            await conn.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, to_timestamp($2))"
                " ON CONFLICT (jti) DO NOTHING",
                claims["jti"],
                float(claims["exp"]),
            )
    sid = request.cookies.get(browser_session.SID_COOKIE)
    if sid:
        await conn.execute("DELETE FROM web_sessions WHERE sid = $1", sid[:64])
    await conn.execute("DELETE FROM revoked_tokens WHERE expires_at < now()")
    return response
