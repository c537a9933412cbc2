"""Back-office routes for the admin role."""

from typing import Annotated

from fastapi import APIRouter, Depends

from common.variant import planted
from fastapi_shop.auth import (
    FORBIDDEN,
    UNAUTHORIZED,
    USER_COLUMNS,
    Connection,
    forgotten_in_vulnerable,
    get_current_user,
    require_admin,
)
from fastapi_shop.orders import SELECT as ORDER_SELECT
from fastapi_shop.schemas import OrderList, UserList

router = APIRouter(prefix="/api/admin", tags=["admin"], responses={**UNAUTHORIZED, **FORBIDDEN})

# FLAW authz.bfla: in the vulnerable build the back-office order list depends on get_current_user
# instead of require_admin, so any signed-in customer (alice, bob) lists every customer's orders;
# anonymous callers still get 401.
OrderListReader = Annotated[dict, Depends(get_current_user if planted("authz.bfla") else require_admin)]
# FLAW auth.missing-authentication: in the vulnerable build the user list was written against the
# optional-user dependency instead of require_admin, so anyone (anonymous or any customer) lists
# every account.
UserListReader = Annotated[
    dict | None, Depends(forgotten_in_vulnerable("auth.missing-authentication", require_admin))
]


@router.get("/users", response_model=UserList, summary="List every account (admin role)")
async def list_users(_caller: UserListReader, conn: Connection):
    rows = await conn.fetch(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.get("/orders", response_model=OrderList, summary="List every order (admin role)")
async def list_all_orders(_caller: OrderListReader, conn: Connection):
    rows = await conn.fetch(f"{ORDER_SELECT} ORDER BY o.id")
    return {"items": [dict(r) for r in rows], "count": len(rows)}
