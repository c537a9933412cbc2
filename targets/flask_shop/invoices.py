"""Invoices for the caller's orders, built from the order and the customer's billing details."""

from decimal import Decimal

from flask import Blueprint, jsonify, request

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import parse_id

bp = Blueprint("invoices", __name__, url_prefix="/api/invoices")

VAT_RATE = Decimal("0.20")  # catalogue prices include VAT

SELECT = (
    "SELECT o.id AS order_id, o.user_id, u.full_name AS customer_name, u.email AS customer_email,"
    " (SELECT concat_ws(', ', a.recipient, a.street, a.city, a.postcode, a.country) FROM addresses a"
    "   WHERE a.user_id = o.user_id ORDER BY a.id LIMIT 1) AS billing_address,"
    " p.name AS product_name, o.quantity, o.unit_price, o.total, o.status, o.created_at AS issued_at"
    " FROM orders o JOIN users u ON u.id = o.user_id JOIN products p ON p.id = o.product_id"
)


def invoice_json(row: dict) -> dict:
    net = (row["total"] / (1 + VAT_RATE)).quantize(Decimal("0.01"))
    return {
        "invoice_number": f"INV-{row['order_id']:06d}",
        **row,
        "unit_price": float(row["unit_price"]),
        "net_amount": float(net),
        "vat_rate": float(VAT_RATE),
        "vat_amount": float(row["total"] - net),
        "total": float(row["total"]),
        "issued_at": row["issued_at"].isoformat(),
    }


@bp.get("")
@login_required
def get_invoice():
    raw = request.args.get("order_id")
    if raw is None:
        raise ApiError(400, "invalid_parameter", "order_id is required")
    order_id = parse_id(raw, "order_id")
    if planted("authz.bola"):
        # FLAW authz.bola: the invoice is fetched by the order id from the query string alone, so
        # any signed-in customer gets any order's invoice, with the buyer's name, email and billing
        # address (bob: GET /api/invoices?order_id=1 returns alice's invoice).
        row = db.query_one(f"{SELECT} WHERE o.id = %s", (order_id,))
    else:
        row = db.query_one(f"{SELECT} WHERE o.id = %s AND o.user_id = %s", (order_id, current_user()["id"]))
    if row is None:
        raise ApiError(404, "not_found", "No such order.")
    return jsonify(invoice_json(row))
