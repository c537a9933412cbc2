"""Back-office writes for the admin role: new catalogue items and account roles."""

import secrets
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import FORBIDDEN, UNAUTHORIZED, USER_COLUMNS, Connection, get_current_user, require_admin
from fastapi_shop.catalogue import COLUMNS as PRODUCT_COLUMNS
from fastapi_shop.schemas import NO_NUL, IdPath, Message, Product, User

router = APIRouter(prefix="/api/admin", tags=["admin"], responses={**UNAUTHORIZED, **FORBIDDEN})

# FLAW authz.bfla: in the vulnerable build both back-office writes depend on get_current_user
# instead of require_admin: any signed-in customer adds catalogue items and changes any account's
# role (making itself, or anyone, an administrator).
BackOffice = Annotated[dict, Depends(get_current_user if planted("authz.bfla") else require_admin)]


class NewProduct(BaseModel):
    name: str = Field(min_length=1, max_length=120, pattern=NO_NUL, examples=["Tea towel"])
    description: str = Field("", max_length=2000, pattern=NO_NUL, examples=["Linen, 50 x 70 cm"])
    price_pence: int = Field(ge=0, le=10_000_000, examples=[650])
    stock: int = Field(ge=0, le=1_000_000, examples=[40])


class RoleChange(BaseModel):
    role: Literal["customer", "admin"]


@router.post(
    "/products",
    response_model=Product,
    status_code=status.HTTP_201_CREATED,
    summary="Add a catalogue item (admin role)",
)
async def create_product(body: NewProduct, _admin: BackOffice, conn: Connection):
    row = await conn.fetchrow(
        f"INSERT INTO products (sku, name, description, price, stock) VALUES ($1, $2, $3, $4, $5)"
        f" RETURNING {PRODUCT_COLUMNS}",
        f"NEW-{secrets.token_hex(4).upper()}",
        body.name,
        body.description,
        Decimal(body.price_pence) / 100,
        body.stock,
    )
    return dict(row)


@router.patch(
    "/users/{user_id}",
    response_model=User,
    responses={404: {"model": Message, "description": "No such account"}},
    summary="Change an account's role (admin role)",
)
async def set_role(user_id: IdPath, body: RoleChange, _admin: BackOffice, conn: Connection):
    row = await conn.fetchrow(f"UPDATE users SET role = $1 WHERE id = $2 RETURNING {USER_COLUMNS}", body.role, user_id)
    if row is None:
        raise HTTPException(status_code=404, detail="No such account")
    return dict(row)
