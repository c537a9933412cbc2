"""The public catalogue."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from fastapi_shop.auth import Connection
from fastapi_shop.schemas import NO_NUL, IdPath, Message, Product, ProductList

router = APIRouter(prefix="/api/products", tags=["products"])

COLUMNS = "id, sku, name, description, price, stock"

SearchText = Annotated[
    str | None, Query(max_length=100, pattern=NO_NUL, description="Full-text query", examples=["mug"])
]
Price = Annotated[float | None, Query(ge=0, le=99_999_999.99, allow_inf_nan=False, examples=[9.99])]


def _catalogue_query(q, min_price, max_price, limit, offset) -> tuple[str, list]:
    clauses, params = [], []
    if q is not None:
        params.append(q)
        # websearch_to_tsquery accepts any text; to_tsquery would reject e.g. `red mug`.
        clauses.append(f"search @@ websearch_to_tsquery('english', ${len(params)})")
    if min_price is not None:
        params.append(min_price)
        clauses.append(f"price >= ${len(params)}::numeric")
    if max_price is not None:
        params.append(max_price)
        clauses.append(f"price <= ${len(params)}::numeric")
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    params += [limit, offset]
    n = len(params)
    return f"SELECT {COLUMNS} FROM products{where} ORDER BY id LIMIT ${n - 1} OFFSET ${n}", params


@router.get("", response_model=ProductList, summary="List and search the catalogue")
async def list_products(
    conn: Connection,
    q: SearchText = None,
    min_price: Price = None,
    max_price: Price = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
):
    sql, params = _catalogue_query(q, min_price, max_price, limit, offset)
    rows = await conn.fetch(sql, *params)
    return {"items": [dict(r) for r in rows], "count": len(rows)}


@router.get(
    "/{product_id}",
    response_model=Product,
    summary="Get one product",
    responses={404: {"model": Message, "description": "No such product"}},
)
async def get_product(product_id: IdPath, conn: Connection):
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM products WHERE id = $1", product_id)
    if row is None:
        raise HTTPException(status_code=404, detail="No such product")
    return dict(row)
