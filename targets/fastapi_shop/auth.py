"""OAuth2 password-flow login, registration and the dependencies that guard routes."""

import re
import secrets
import time
from typing import Annotated

import asyncpg
import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from common.passwords import hash_password
from common.variant import planted
from fastapi_shop import account_passwords, browser_session, throttle
from fastapi_shop.db import connection
from fastapi_shop.schemas import USERNAME_PATTERN, Message, RegisterRequest, Token, User

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOKEN_URL = "/api/auth/token"
# FLAW auth.jwt-lifetime: tokens live 30 days so the mobile app never has to refresh.
TOKEN_TTL_SECONDS = 30 * 86400 if planted("auth.jwt-lifetime") else 3600
# Server-side sessions of the cookie sign-in (sessions.py) end this long after they were created.
SID_TTL_SECONDS = 8 * 3600
USER_COLUMNS = "id, username, email, full_name, role, created_at"
_USERNAME_RE = re.compile(USERNAME_PATTERN)
_UNKNOWN_USER_HASH = hash_password("no user has this password")

# Two instances of one scheme (same name in the spec): the first answers 401 by itself when the
# header is missing, the second lets the route decide.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL)
optional_oauth2_scheme = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)

Connection = Annotated[asyncpg.Connection, Depends(connection)]

UNAUTHORIZED = {401: {"model": Message, "description": "Not authenticated"}}
FORBIDDEN = {403: {"model": Message, "description": "Not an administrator"}}
SIGN_IN_FAILED = {401: {"model": Message, "description": "Wrong username or password"}}
if planted("auth.user-enumeration"):
    # FLAW auth.user-enumeration: unknown usernames get a 404 of their own (see login).
    SIGN_IN_FAILED = {**SIGN_IN_FAILED, 404: {"model": Message, "description": "No account with that username"}}


def _credentials_error() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _issue_token(request: Request, user: asyncpg.Record) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user["id"]),
        "username": user["username"],
        "role": user["role"],
        "iat": now,
        "exp": now + TOKEN_TTL_SECONDS,
        # Names this token in revoked_tokens when its holder signs out.
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, request.app.state.secret_key, algorithm="HS256")


def token_claims(request: Request, token: str) -> dict | None:
    """The claims of a token this API accepts (signature and expiry checked), else None."""
    try:
        if planted("auth.jwt-none") and jwt.get_unverified_header(token).get("alg", "").lower() == "none":
            # FLAW auth.jwt-none: unsigned tokens from the internal batch jobs are trusted as they are.
            return jwt.decode(token, options={"verify_signature": False})
        return jwt.decode(
            token, request.app.state.secret_key, algorithms=["HS256"], options={"require": ["exp", "sub", "jti"]}
        )
    except jwt.InvalidTokenError:
        return None


async def user_for_claims(conn: asyncpg.Connection, claims: dict) -> dict | None:
    """The account a token's claims name, unless the token was revoked by a sign-out."""
    try:
        user_id = int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    if not 1 <= user_id < 2**31:
        return None
    jti = claims.get("jti")
    row = await conn.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        " AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2)",
        user_id,
        jti if isinstance(jti, str) else None,
    )
    return dict(row) if row else None


async def _user_for_token(request: Request, conn: asyncpg.Connection, token: str) -> dict | None:
    claims = token_claims(request, token)
    return await user_for_claims(conn, claims) if claims is not None else None


async def _user_for_sid(conn: asyncpg.Connection, sid: str) -> dict | None:
    if len(sid) > 64:
        return None
    row = await conn.fetchrow(
        f"SELECT {', '.join('u.' + c for c in USER_COLUMNS.split(', '))}"
        " FROM web_sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.sid = $1 AND s.created_at > now() - make_interval(secs => $2)",
        sid,
        float(SID_TTL_SECONDS),
    )
    return dict(row) if row else None


def request_token(request: Request, bearer: str | None) -> str | None:
    """The token a request carries outside the cookies: the Authorization header."""
    if bearer:
        return bearer
    if planted("auth.credentials-in-url"):
        # FLAW auth.credentials-in-url: download links and the old mobile app put the token in the
        # URL (`?access_token=<jwt>`), so it is accepted there on every route, and ends up in access
        # logs, proxy logs, browser history and Referer headers. (Read from the query string by
        # hand, so no route documents it.)
        return request.query_params.get("access_token") or None
    return None


def _not_authenticated() -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Not authenticated",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def get_current_user(
    request: Request, conn: Connection, token: Annotated[str | None, Depends(optional_oauth2_scheme)]
) -> dict:
    # Scripts send the bearer token; the web front end has the same token in the session cookie,
    # or the sid of a server-side session from the cookie sign-in.
    token = request_token(request, token)
    if token:
        user = await _user_for_token(request, conn, token)
    else:
        cookie = browser_session.cookie_credential(request)
        if cookie is None:
            raise _not_authenticated()
        name, value = cookie
        if name == browser_session.SID_COOKIE:
            user = await _user_for_sid(conn, value)
        else:
            user = await _user_for_token(request, conn, value)
    if user is None:
        raise _credentials_error()
    return user


async def get_optional_user(
    request: Request, conn: Connection, token: Annotated[str | None, Depends(optional_oauth2_scheme)]
) -> dict | None:
    token = request_token(request, token)
    return await _user_for_token(request, conn, token) if token else None


async def require_admin(user: Annotated[dict, Depends(get_current_user)]) -> dict:
    if user["role"] != "admin":
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Administrator role required")
    return user


def forgotten_in_vulnerable(check_id: str, guard):
    """`guard` as the route's user dependency, except in the build where `check_id` is planted: there
    the route was written against the optional-user dependency, which lets anonymous callers in but
    still puts the OAuth2 requirement into the spec."""
    return get_optional_user if planted(check_id) else guard


async def find_account(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    # Usernames have a fixed alphabet, so anything else cannot match and is not worth a query.
    if not _USERNAME_RE.fullmatch(username):
        return None
    return await conn.fetchrow(f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1", username)


async def password_matches(user: asyncpg.Record | None, password: str) -> bool:
    # scrypt runs off the event loop; unknown users take as long as wrong passwords.
    stored = user["password_hash"] if user else _UNKNOWN_USER_HASH
    valid = await run_in_threadpool(account_passwords.check_password, password, stored)
    return valid and user is not None


def sign_in_failed(detail: str = "Incorrect username or password") -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


# FLAW auth.login-throttling: (no limiter on this route, see login) so no 429 in the spec either.
TOKEN_RESPONSES = SIGN_IN_FAILED if planted("auth.login-throttling") else {**SIGN_IN_FAILED, **throttle.TOO_MANY}


@router.post("/token", response_model=Token, responses=TOKEN_RESPONSES)
async def login(
    request: Request, response: Response, conn: Connection, form: Annotated[OAuth2PasswordRequestForm, Depends()]
):
    if planted("auth.login-throttling"):
        # FLAW auth.login-throttling: no limit on failed sign-ins ("the mobile app retries on its
        # own"), so a script can try passwords against any account as fast as the server answers.
        limit_key = None
    else:
        # Checked before the password, counted per username, known or not.
        limit_key = throttle.user_key(form.username)
        await throttle.refuse_when_blocked(conn, limit_key)
    user = await find_account(conn, form.username)
    if user is None and planted("auth.user-enumeration"):
        # FLAW auth.user-enumeration: helpful error messages: an unknown username gets a 404 of
        # its own (and no password hashing), a known one with a wrong password "Incorrect
        # password", so anyone can list which accounts exist.
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="No account with that username")
    if not await password_matches(user, form.password):
        if limit_key is not None:
            await throttle.record_failure(conn, limit_key)
        if planted("auth.user-enumeration"):
            # FLAW auth.user-enumeration: (see above) the wrong-password answer names the cause.
            raise sign_in_failed("Incorrect password")
        raise sign_in_failed()
    if limit_key is not None:
        await throttle.forget(conn, limit_key)
    token = _issue_token(request, user)
    browser_session.set_session_cookies(response, token, TOKEN_TTL_SECONDS)
    return Token(access_token=token, expires_in=TOKEN_TTL_SECONDS)


@router.post(
    "/register",
    response_model=User,
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"model": Message, "description": "Password not acceptable"},
        409: {"model": Message, "description": "Username taken"},
    },
)
async def register(body: RegisterRequest, conn: Connection):
    problem = account_passwords.policy_problem(body.username, body.password)
    if problem is not None:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=problem)
    role = "customer"
    if planted("authz.mass-assignment"):
        # FLAW authz.mass-assignment: the role comes from the sign-up body (see schemas.RegisterRequest).
        role = "admin" if body.is_admin else body.role
    row = await conn.fetchrow(
        "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4)"
        f" ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}",
        body.username,
        body.email,
        await run_in_threadpool(account_passwords.hash_for_storage, body.password),
        role,
    )
    if row is None:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail="That username is taken")
    return dict(row)
