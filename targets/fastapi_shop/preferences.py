"""The caller's preferences: newsletter opt-in and a note for the courier."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user

router = APIRouter(prefix="/api/preferences", tags=["users"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]


class Preferences(BaseModel):
    newsletter: bool = False
    delivery_note: str = Field("", max_length=200)


class PreferencesUpdate(BaseModel):
    newsletter: bool | None = None
    delivery_note: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00]*$")


async def _current(conn, user_id: int) -> dict:
    row = await conn.fetchrow("SELECT newsletter, delivery_note FROM preferences WHERE user_id = $1", user_id)
    return dict(row) if row else Preferences().model_dump()


@router.get("", response_model=Preferences, summary="The caller's preferences")
async def get_preferences(user: CurrentUser, conn: Connection):
    return await _current(conn, user["id"])


@router.post("", response_model=Preferences, summary="Save the caller's preferences")
async def save_preferences(body: PreferencesUpdate, user: CurrentUser, conn: Connection):
    prefs = await _current(conn, user["id"])
    prefs.update(body.model_dump(exclude_none=True))
    await conn.execute(
        "INSERT INTO preferences (user_id, newsletter, delivery_note) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id) DO UPDATE SET newsletter = EXCLUDED.newsletter, delivery_note = EXCLUDED.delivery_note",
        user["id"],
        prefs["newsletter"],
        prefs["delivery_note"],
    )
    return prefs
