"""Payment cards saved under an account: /api/users/{user_id}/cards.

The routes name the account in the path, as the mobile app's client library expects. Reads compare
that account with the caller; in the vulnerable build the writes were added later and only use it.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import NO_NUL, IdPath, Message

router = APIRouter(prefix="/api/users/{user_id}/cards", tags=["cards"], responses=UNAUTHORIZED)

COLUMNS = "id, user_id, nickname, holder, created_at"
RESPONSES = {403: {"model": Message, "description": "Another account"}}
NOT_FOUND = {**RESPONSES, 404: {"model": Message, "description": "No such card"}}

CurrentUser = Annotated[dict, Depends(get_current_user)]


class NewCard(BaseModel):
    nickname: str = Field(min_length=1, max_length=60, pattern=NO_NUL, examples=["Everyday Visa"])
    holder: str = Field(min_length=1, max_length=100, pattern=NO_NUL, examples=["Alice Anderson"])


class Card(BaseModel):
    id: int = Field(examples=[1])
    user_id: int = Field(examples=[1])
    nickname: str = Field(examples=["Everyday Visa"])
    holder: str = Field(examples=["Alice Anderson"])
    created_at: datetime


class CardList(BaseModel):
    items: list[Card]
    count: int = Field(examples=[1])


def own_account(user_id: IdPath, user: CurrentUser) -> int:
    """The path's account, which must be the caller's (403 otherwise)."""
    if user_id != user["id"]:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="Cards of another account")
    return user_id


def path_account(user_id: IdPath, user: CurrentUser) -> int:
    if planted("authz.bola-write"):
        # FLAW authz.bola-write: the writes trust the account in the path; they never compare it
        # with the caller (bob: POST/PUT/DELETE under /api/users/1/cards acts on alice's cards).
        return user_id
    return own_account(user_id, user)


OwnAccount = Annotated[int, Depends(own_account)]
WriteAccount = Annotated[int, Depends(path_account)]


@router.get("", response_model=CardList, responses=RESPONSES, summary="List the account's saved payment cards")
async def list_cards(account: OwnAccount, conn: Connection):
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM cards WHERE user_id = $1 ORDER BY id", account)
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.post(
    "",
    response_model=Card,
    status_code=status.HTTP_201_CREATED,
    responses=RESPONSES,
    summary="Save a payment card to the account",
)
async def add_card(body: NewCard, account: WriteAccount, conn: Connection):
    row = await conn.fetchrow(
        f"INSERT INTO cards (user_id, nickname, holder) VALUES ($1, $2, $3) RETURNING {COLUMNS}",
        account,
        body.nickname,
        body.holder,
    )
    return dict(row)


@router.get("/{card_id}", response_model=Card, responses=NOT_FOUND, summary="Get one of the account's cards")
async def get_card(card_id: IdPath, account: OwnAccount, conn: Connection):
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM cards WHERE id = $1 AND user_id = $2", card_id, account)
    if row is None:
        raise HTTPException(status_code=404, detail="No such card")
    return dict(row)


@router.put("/{card_id}", response_model=Card, responses=NOT_FOUND, summary="Replace one of the account's cards")
async def replace_card(card_id: IdPath, body: NewCard, account: WriteAccount, conn: Connection):
    row = await conn.fetchrow(
        f"UPDATE cards SET nickname = $1, holder = $2 WHERE id = $3 AND user_id = $4 RETURNING {COLUMNS}",
        body.nickname,
        body.holder,
        card_id,
        account,
    )
    if row is None:
        raise HTTPException(status_code=404, detail="No such card")
    return dict(row)


@router.delete(
    "/{card_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
    summary="Delete one of the account's cards",
)
async def delete_card(card_id: IdPath, account: WriteAccount, conn: Connection):
    deleted = await conn.fetchval("DELETE FROM cards WHERE id = $1 AND user_id = $2 RETURNING id", card_id, account)
    if deleted is None:
        raise HTTPException(status_code=404, detail="No such card")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
