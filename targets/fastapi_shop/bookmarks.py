"""Bookmarked products: the caller's own list, a page at a time (`page`, `per_page`)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import Message

router = APIRouter(prefix="/api/bookmarks", tags=["bookmarks"], responses=UNAUTHORIZED)

COLUMNS = "id, product_id, note, created_at"
# The maximum page size the spec documents.
MAX_PER_PAGE = 5

CurrentUser = Annotated[dict, Depends(get_current_user)]
Page = Annotated[int, Query(ge=1, le=10_000)]

if planted("availability.uncapped-page-size"):
    # FLAW availability.uncapped-page-size: the maximum of 5 is only written into the schema
    # (json_schema_extra), never validated: `?per_page=100000` reads the whole list at once.
    PerPage = Annotated[
        int, Query(ge=1, json_schema_extra={"maximum": MAX_PER_PAGE}, description="Bookmarks per page (at most 5)")
    ]
else:
    PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="Bookmarks per page (at most 5)")]


class NewBookmark(BaseModel):
    product_id: int = Field(ge=1, le=2**31 - 1, examples=[1])
    note: str = Field(default="", max_length=200, examples=["for the office"])


class Bookmark(BaseModel):
    id: int = Field(examples=[1])
    product_id: int = Field(examples=[1])
    note: str
    created_at: datetime


class BookmarkPage(BaseModel):
    items: list[Bookmark]
    page: int
    per_page: int


@router.get("", response_model=BookmarkPage, summary="List the caller's bookmarks, a page at a time")
async def list_bookmarks(user: CurrentUser, conn: Connection, page: Page = 1, per_page: PerPage = 3):
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM bookmarks WHERE user_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
        user["id"],
        per_page,
        (page - 1) * per_page,
    )
    return {"items": [dict(r) for r in rows], "page": page, "per_page": per_page}


@router.post(
    "",
    response_model=Bookmark,
    status_code=status.HTTP_201_CREATED,
    summary="Bookmark a product",
    responses={404: {"model": Message, "description": "No such product"}},
)
async def create_bookmark(body: NewBookmark, user: CurrentUser, conn: Connection):
    if await conn.fetchval("SELECT id FROM products WHERE id = $1", body.product_id) is None:
        raise HTTPException(status_code=404, detail="No such product")
    row = await conn.fetchrow(
        f"INSERT INTO bookmarks (user_id, product_id, note) VALUES ($1, $2, $3) RETURNING {COLUMNS}",
        user["id"],
        body.product_id,
        body.note,
    )
    return dict(row)
