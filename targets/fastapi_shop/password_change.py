"""Changing an account's password: PUT /api/users/{user_id}/password, answered 204.

A customer changes their own password with the current one; the back office resets a customer's
password without it (the admin role).
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from common.variant import planted
from fastapi_shop import account_passwords
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import IdPath, Message, NewPassword

router = APIRouter(prefix="/api/users", tags=["users"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]


class PasswordChange(BaseModel):
    current_password: str | None = Field(None, max_length=128, description="Required for your own account")
    new_password: NewPassword


@router.put(
    "/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"model": Message, "description": "Another account"}, 404: {"model": Message}},
    summary="Change the account's password",
)
async def change_password(user_id: IdPath, body: PasswordChange, user: CurrentUser, conn: Connection):
    if user_id == user["id"]:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", user_id)
        current = body.current_password or ""
        if not await run_in_threadpool(account_passwords.check_password, current, stored):
            raise HTTPException(status_code=403, detail="The current password is wrong")
    elif planted("authz.bola-write"):
        # FLAW authz.bola-write: the branch for another account was meant for the back office, but
        # the role is never checked: bob sets alice's password (PUT /api/users/1/password, no
        # current password needed) and signs in as her.
        pass
    elif user["role"] != "admin":
        raise HTTPException(status_code=403, detail="You can only change your own password")
    username = await conn.fetchval("SELECT username FROM users WHERE id = $1", user_id)
    if username is None:
        raise HTTPException(status_code=404, detail="No such account")
    problem = account_passwords.policy_problem(username, body.new_password)
    if problem is not None:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=problem)
    password_hash = await run_in_threadpool(account_passwords.hash_for_storage, body.new_password)
    await conn.execute("UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
