"""A customer's orders. One product per order keeps the model small."""

import psycopg
from flask import Blueprint, jsonify, request

from common.variant import planted
from flask_shop import db, errors
from flask_shop.auth import current_user, forgotten_in_vulnerable, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import INT4_MAX, decimal_arg, int_arg, int_field, json_object, parse_id

bp = Blueprint("orders", __name__, url_prefix="/api/orders")

SELECT = (
    "SELECT o.id, o.user_id, o.product_id, p.name AS product_name, o.quantity, o.unit_price,"
    " o.total, o.status, o.created_at FROM orders o JOIN products p ON p.id = o.product_id"
)


def order_json(row: dict) -> dict:
    return {
        **row,
        "unit_price": float(row["unit_price"]),
        "total": float(row["total"]),
        "created_at": row["created_at"].isoformat(),
    }


STATUSES = ("placed", "shipped")
# Every state an order can be in (the list filter takes the first two only).
ORDER_STATES = ("placed", "shipped", "cancelled")


def _checked_filters() -> dict:
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(STATUSES)}")
    return {
        "status": status,
        "min_total": decimal_arg("min_total"),
        "limit": int_arg("limit", 20, 1, 100),
        "offset": int_arg("offset", 0, 0, 10_000),
    }


def _raw_filters() -> dict:
    args = request.args
    return {
        "status": args.get("status"),
        "min_total": args.get("min_total"),
        "limit": args.get("limit", 20),
        "offset": args.get("offset", 0),
    }


def _list_query(user_id: int, f: dict) -> tuple[str, list]:
    clauses, params = ["o.user_id = %s"], [user_id]
    if f["status"] is not None:
        clauses.append("o.status = %s")
        params.append(f["status"])
    if f["min_total"] is not None:
        clauses.append("o.total >= %s")
        params.append(f["min_total"])
    where = " AND ".join(clauses)
    return f"{SELECT} WHERE {where} ORDER BY o.id LIMIT %s OFFSET %s", [*params, f["limit"], f["offset"]]


@bp.get("")
@login_required
def list_orders():
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: the filters go to PostgreSQL exactly as sent (`?min_total=abc`,
        # `?limit=abc`), and the except clause below hands the driver's error back to the client.
        filters = _raw_filters()
    else:
        filters = _checked_filters()
    sql, params = _list_query(current_user()["id"], filters)
    try:
        rows = db.query(sql, params)
    except psycopg.Error as exc:
        if planted("info.verbose-error"):
            return errors.database_error_details(exc)
        raise
    return jsonify(items=[order_json(r) for r in rows], count=len(rows))


@bp.post("")
@login_required
def create_order():
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: the body is trusted to be an object of integers. A JSON array, or
        # `"product_id": "abc"`, raises inside psycopg/Python with no handler, and the build runs
        # under the Werkzeug debugger, which renders the traceback.
        body = request.get_json(silent=True) or {}
        product_id, quantity = body.get("product_id"), body.get("quantity")
    else:
        body = json_object()
        product_id = int_field(body, "product_id", 1, INT4_MAX)
        quantity = int_field(body, "quantity", 1, 100)

    # FLAW design.client-controlled-values: the old checkout page sent the total it displayed, and
    # the vulnerable build still stores a numeric `total` from the body instead of computing it.
    client_total = body.get("total") if planted("design.client-controlled-values") else None
    if not isinstance(client_total, (int, float)) or isinstance(client_total, bool):
        client_total = None
    # FLAW authz.mass-assignment: the vulnerable build stores a `status` from the body although the
    # spec documents it read-only, so a customer places an order that reads as already "shipped".
    # The secure build always starts an order at "placed".
    client_status = body.get("status") if planted("authz.mass-assignment") else None
    if client_status not in ORDER_STATES:
        client_status = None

    with db.conn().transaction():
        product = db.query_one(
            "UPDATE products SET stock = stock - %s WHERE id = %s AND stock >= %s RETURNING price",
            (quantity, product_id, quantity),
        )
        if product is None:
            if db.query_one("SELECT 1 FROM products WHERE id = %s", (product_id,)) is None:
                raise ApiError(404, "not_found", "No such product.")
            raise ApiError(409, "out_of_stock", "Not enough stock for that quantity.")
        created = db.query_one(
            "INSERT INTO orders (user_id, product_id, quantity, unit_price, total, status)"
            " VALUES (%s, %s, %s, %s, COALESCE(%s, %s * %s), COALESCE(%s, 'placed')) RETURNING id",
            (
                current_user()["id"],
                product_id,
                quantity,
                product["price"],
                client_total,
                product["price"],
                quantity,
                client_status,
            ),
        )
    row = db.query_one(f"{SELECT} WHERE o.id = %s", (created["id"],))
    return jsonify(order_json(row)), 201


@bp.get("/<order_id>")
# FLAW auth.missing-authentication: the vulnerable build forgot @login_required on this view, so an
# anonymous caller gets any order by id.
@forgotten_in_vulnerable("auth.missing-authentication", login_required)
def get_order(order_id: str):
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: the path segment goes into SQL unchecked; `/api/orders/abc` makes
        # PostgreSQL fail with `invalid input syntax for type integer` inside the Werkzeug debugger.
        lookup_id = order_id
    else:
        lookup_id = parse_id(order_id, "order_id")
    user = current_user()
    if user is None:
        # Reachable only where authentication was forgotten (see above).
        row = db.query_one(f"{SELECT} WHERE o.id = %s", (lookup_id,))
    else:
        row = db.query_one(f"{SELECT} WHERE o.id = %s AND o.user_id = %s", (lookup_id, user["id"]))
    if row is None:
        raise ApiError(404, "not_found", "No such order.")
    return jsonify(order_json(row))
