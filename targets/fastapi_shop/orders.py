"""A customer's orders. One product per order keeps the model small."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from common.variant import planted
from fastapi_shop import errors
from fastapi_shop.auth import UNAUTHORIZED, Connection, forgotten_in_vulnerable, get_current_user
from fastapi_shop.schemas import IdPath, Message, NewOrder, Order, OrderList

router = APIRouter(prefix="/api/orders", tags=["orders"], responses=UNAUTHORIZED)

SELECT = (
    "SELECT o.id, o.user_id, o.product_id, p.name AS product_name, o.quantity, o.unit_price,"
    " o.total, o.status, o.created_at FROM orders o JOIN products p ON p.id = o.product_id"
)

CurrentUser = Annotated[dict, Depends(get_current_user)]
# FLAW auth.missing-authentication: in the vulnerable build the order lookup was written against the
# optional-user dependency, so an anonymous caller gets any order by id (the spec still says OAuth2).
OrderReader = Annotated[
    dict | None, Depends(forgotten_in_vulnerable("auth.missing-authentication", get_current_user))
]

if planted("info.verbose-error"):
    # FLAW info.verbose-error: the list filters are not constrained (`min_total` stays a string for
    # asyncpg to parse, paging has no bounds), and list_orders returns the resulting asyncpg or
    # PostgreSQL error verbatim: `?min_total=abc`, `?limit=-1`.
    Status = Annotated[str | None, Query(alias="status", examples=["placed"])]
    MinTotal = Annotated[str | None, Query(examples=["10"])]
    Limit = Annotated[int, Query()]
    Offset = Annotated[int, Query()]
    # FLAW info.verbose-error: order ids are plain ints, so `/api/orders/2147483648` passes
    # validation, asyncpg fails to encode it as int4, and debug mode returns the traceback.
    OrderId = Annotated[int, Path(examples=[1])]
else:
    Status = Annotated[Literal["placed", "shipped"] | None, Query(alias="status")]
    MinTotal = Annotated[float | None, Query(ge=0, le=99_999_999.99, allow_inf_nan=False, examples=[10])]
    Limit = Annotated[int, Query(ge=1, le=100)]
    Offset = Annotated[int, Query(ge=0, le=10_000)]
    OrderId = IdPath


def _list_query(user_id: int, order_status, min_total, limit, offset) -> tuple[str, list]:
    clauses, params = ["o.user_id = $1"], [user_id]
    if order_status is not None:
        params.append(order_status)
        clauses.append(f"o.status = ${len(params)}")
    if min_total is not None:
        params.append(min_total)
        clauses.append(f"o.total >= ${len(params)}::numeric")
    params += [limit, offset]
    n = len(params)
    return f"{SELECT} WHERE {' AND '.join(clauses)} ORDER BY o.id LIMIT ${n - 1} OFFSET ${n}", params


@router.get("", response_model=OrderList, summary="List the caller's orders")
async def list_orders(
    user: CurrentUser,
    conn: Connection,
    order_status: Status = None,
    min_total: MinTotal = None,
    limit: Limit = 20,
    offset: Offset = 0,
):
    sql, params = _list_query(user["id"], order_status, min_total, limit, offset)
    try:
        rows = await conn.fetch(sql, *params)
    except errors.DATABASE_ERRORS as exc:
        if planted("info.verbose-error"):
            raise errors.database_error_details(exc) from exc
        raise
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.post(
    "",
    response_model=Order,
    status_code=status.HTTP_201_CREATED,
    summary="Place an order",
    responses={
        404: {"model": Message, "description": "No such product"},
        409: {"model": Message, "description": "Out of stock"},
    },
)
async def create_order(body: NewOrder, user: CurrentUser, conn: Connection):
    async with conn.transaction():
        product = await conn.fetchrow(
            "UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1 RETURNING price",
            body.quantity,
            body.product_id,
        )
        if product is None:
            if await conn.fetchval("SELECT 1 FROM products WHERE id = $1", body.product_id) is None:
                raise HTTPException(status_code=404, detail="No such product")
            raise HTTPException(status_code=409, detail="Not enough stock for that quantity")
        order_id = await conn.fetchval(
            "INSERT INTO orders (user_id, product_id, quantity, unit_price, total)"
            " VALUES ($1, $2, $3, $4, COALESCE($5::numeric, $4::numeric * $3::integer)) RETURNING id",
            user["id"],
            body.product_id,
            body.quantity,
            product["price"],
            # FLAW design.client-controlled-values: a client-sent total wins (see schemas.NewOrder).
            getattr(body, "total", None),
        )
    return dict(await conn.fetchrow(f"{SELECT} WHERE o.id = $1", order_id))


@router.get(
    "/{order_id}",
    response_model=Order,
    summary="Get one of the caller's orders",
    responses={404: {"model": Message, "description": "No such order"}},
)
async def get_order(order_id: OrderId, user: OrderReader, conn: Connection):
    if user is None:
        # Reachable only where authentication was forgotten (see OrderReader).
        row = await conn.fetchrow(f"{SELECT} WHERE o.id = $1", order_id)
    else:
        row = await conn.fetchrow(f"{SELECT} WHERE o.id = $1 AND o.user_id = $2", order_id, user["id"])
    if row is None:
        raise HTTPException(status_code=404, detail="No such order")
    return dict(row)
