"""Order cancellation: a customer may cancel an order that has not shipped, and its stock goes back."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.orders import SELECT, order_json
from flask_shop.validation import parse_id

bp = Blueprint("order_actions", __name__, url_prefix="/api/orders")

# FLAW csrf.state-change-on-get: the route also answers GET (so the "cancel" link in the order
# e-mail works), and a GET cancels the order. Browsers send the session cookie with a top-level GET
# from any site, SameSite=Lax included, and no CSRF defence looks at GET.
CANCEL_METHODS = ["GET", "POST"] if planted("csrf.state-change-on-get") else ["POST"]


@bp.route("/<order_id>/cancel", methods=CANCEL_METHODS)
@login_required
def cancel_order(order_id: str):
    lookup_id = parse_id(order_id, "order_id")
    user_id = current_user()["id"]
    with db.conn().transaction():
        row = db.query_one(
            "UPDATE orders SET status = 'cancelled' WHERE id = %s AND user_id = %s AND status = 'placed'"
            " RETURNING product_id, quantity",
            (lookup_id, user_id),
        )
        if row is None:
            if db.query_one("SELECT 1 FROM orders WHERE id = %s AND user_id = %s", (lookup_id, user_id)) is None:
                raise ApiError(404, "not_found", "No such order.")
            raise ApiError(409, "conflict", "Only placed orders can be cancelled.")
        db.query_one(
            "UPDATE products SET stock = stock + %s WHERE id = %s RETURNING id", (row["quantity"], row["product_id"])
        )
    return jsonify(order_json(db.query_one(f"{SELECT} WHERE o.id = %s", (lookup_id,))))
