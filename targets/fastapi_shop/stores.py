"""Shop locations. Shared by design: every signed-in customer may read every store."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import IdPath, Message

router = APIRouter(prefix="/api/stores", tags=["stores"], responses=UNAUTHORIZED)

COLUMNS = "id, name, street, city, postcode, phone, opening_hours"

CurrentUser = Annotated[dict, Depends(get_current_user)]


class Store(BaseModel):
    id: int = Field(examples=[1])
    name: str = Field(examples=["Shop Central"])
    street: str = Field(examples=["1 Market Street"])
    city: str = Field(examples=["Manchester"])
    postcode: str = Field(examples=["M1 1AA"])
    phone: str = Field(examples=["+44 161 496 0000"])
    opening_hours: str = Field(examples=["Mon-Sat 09:00-18:00"])


class StoreList(BaseModel):
    items: list[Store]
    count: int = Field(examples=[3])


@router.get("", response_model=StoreList, summary="List the shop's stores")
async def list_stores(_user: CurrentUser, conn: Connection):
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM stores ORDER BY id")
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.get(
    "/{store_id}",
    response_model=Store,
    summary="Get one store",
    responses={404: {"model": Message, "description": "No such store"}},
)
async def get_store(store_id: IdPath, _user: CurrentUser, conn: Connection):
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM stores WHERE id = $1", store_id)
    if row is None:
        raise HTTPException(status_code=404, detail="No such store")
    return dict(row)
