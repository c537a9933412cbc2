"""Shopping lists. The single-page front end sends the owner's id with every new list."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, forgotten_in_vulnerable, get_current_user
from fastapi_shop.schemas import INT4_MAX, NO_NUL, IdPath, Message

router = APIRouter(prefix="/api/lists", tags=["lists"], responses=UNAUTHORIZED)

COLUMNS = "id, user_id, name, created_at"

CurrentUser = Annotated[dict, Depends(get_current_user)]


class NewShoppingList(BaseModel):
    user_id: int = Field(ge=1, le=INT4_MAX, description="The account the list belongs to", examples=[1])
    name: str = Field(min_length=1, max_length=80, pattern=NO_NUL, examples=["Weekend baking"])


class ShoppingList(BaseModel):
    id: int = Field(examples=[1])
    user_id: int = Field(examples=[1])
    name: str = Field(examples=["Weekend baking"])
    created_at: datetime


class ShoppingListList(BaseModel):
    items: list[ShoppingList]
    count: int = Field(examples=[1])


@router.get("", response_model=ShoppingListList, summary="List the caller's shopping lists")
async def my_lists(user: CurrentUser, conn: Connection):
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM shopping_lists WHERE user_id = $1 ORDER BY id", user["id"])
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.post(
    "",
    response_model=ShoppingList,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"model": Message, "description": "Another account"}},
    summary="Start a shopping list",
)
async def new_list(body: NewShoppingList, user: CurrentUser, conn: Connection):
    if planted("authz.bola-write"):
        # FLAW authz.bola-write: the owner comes from the body as the front end sent it, so bob
        # can put a list into alice's account ({"user_id": 1, ...}); it shows in her lists.
        pass
    elif body.user_id != user["id"]:
        raise HTTPException(status_code=403, detail="Lists can only be created for your own account")
    row = await conn.fetchrow(
        f"INSERT INTO shopping_lists (user_id, name) VALUES ($1, $2) RETURNING {COLUMNS}", body.user_id, body.name
    )
    return dict(row)


@router.get(
    "/{list_id}",
    response_model=ShoppingList,
    responses={404: {"model": Message, "description": "No such list"}},
    summary="Get one of the caller's shopping lists",
)
async def get_list(list_id: IdPath, user: CurrentUser, conn: Connection):
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM shopping_lists WHERE id = $1 AND user_id = $2", list_id, user["id"])
    if row is None:
        raise HTTPException(status_code=404, detail="No such list")
    return dict(row)


# FLAW auth.missing-authentication: in the vulnerable build the delete was written against the
# optional-user dependency, and without a caller the statement has no owner to match: anyone,
# signed in or not, deletes any list (the spec still shows the OAuth2 requirement).
ListDeleter = Annotated[dict | None, Depends(forgotten_in_vulnerable("auth.missing-authentication", get_current_user))]


@router.delete(
    "/{list_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": Message, "description": "No such list"}},
    summary="Delete one of the caller's shopping lists",
)
async def delete_list(list_id: IdPath, caller: ListDeleter, conn: Connection):
    if caller is None:
        deleted = await conn.fetchval("DELETE FROM shopping_lists WHERE id = $1 RETURNING id", list_id)
    else:
        deleted = await conn.fetchval(
            "DELETE FROM shopping_lists WHERE id = $1 AND user_id = $2 RETURNING id", list_id, caller["id"]
        )
    if deleted is None:
        raise HTTPException(status_code=404, detail="No such list")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
