"""Two small partner APIs mounted inside the FastAPI shop, each a FastAPI app of its own with its own
OpenAPI document (`/partner/openapi.json`, `/kiosk/openapi.json`), so the shop's spec never shows them
and a scan reaches them by their own URL (`http://host:port/partner`).

- `/partner`: an integration API whose tokens are RS256-signed; the public key is served as a JWKS at
  `/partner/.well-known/jwks.json` (not in the spec, as identity providers do) and the token carries
  its `kid`.
- `/kiosk`: the in-store kiosks' API, HS256 tokens signed with a key of its own.

Both sign the shop's accounts in with JSON `{"username","password"}` at `POST /auth/login`, register
new ones at `POST /auth/register` and serve `GET /me` and `GET /orders` (the caller's). The keys are new at every start.
"""

import atexit
import base64
import hashlib
import hmac
import json
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from common.passwords import hash_password
from common.variant import planted
from fastapi_shop import account_passwords, throttle
from fastapi_shop.schemas import EMAIL_PATTERN, USERNAME_PATTERN, Token

TOKEN_TTL_SECONDS = 3600
_HS_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_bearer = HTTPBearer(auto_error=False)
SIGN_IN_RESPONSES = {401: {"description": "Wrong username or password"}}
if not planted("auth.login-throttling"):
    SIGN_IN_RESPONSES = {**SIGN_IN_RESPONSES, **throttle.TOO_MANY}


class Credentials(BaseModel):
    username: str = Field(max_length=64, examples=["alice"])
    password: str = Field(max_length=128, examples=["Alice-pass-1234"])


class Registration(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, examples=["carol"])
    password: str = Field(min_length=8, max_length=128, examples=["Carol-pass-1234"])
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["carol@example.com"])


class Account(BaseModel):
    id: int
    username: str
    email: str
    full_name: str | None = None


class Order(BaseModel):
    id: int
    product_id: int
    quantity: int
    total: float
    status: str


class Signer:
    """How one partner API signs and verifies its tokens."""

    def __init__(self, asymmetric: bool):
        self.asymmetric = asymmetric
        self.kid = secrets.token_hex(8)
        if asymmetric:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.public = self.private.public_key()
            self.public_pem = self.public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        elif planted("auth.jwt-weak-secret"):
            # FLAW auth.jwt-weak-secret: the kiosk key is a six-digit PIN typed in at installation,
            # "because the kiosks have no keyboard"; anyone can try all million of them offline.
            self.secret = f"{secrets.randbelow(10**6):06d}".encode()
        else:
            self.secret = secrets.token_bytes(32)
        if not asymmetric:
            # The kiosk keys live in files named after their kid, so a key can be rotated by
            # dropping in a new file.
            self.key_dir = Path(tempfile.mkdtemp(prefix="kiosk-keys-"))
            (self.key_dir / self.kid).write_bytes(self.secret)
            atexit.register(shutil.rmtree, self.key_dir, True)

    def sign(self, claims: dict) -> str:
        if self.asymmetric:
            return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})
        return jwt.encode(claims, self.secret, algorithm="HS256", headers={"kid": self.kid})

    def jwks(self) -> dict:
        numbers = self.public.public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                          "e": _b64(numbers.e.to_bytes(3, "big"))}]}

    def claims(self, token: str) -> dict | None:
        try:
            if not self.asymmetric:
                header = jwt.get_unverified_header(token)
                if planted("auth.jwt-kid-injection") and header.get("alg") in _HS_DIGESTS:
                    # FLAW auth.jwt-kid-injection: the kid is joined to the key directory as it
                    # is, so `../../../../dev/null` makes the empty file the key (and the
                    # hand-written verifier takes an empty key).
                    key = (self.key_dir / str(header.get("kid", ""))).read_bytes()
                    return _legacy_hmac_claims(token, key, _HS_DIGESTS[header["alg"]])
                if header.get("kid") != self.kid:
                    return None
                return jwt.decode(token, self.secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
            alg = jwt.get_unverified_header(token).get("alg", "")
            if planted("auth.jwt-alg-confusion") and alg in _HS_DIGESTS:
                # FLAW auth.jwt-alg-confusion: the verifier was written against an old JWT library
                # that took "the key" and the token's own `alg`: for an HS* token the public key's
                # PEM becomes the HMAC secret, and that key is published in the JWKS.
                return _legacy_hmac_claims(token, self.public_pem, _HS_DIGESTS[alg])
            return jwt.decode(token, self.public, algorithms=["RS256"], options={"require": ["exp", "sub"]})
        except (jwt.InvalidTokenError, ValueError, OSError):
            return None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _legacy_hmac_claims(token: str, key: bytes, digest) -> dict | None:
    signing_input, _, signature = token.rpartition(".")
    expected = hmac.new(key, signing_input.encode(), digest).digest()
    if not hmac.compare_digest(expected, _unb64(signature)):
        return None
    claims = json.loads(_unb64(signing_input.split(".")[1]))
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        return None
    return claims


async def _connection(request: Request):
    async with request.app.state.shop.state.pool.acquire() as conn:
        yield conn


Connection = Annotated[asyncpg.Connection, Depends(_connection)]


async def _current_user(
    request: Request, conn: Connection, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> asyncpg.Record:
    claims = request.app.state.signer.claims(bearer.credentials) if bearer else None
    try:
        user_id = int(claims["sub"]) if claims else 0
    except (KeyError, TypeError, ValueError):
        user_id = 0
    row = None
    if 1 <= user_id < 2**31:
        row = await conn.fetchrow("SELECT id, username, email, full_name FROM users WHERE id = $1", user_id)
    if row is None:
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return row


CurrentUser = Annotated[asyncpg.Record, Depends(_current_user)]


def _app(shop: FastAPI, title: str, asymmetric: bool) -> FastAPI:
    app = FastAPI(title=title, version="1.0.0")
    app.state.shop = shop
    app.state.signer = Signer(asymmetric)
    unknown_hash = _dummy_hash()

    @app.post("/auth/login", response_model=Token, responses=SIGN_IN_RESPONSES)
    async def login(body: Credentials, request: Request, conn: Connection):
        # FLAW auth.login-throttling: (as the shop's token sign-in) no limit on failures.
        limit_key = None if planted("auth.login-throttling") else f"{title}:{throttle.user_key(body.username)}"
        if limit_key is not None:
            await throttle.refuse_when_blocked(conn, limit_key)
        user = None
        if re.fullmatch(USERNAME_PATTERN, body.username):
            user = await conn.fetchrow("SELECT id, username, password_hash FROM users WHERE username = $1", body.username)
        if user is None and planted("auth.user-enumeration"):
            # FLAW auth.user-enumeration: an unknown username is refused before any hashing, so it
            # is answered tens of milliseconds sooner than a known one with a wrong password
            # (same status, same body: only the time tells).
            if limit_key is not None:
                await throttle.record_failure(conn, limit_key)
            raise HTTPException(401, "Incorrect username or password")
        stored = user["password_hash"] if user else unknown_hash
        valid = await run_in_threadpool(account_passwords.check_password, body.password, stored)
        if not valid or user is None:
            if limit_key is not None:
                await throttle.record_failure(conn, limit_key)
            raise HTTPException(401, "Incorrect username or password")
        if limit_key is not None:
            await throttle.forget(conn, limit_key)
        now = int(time.time())
        claims = {"sub": str(user["id"]), "username": user["username"], "iat": now, "exp": now + TOKEN_TTL_SECONDS}
        return {"access_token": request.app.state.signer.sign(claims), "token_type": "bearer",
                "expires_in": TOKEN_TTL_SECONDS}

    @app.post("/auth/register", response_model=Account, status_code=201,
              responses={400: {"description": "Password not acceptable"}, 409: {"description": "Username taken"}})
    async def register(body: Registration, conn: Connection):
        problem = account_passwords.policy_problem(body.username, body.password)
        if problem is not None:
            raise HTTPException(400, problem)
        row = await conn.fetchrow(
            "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, 'customer')"
            " ON CONFLICT (username) DO NOTHING RETURNING id, username, email, full_name",
            body.username,
            body.email,
            await run_in_threadpool(hash_password, body.password),  # scrypt in both builds
        )
        if row is None:
            raise HTTPException(409, "Username taken")
        return dict(row)

    @app.get("/me", response_model=Account, responses={401: {"description": "Not authenticated"}})
    async def me(user: CurrentUser):
        return dict(user)

    @app.get("/orders", response_model=list[Order], responses={401: {"description": "Not authenticated"}})
    async def orders(user: CurrentUser, conn: Connection):
        rows = await conn.fetch(
            "SELECT id, product_id, quantity, total, status FROM orders WHERE user_id = $1 ORDER BY id", user["id"]
        )
        return [dict(r) for r in rows]

    if asymmetric:
        @app.get("/.well-known/jwks.json", include_in_schema=False)
        async def jwks():
            return app.state.signer.jwks()

    return app


def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def mount(shop: FastAPI) -> None:
    """Mounts both partner APIs on the shop (whose pool they share)."""
    shop.mount("/partner", _app(shop, "Partner API", asymmetric=True))
    shop.mount("/kiosk", _app(shop, "Kiosk API", asymmetric=False))
