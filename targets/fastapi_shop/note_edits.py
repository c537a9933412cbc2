"""Editing a note (title and/or body). Reading, listing and deleting notes live in notes.py."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.notes import COLUMNS
from fastapi_shop.schemas import NO_NUL, IdPath, Message, Note

router = APIRouter(prefix="/api/notes", tags=["notes"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]


class NoteUpdate(BaseModel):
    title: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL, examples=["Gift ideas (updated)"])
    body: str | None = Field(None, min_length=1, max_length=10_000, pattern=NO_NUL, examples=["Mug for Dad."])


@router.patch(
    "/{note_id}",
    response_model=Note,
    summary="Edit one of the caller's notes",
    responses={404: {"model": Message, "description": "No such note"}},
)
async def update_note(note_id: IdPath, body: NoteUpdate, user: CurrentUser, conn: Connection):
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise HTTPException(status_code=422, detail="Send title and/or body")
    if planted("authz.bola-write"):
        # FLAW authz.bola-write: the update matches the note by id alone, so any signed-in customer
        # rewrites anyone's note (bob: PATCH /api/notes/1 changes alice's note 1, and alice's next
        # GET /api/notes/1 shows bob's text; bob's own GET of it is still a 404).
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=2))
        row = await conn.fetchrow(
            f"UPDATE notes SET {assignments} WHERE id = $1 RETURNING {COLUMNS}", note_id, *changes.values()
        )
    else:
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=3))
        row = await conn.fetchrow(
            f"UPDATE notes SET {assignments} WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}",
            note_id,
            user["id"],
            *changes.values(),
        )
    if row is None:
        raise HTTPException(status_code=404, detail="No such note")
    return dict(row)
