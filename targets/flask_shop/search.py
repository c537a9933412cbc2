"""Catalogue search with sorting, stock look-up, order history filter and search suggestions.

The vulnerable build writes these queries the way a hurried team does: values and the sort column
pasted into the SQL text. The secure build binds every value and maps the sort column through an
allowlist. `suggest` is slow at random in both builds (it stands for an expensive ranking query):
a slow answer must never be mistaken for a time-based injection.
"""

import random
import time

import psycopg
from flask import Blueprint, jsonify, request

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError, envelope
from flask_shop.validation import int_arg, parse_id, text_arg

bp = Blueprint("search", __name__, url_prefix="/api/search")

COLUMNS = "id, sku, name, description, price, stock"
SORTS = {"name": "name", "price": "price", "id": "id"}
STATUSES = ("placed", "shipped")


def _product(row: dict) -> dict:
    return {**row, "price": float(row["price"])}


@bp.get("/products")
def search_products():
    if planted("injection.sql"):
        # FLAW injection.sql: `q` is pasted into the WHERE clause and `sort` into ORDER BY;
        # database errors reach the Werkzeug debugger.
        q = request.args.get("q", "")
        sort = request.args.get("sort", "name")
        sql = (
            f"SELECT {COLUMNS} FROM products WHERE (name ILIKE '%{q}%' OR description ILIKE '%{q}%')"
            f" ORDER BY {sort}, id LIMIT 20"
        )
        rows = db.query(sql, None)
    else:
        q = text_arg("q", 100) or ""
        column = SORTS.get(request.args.get("sort", "name"))
        if column is None:
            raise ApiError(400, "invalid_parameter", f"sort must be one of {', '.join(SORTS)}")
        sql = (
            f"SELECT {COLUMNS} FROM products WHERE (name ILIKE %s OR description ILIKE %s)"
            f" ORDER BY {column}, id LIMIT 20"
        )
        rows = db.query(sql, (f"%{q}%", f"%{q}%"))
    return jsonify(items=[_product(r) for r in rows], count=len(rows))


@bp.get("/stock/<product_id>")
def stock(product_id: str):
    if planted("injection.sql"):
        # FLAW injection.sql: the path id is pasted into the statement.
        row = db.query_one(f"SELECT id, sku, name, stock FROM products WHERE id = {product_id}", None)
    else:
        row = db.query_one("SELECT id, sku, name, stock FROM products WHERE id = %s", (parse_id(product_id, "product_id"),))
    if row is None:
        raise ApiError(404, "not_found", "No such product.")
    return jsonify(**row, in_stock=row["stock"] > 0)


@bp.get("/history")
@login_required
def order_history():
    user_id = current_user()["id"]
    status = request.args.get("status", "placed")
    select = (
        "SELECT o.id, p.name AS product_name, o.quantity, o.total, o.status"
        " FROM orders o JOIN products p ON p.id = o.product_id"
    )
    if planted("injection.sql"):
        # FLAW injection.sql: the status filter is pasted into the statement, and every database
        # error is swallowed into a generic 500: only boolean or timing evidence can show it.
        try:
            rows = db.query(f"{select} WHERE o.user_id = {int(user_id)} AND o.status = '{status}' ORDER BY o.id", None)
        except psycopg.Error:
            return envelope(500, "internal_error", "An unexpected error occurred.")
    else:
        if status not in STATUSES:
            raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(STATUSES)}")
        rows = db.query(f"{select} WHERE o.user_id = %s AND o.status = %s ORDER BY o.id", (user_id, status))
    items = [{**r, "total": float(r["total"])} for r in rows]
    return jsonify(items=items, count=len(items))


@bp.get("/suggest")
def suggest():
    # Slow at random in both builds, and safe: the prefix is bound.
    time.sleep(random.uniform(0.0, 1.5))
    prefix = text_arg("prefix", 50) or ""
    limit = int_arg("limit", 5, 1, 20)
    rows = db.query("SELECT name FROM products WHERE name ILIKE %s ORDER BY name LIMIT %s", (f"{prefix}%", limit))
    return jsonify(suggestions=[r["name"] for r in rows])
