"""Password reset: ask for a code, then exchange the code (and the username) for a new password.

The shop has no mail service in this demo; in the secure build the code would go out by e-mail
and is only ever stored as its SHA-256.
"""

import hashlib
import secrets

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from common.variant import planted
from fastapi_shop import account_passwords, throttle
from fastapi_shop.auth import Connection, find_account
from fastapi_shop.schemas import Message, ResetConfirm, ResetRequest

router = APIRouter(prefix="/api/auth", tags=["auth"])

RESET_TTL_SECONDS = 15 * 60
# More than five wrong codes for one username within the code's lifetime: 429.
WRONG_CODE_LIMIT = 5
SENT = "If the account exists, a reset link was sent."
INVALID_CODE = "Invalid or expired code"


class ResetCodeSent(BaseModel):
    detail: str = Field(examples=["Reset code sent"])
    reset_code: str = Field(examples=["0427"])


if planted("auth.weak-recovery"):
    # FLAW auth.weak-recovery: the answer carries the reset code (see request_reset), and the spec
    # documents it.
    REQUEST_ANSWER = {"status_code": status.HTTP_200_OK, "response_model": ResetCodeSent}
else:
    REQUEST_ANSWER = {"status_code": status.HTTP_202_ACCEPTED, "response_model": Message}
if planted("auth.user-enumeration"):
    # FLAW auth.user-enumeration: unknown usernames get a 404 of their own (see request_reset).
    REQUEST_RESPONSES = {404: {"model": Message, "description": "No account with that username"}}
else:
    REQUEST_RESPONSES = {}
REJECTED = {400: {"model": Message, "description": "Invalid or expired code, or password not acceptable"}}
if planted("auth.weak-recovery"):
    # FLAW auth.weak-recovery: no limiter on wrong codes (see confirm_reset), so no 429 either.
    CONFIRM_RESPONSES = REJECTED
else:
    CONFIRM_RESPONSES = {**REJECTED, **throttle.TOO_MANY}


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@router.post(
    "/password-reset",
    responses=REQUEST_RESPONSES,
    summary="Ask for a password-reset code",
    **REQUEST_ANSWER,
)
async def request_reset(body: ResetRequest, conn: Connection):
    user = await find_account(conn, body.username)
    if user is None:
        if planted("auth.user-enumeration"):
            # FLAW auth.user-enumeration: "helpful" error: the reset form says which usernames
            # have no account, so it doubles as an account lookup.
            raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="No account with that username")
        return JSONResponse({"detail": SENT}, status_code=status.HTTP_202_ACCEPTED)
    if planted("auth.weak-recovery"):
        # FLAW auth.weak-recovery: a 4-digit code, stored as it is, and handed back in the answer
        # "until the mail service is wired up": whoever asks can reset any account's password.
        code = f"{secrets.randbelow(10_000):04d}"
        await conn.execute("INSERT INTO password_resets (user_id, code_hash) VALUES ($1, $2)", user["id"], code)
        return ResetCodeSent(detail="Reset code sent", reset_code=code)
    code = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO password_resets (user_id, code_hash) VALUES ($1, $2)", user["id"], _code_hash(code)
    )
    # The code would go out by e-mail here; it never appears in an answer.
    return JSONResponse({"detail": SENT}, status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/password-reset/confirm",
    response_model=Message,
    responses=CONFIRM_RESPONSES,
    summary="Set a new password with a reset code",
)
async def confirm_reset(body: ResetConfirm, conn: Connection):
    if planted("auth.weak-recovery"):
        # FLAW auth.weak-recovery: wrong codes are not limited, so a script tries all 10,000
        # four-digit codes in a few minutes.
        limit_key = None
    else:
        limit_key = throttle.reset_key(body.username)
        await throttle.refuse_when_blocked(conn, limit_key, WRONG_CODE_LIMIT, RESET_TTL_SECONDS)
    problem = account_passwords.policy_problem(body.username, body.new_password)
    if problem is not None:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=problem)
    user = await find_account(conn, body.username)
    if user is None:
        reset_id = None
    elif planted("auth.weak-recovery"):
        # FLAW auth.weak-recovery: the code is compared as stored and never marked used, so it
        # works again (and again) until it expires.
        reset_id = await conn.fetchval(
            "SELECT id FROM password_resets WHERE user_id = $1 AND code_hash = $2"
            " AND created_at > now() - make_interval(secs => $3) LIMIT 1",
            user["id"],
            body.code,
            float(RESET_TTL_SECONDS),
        )
    else:
        # Single use: the code is spent in the same statement that finds it.
        reset_id = await conn.fetchval(
            "UPDATE password_resets SET used = true WHERE id = ("
            " SELECT id FROM password_resets WHERE user_id = $1 AND code_hash = $2 AND NOT used"
            " AND created_at > now() - make_interval(secs => $3) ORDER BY id LIMIT 1 FOR UPDATE"
            ") AND NOT used RETURNING id",
            user["id"],
            _code_hash(body.code),
            float(RESET_TTL_SECONDS),
        )
    if reset_id is None:
        if limit_key is not None:
            await throttle.record_failure(conn, limit_key)
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=INVALID_CODE)
    if limit_key is not None:
        await throttle.forget(conn, limit_key)
    password_hash = await run_in_threadpool(account_passwords.hash_for_storage, body.new_password)
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user["id"], password_hash)
    return Message(detail="Password changed")
