"""OAuth2 password-flow login, registration and the dependencies that guard routes."""

import re
import time
from typing import Annotated

import asyncpg
import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from common.passwords import hash_password, verify_password
from common.variant import planted
from fastapi_shop import browser_session
from fastapi_shop.db import connection
from fastapi_shop.schemas import USERNAME_PATTERN, Message, RegisterRequest, Token, User

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOKEN_URL = "/api/auth/token"
# FLAW auth.jwt-lifetime: tokens live 30 days so the mobile app never has to refresh.
TOKEN_TTL_SECONDS = 30 * 86400 if planted("auth.jwt-lifetime") else 3600
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
    }
    return jwt.encode(claims, request.app.state.secret_key, algorithm="HS256")


async def _user_for_token(request: Request, conn: asyncpg.Connection, token: str) -> dict | None:
    try:
        if planted("auth.jwt-none") and jwt.get_unverified_header(token).get("alg", "").lower() == "none":
            # FLAW auth.jwt-none: unsigned tokens from the internal batch jobs are trusted as they are.
            claims = jwt.decode(token, options={"verify_signature": False})
        else:
            claims = jwt.decode(
                token, request.app.state.secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        return None
    if not 1 <= user_id < 2**31:
        return None
    row = await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return dict(row) if row else None


async def get_current_user(
    request: Request, conn: Connection, token: Annotated[str | None, Depends(optional_oauth2_scheme)]
) -> dict:
    # Scripts send the bearer token; the web front end has the same token in the session cookie.
    token = token or browser_session.cookie_token(request)
    if not token:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = await _user_for_token(request, conn, token)
    if user is None:
        raise _credentials_error()
    return user


async def get_optional_user(
    request: Request, conn: Connection, token: Annotated[str | None, Depends(optional_oauth2_scheme)]
) -> dict | None:
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


@router.post("/token", response_model=Token, responses=UNAUTHORIZED)
async def login(
    request: Request, response: Response, conn: Connection, form: Annotated[OAuth2PasswordRequestForm, Depends()]
):
    user = None
    # Usernames have a fixed alphabet, so anything else cannot match and is not worth a query.
    if _USERNAME_RE.fullmatch(form.username):
        user = await conn.fetchrow(
            f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1", form.username
        )
    # scrypt runs off the event loop; unknown users take as long as wrong passwords.
    stored = user["password_hash"] if user else _UNKNOWN_USER_HASH
    valid = await run_in_threadpool(verify_password, form.password, stored)
    if user is None or not valid:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = _issue_token(request, user)
    browser_session.set_session_cookies(response, token, TOKEN_TTL_SECONDS)
    return Token(access_token=token, expires_in=TOKEN_TTL_SECONDS)


@router.post(
    "/register",
    response_model=User,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Message, "description": "Username taken"}},
)
async def register(body: RegisterRequest, conn: Connection):
    role = "customer"
    if planted("authz.mass-assignment"):
        # FLAW authz.mass-assignment: the role comes from the sign-up body (see schemas.RegisterRequest).
        role = "admin" if body.is_admin else body.role
    row = await conn.fetchrow(
        "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4)"
        f" ON CONFLICT (username) DO NOTHING RETURNING {USER_COLUMNS}",
        body.username,
        body.email,
        await run_in_threadpool(hash_password, body.password),
        role,
    )
    if row is None:
        raise HTTPException(status_code=status.HTTP_409_CONFLICT, detail="That username is taken")
    return dict(row)
