"""Catalogue search with sorting, stock look-up, order history filter and search suggestions.

The vulnerable build pastes values and the sort column into the SQL text (and its spec shows the
looser types that allow it); the secure build binds every value and takes the sort column from a
closed set. `suggest` is slow at random in both builds and must never look like a time-based
injection.
"""

import asyncio
import random
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import NO_NUL, IdPath

router = APIRouter(prefix="/api/search", tags=["search"])

COLUMNS = "id, sku, name, description, price, stock"
HISTORY = (
    "SELECT o.id, p.name AS product_name, o.quantity, o.total::float8 AS total, o.status"
    " FROM orders o JOIN products p ON p.id = o.product_id"
)
CurrentUser = Annotated[dict, Depends(get_current_user)]

if planted("injection.sql"):
    Sort = Annotated[str, Query(examples=["name"])]
    Status = Annotated[str, Query(examples=["placed"])]
    StockId = Annotated[str, Path(examples=["1"])]
else:
    Sort = Annotated[Literal["name", "price", "id"], Query()]
    Status = Annotated[Literal["placed", "shipped"], Query()]
    StockId = IdPath
SearchText = Annotated[str, Query(max_length=100, pattern=NO_NUL, examples=["mug"])]


def _product(row) -> dict:
    return {**dict(row), "price": float(row["price"])}


@router.get("/products", summary="Search the catalogue, sorted")
async def search_products(conn: Connection, q: SearchText = "", sort: Sort = "name"):
    if planted("injection.sql"):
        # FLAW injection.sql: `q` pasted into WHERE, `sort` into ORDER BY; debug mode shows errors.
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM products WHERE (name ILIKE '%{q}%' OR description ILIKE '%{q}%')"
            f" ORDER BY {sort}, id LIMIT 20"
        )
    else:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM products WHERE (name ILIKE $1 OR description ILIKE $1)"
            f" ORDER BY {sort}, id LIMIT 20",
            f"%{q}%",
        )
    return {"items": [_product(r) for r in rows], "count": len(rows)}


@router.get("/stock/{product_id}", summary="Stock level of a product")
async def stock(product_id: StockId, conn: Connection):
    if planted("injection.sql"):
        # FLAW injection.sql: the path id (a plain string here) is pasted into the statement.
        row = await conn.fetchrow(f"SELECT id, sku, name, stock FROM products WHERE id = {product_id}")
    else:
        row = await conn.fetchrow("SELECT id, sku, name, stock FROM products WHERE id = $1", product_id)
    if row is None:
        raise HTTPException(status_code=404, detail="No such product")
    return {**dict(row), "in_stock": row["stock"] > 0}


@router.get("/history", summary="The caller's order history, filtered by status", responses=UNAUTHORIZED)
async def order_history(user: CurrentUser, conn: Connection, status: Status = "placed"):
    if planted("injection.sql"):
        # FLAW injection.sql: the status is pasted into the statement and database errors are
        # swallowed into a generic 500, so only boolean or timing evidence can show it.
        try:
            rows = await conn.fetch(
                f"{HISTORY} WHERE o.user_id = {int(user['id'])} AND o.status = '{status}' ORDER BY o.id"
            )
        except asyncpg.PostgresError:
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
    else:
        rows = await conn.fetch(f"{HISTORY} WHERE o.user_id = $1 AND o.status = $2 ORDER BY o.id", user["id"], status)
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.get("/suggest", summary="Product name suggestions (slow)")
async def suggest(
    conn: Connection,
    prefix: Annotated[str, Query(max_length=50, pattern=NO_NUL, examples=["mu"])] = "",
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
):
    # Slow at random in both builds, and safe: the prefix is bound.
    await asyncio.sleep(random.uniform(0.0, 1.5))
    rows = await conn.fetch("SELECT name FROM products WHERE name ILIKE $1 ORDER BY name LIMIT $2", f"{prefix}%", limit)
    return {"suggestions": [r["name"] for r in rows]}
