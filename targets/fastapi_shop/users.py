"""The caller's own profile."""

from typing import Annotated

from fastapi import APIRouter, Depends

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, USER_COLUMNS, Connection, get_current_user
from fastapi_shop.schemas import User, UserUpdateBody

router = APIRouter(prefix="/api/users", tags=["users"], responses=UNAUTHORIZED)

EDITABLE = ("email", "full_name")
if planted("authz.mass-assignment"):
    # FLAW authz.mass-assignment: `role` was added to the editable profile fields (for the back
    # office, which shares this route), so a customer's PATCH {"role": "admin"} makes them an admin.
    EDITABLE += ("role",)
CurrentUser = Annotated[dict, Depends(get_current_user)]

if planted("authz.data-exposure"):
    # FLAW authz.data-exposure: the profile is serialised through the model of a whole users row,
    # so GET /api/users/me answers with password_hash (`scrypt:16384:8:1$<salt>$<hex>`).
    class UserRow(User):
        password_hash: str

    Profile = UserRow
else:
    Profile = User


@router.get("/me", response_model=Profile, summary="The caller's profile")
async def me(user: CurrentUser, conn: Connection):
    if planted("authz.data-exposure"):
        return dict(await conn.fetchrow("SELECT * FROM users WHERE id = $1", user["id"]))
    return user


@router.patch("/me", response_model=User, summary="Update the caller's profile")
async def update_me(body: UserUpdateBody, user: CurrentUser, conn: Connection):
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: a plain dict, values written as sent (see schemas.UserUpdateBody).
        changes = {k: v for k, v in body.items() if k in EDITABLE}
    else:
        changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if changes:
        # Column names come from EDITABLE / the model's fields, never from the client.
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
        await conn.execute(f"UPDATE users SET {assignments} WHERE id = $1", user["id"], *changes.values())
    return dict(await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user["id"]))
