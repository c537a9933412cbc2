"""Private notes, one list per user."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, forgotten_in_vulnerable, get_current_user
from fastapi_shop.schemas import NO_NUL, IdPath, Message, NewNote, Note, NoteList

router = APIRouter(prefix="/api/notes", tags=["notes"], responses=UNAUTHORIZED)

COLUMNS = "id, user_id, title, body, created_at"
NOT_FOUND = {404: {"model": Message, "description": "No such note"}}

CurrentUser = Annotated[dict, Depends(get_current_user)]
# FLAW auth.missing-authentication: in the vulnerable build the note lookup was written against the
# optional-user dependency, so an anonymous caller reads any note by id.
NoteReader = Annotated[
    dict | None, Depends(forgotten_in_vulnerable("auth.missing-authentication", get_current_user))
]


if planted("info.verbose-error"):
    # FLAW info.verbose-error: the search text goes to to_tsquery(), which rejects ordinary input
    # such as `gift ideas` with a syntax error; with no handler, debug mode returns the traceback.
    NoteSearch = Annotated[str | None, Query(description="Full-text query", examples=["gift"])]
    TSQUERY = "to_tsquery"
else:
    NoteSearch = Annotated[
        str | None, Query(max_length=100, pattern=NO_NUL, description="Full-text query", examples=["gift"])
    ]
    TSQUERY = "websearch_to_tsquery"  # accepts any text without syntax errors


@router.get("", response_model=NoteList, summary="List or search the caller's notes")
async def list_notes(user: CurrentUser, conn: Connection, q: NoteSearch = None):
    if q is None:
        rows = await conn.fetch(f"SELECT {COLUMNS} FROM notes WHERE user_id = $1 ORDER BY id", user["id"])
    else:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM notes WHERE user_id = $1"
            f" AND to_tsvector('english', title || ' ' || body) @@ {TSQUERY}('english', $2) ORDER BY id",
            user["id"],
            q,
        )
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.post("", response_model=Note, status_code=status.HTTP_201_CREATED, summary="Write a note")
async def create_note(body: NewNote, user: CurrentUser, conn: Connection):
    row = await conn.fetchrow(
        f"INSERT INTO notes (user_id, title, body) VALUES ($1, $2, $3) RETURNING {COLUMNS}",
        user["id"],
        body.title,
        body.body,
    )
    return dict(row)


@router.get(
    "/{note_id}", response_model=Note, summary="Read one of the caller's notes", responses=NOT_FOUND
)
async def get_note(note_id: IdPath, user: NoteReader, conn: Connection):
    if user is None:
        # Reachable only where authentication was forgotten (see NoteReader).
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM notes WHERE id = $1", note_id)
    else:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM notes WHERE id = $1 AND user_id = $2", note_id, user["id"]
        )
    if row is None:
        raise HTTPException(status_code=404, detail="No such note")
    return dict(row)


@router.delete(
    "/{note_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of the caller's notes",
    responses=NOT_FOUND,
)
async def delete_note(note_id: IdPath, user: CurrentUser, conn: Connection):
    deleted = await conn.fetchval(
        "DELETE FROM notes WHERE id = $1 AND user_id = $2 RETURNING id", note_id, user["id"]
    )
    if deleted is None:
        raise HTTPException(status_code=404, detail="No such note")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
