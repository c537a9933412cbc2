"""The caller's saved delivery addresses."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import NO_NUL, IdPath, Message

router = APIRouter(prefix="/api/addresses", tags=["addresses"], responses=UNAUTHORIZED)

COLUMNS = "id, user_id, label, recipient, street, city, postcode, country, phone, created_at"
NOT_FOUND = {404: {"model": Message, "description": "No such address"}}
COUNTRY = r"^[A-Za-z]{2}$"

CurrentUser = Annotated[dict, Depends(get_current_user)]


class NewAddress(BaseModel):
    label: str = Field(min_length=1, max_length=40, pattern=NO_NUL, examples=["Home"])
    recipient: str = Field(min_length=1, max_length=100, pattern=NO_NUL, examples=["Carol Clark"])
    street: str = Field(min_length=1, max_length=200, pattern=NO_NUL, examples=["7 Elm Row"])
    city: str = Field(min_length=1, max_length=100, pattern=NO_NUL, examples=["York"])
    postcode: str = Field(min_length=1, max_length=16, pattern=NO_NUL, examples=["YO1 7HH"])
    country: str = Field("GB", pattern=COUNTRY, examples=["GB"])
    phone: str = Field("", max_length=32, pattern=NO_NUL, examples=["+44 1904 496 0111"])


class AddressUpdate(BaseModel):
    label: str | None = Field(None, min_length=1, max_length=40, pattern=NO_NUL, examples=["Home"])
    recipient: str | None = Field(None, min_length=1, max_length=100, pattern=NO_NUL, examples=["Carol Clark"])
    street: str | None = Field(None, min_length=1, max_length=200, pattern=NO_NUL, examples=["9 Elm Row"])
    city: str | None = Field(None, min_length=1, max_length=100, pattern=NO_NUL, examples=["York"])
    postcode: str | None = Field(None, min_length=1, max_length=16, pattern=NO_NUL, examples=["YO1 7HH"])
    country: str | None = Field(None, pattern=COUNTRY, examples=["GB"])
    phone: str | None = Field(None, max_length=32, pattern=NO_NUL, examples=["+44 1904 496 0111"])


class Address(BaseModel):
    id: int = Field(examples=[1])
    user_id: int = Field(examples=[1])
    label: str = Field(examples=["Home"])
    recipient: str = Field(examples=["Alice Anderson"])
    street: str = Field(examples=["12 Rosemary Lane"])
    city: str = Field(examples=["Bristol"])
    postcode: str = Field(examples=["BS1 4QA"])
    country: str = Field(examples=["GB"])
    phone: str = Field(examples=["+44 117 496 0123"])
    created_at: datetime


class AddressList(BaseModel):
    items: list[Address]
    count: int = Field(examples=[2])


def _values(model: BaseModel) -> dict:
    values = model.model_dump(exclude_unset=True, exclude_none=True)
    if "country" in values:
        values["country"] = values["country"].upper()
    return values


@router.get("", response_model=AddressList, summary="List the caller's saved addresses")
async def list_addresses(user: CurrentUser, conn: Connection):
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM addresses WHERE user_id = $1 ORDER BY id", user["id"])
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.post("", response_model=Address, status_code=status.HTTP_201_CREATED, summary="Save a new address")
async def create_address(body: NewAddress, user: CurrentUser, conn: Connection):
    values = {**body.model_dump(), **_values(body)}
    columns = ", ".join(values)  # the model's field names, never the client's keys
    placeholders = ", ".join(f"${i}" for i in range(2, len(values) + 2))
    row = await conn.fetchrow(
        f"INSERT INTO addresses (user_id, {columns}) VALUES ($1, {placeholders}) RETURNING {COLUMNS}",
        user["id"],
        *values.values(),
    )
    return dict(row)


@router.get(
    "/{address_id}", response_model=Address, summary="Get one of the caller's addresses", responses=NOT_FOUND
)
async def get_address(address_id: IdPath, user: CurrentUser, conn: Connection):
    if planted("authz.bola"):
        # FLAW authz.bola: the address is looked up by id alone, so any signed-in customer reads
        # anyone's address (bob: GET /api/addresses/1 returns alice's home address and phone).
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM addresses WHERE id = $1", address_id)
    else:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2", address_id, user["id"]
        )
    if row is None:
        raise HTTPException(status_code=404, detail="No such address")
    return dict(row)


@router.patch(
    "/{address_id}", response_model=Address, summary="Change one of the caller's addresses", responses=NOT_FOUND
)
async def update_address(address_id: IdPath, body: AddressUpdate, user: CurrentUser, conn: Connection):
    values = _values(body)
    if values:
        assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, start=3))
        row = await conn.fetchrow(
            f"UPDATE addresses SET {assignments} WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}",
            address_id,
            user["id"],
            *values.values(),
        )
    else:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2", address_id, user["id"]
        )
    if row is None:
        raise HTTPException(status_code=404, detail="No such address")
    return dict(row)


@router.delete(
    "/{address_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of the caller's addresses",
    responses=NOT_FOUND,
)
async def delete_address(address_id: IdPath, user: CurrentUser, conn: Connection):
    deleted = await conn.fetchval(
        "DELETE FROM addresses WHERE id = $1 AND user_id = $2 RETURNING id", address_id, user["id"]
    )
    if deleted is None:
        raise HTTPException(status_code=404, detail="No such address")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
