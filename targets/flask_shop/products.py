"""The public catalogue."""

from flask import Blueprint, jsonify

from flask_shop import db
from flask_shop.errors import ApiError
from flask_shop.validation import decimal_arg, int_arg, parse_id, text_arg

bp = Blueprint("products", __name__, url_prefix="/api/products")

COLUMNS = "id, sku, name, description, price, stock"


def product_json(row: dict) -> dict:
    return {**row, "price": float(row["price"])}


def _checked_filters() -> dict:
    return {
        "q": text_arg("q", 100),
        "min_price": decimal_arg("min_price"),
        "max_price": decimal_arg("max_price"),
        "limit": int_arg("limit", 20, 1, 100),
        "offset": int_arg("offset", 0, 0, 10_000),
    }


def _catalogue_query(f: dict) -> tuple[str, list]:
    clauses, params = [], []
    if f["q"] is not None:
        clauses.append("(name ILIKE %s OR description ILIKE %s)")
        params += [f"%{f['q']}%"] * 2
    if f["min_price"] is not None:
        clauses.append("price >= %s")
        params.append(f["min_price"])
    if f["max_price"] is not None:
        clauses.append("price <= %s")
        params.append(f["max_price"])
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {COLUMNS} FROM products{where} ORDER BY id LIMIT %s OFFSET %s"
    return sql, [*params, f["limit"], f["offset"]]


@bp.get("")
def list_products():
    sql, params = _catalogue_query(_checked_filters())
    rows = db.query(sql, params)
    return jsonify(items=[product_json(r) for r in rows], count=len(rows))


@bp.get("/<product_id>")
def get_product(product_id: str):
    row = db.query_one(f"SELECT {COLUMNS} FROM products WHERE id = %s", (parse_id(product_id, "product_id"),))
    if row is None:
        raise ApiError(404, "not_found", "No such product.")
    return jsonify(product_json(row))
