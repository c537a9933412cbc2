"""Back-office views for the admin role."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import USER_COLUMNS, admin_required, forgotten_in_vulnerable, login_required, public_user
from flask_shop.orders import SELECT as ORDER_SELECT
from flask_shop.orders import order_json

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


@bp.get("/users")
# FLAW auth.missing-authentication: the vulnerable build forgot @admin_required, so anyone (anonymous
# or any customer) lists every account.
@forgotten_in_vulnerable("auth.missing-authentication", admin_required)
def list_users():
    rows = db.query(f"SELECT {USER_COLUMNS} FROM users ORDER BY id")
    return jsonify(items=[public_user(r) for r in rows], count=len(rows))


@bp.get("/orders")
# FLAW authz.bfla: the vulnerable build guards the back-office order list with @login_required
# instead of @admin_required, so any signed-in customer (alice, bob) lists every customer's orders;
# anonymous callers still get 401.
@(login_required if planted("authz.bfla") else admin_required)
def list_all_orders():
    rows = db.query(f"{ORDER_SELECT} ORDER BY o.id")
    return jsonify(items=[order_json(r) for r in rows], count=len(rows))
