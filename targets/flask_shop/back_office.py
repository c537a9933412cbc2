"""Back-office writes for the admin role: new catalogue items and account roles."""

import secrets

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import USER_COLUMNS, admin_required, login_required, public_user
from flask_shop.errors import ApiError
from flask_shop.products import COLUMNS as PRODUCT_COLUMNS
from flask_shop.products import product_json
from flask_shop.validation import int_field, json_object, parse_id, string_field

bp = Blueprint("back_office", __name__, url_prefix="/api/admin")

ROLES = ("customer", "admin")

# FLAW authz.bfla: in the vulnerable build both back-office writes were guarded with
# @login_required instead of @admin_required: any signed-in customer adds catalogue items and
# changes any account's role (making itself, or anyone, an administrator).
back_office_guard = login_required if planted("authz.bfla") else admin_required


@bp.post("/products")
@back_office_guard
def create_product():
    body = json_object()
    name = string_field(body, "name", 120)
    description = string_field(body, "description", 2000, required=False) or ""
    price = int_field(body, "price_pence", 0, 10_000_000) / 100
    stock = int_field(body, "stock", 0, 1_000_000)
    row = db.query_one(
        f"INSERT INTO products (sku, name, description, price, stock) VALUES (%s, %s, %s, %s, %s)"
        f" RETURNING {PRODUCT_COLUMNS}",
        (f"NEW-{secrets.token_hex(4).upper()}", name, description, price, stock),
    )
    return jsonify(product_json(row)), 201


@bp.patch("/users/<user_id>")
@back_office_guard
def set_role(user_id: str):
    role = json_object().get("role")
    if role not in ROLES:
        raise ApiError(400, "invalid_parameter", "role must be customer or admin.")
    row = db.query_one(
        f"UPDATE users SET role = %s WHERE id = %s RETURNING {USER_COLUMNS}",
        (role, parse_id(user_id, "user_id")),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such account.")
    return jsonify(public_user(row))
