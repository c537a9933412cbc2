"""Routes the vulnerable build still serves but the spec no longer lists: the first version of the
catalogue and order list under /api/v1, and an internal metrics page. The secure build registers
none of them."""

import os
import sys
import time

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db, orders, products

STARTED = time.time()

v1 = Blueprint("legacy_v1", __name__, url_prefix="/api/v1")
internal = Blueprint("internal", __name__, url_prefix="/api/internal")


@v1.get("/products")
def list_products_v1():
    return products.list_products()


@v1.get("/orders")
def list_orders_v1():
    return orders.list_orders()


@internal.get("/metrics")
def metrics():
    counts = db.query_one(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM orders) AS orders"
    )
    return jsonify(
        uptime_seconds=round(time.time() - STARTED, 1),
        python=sys.version.split()[0],
        pid=os.getpid(),
        database=db.conn().info.dbname,
        rows=counts,
    )


def init_app(app) -> None:
    if planted("inventory.old-version"):
        # FLAW inventory.old-version: version 1 of the catalogue and order list was replaced by the
        # unversioned routes in the spec, but its blueprint is still registered.
        app.register_blueprint(v1)
    if planted("inventory.undocumented-route"):
        # FLAW inventory.undocumented-route: an internal metrics page (row counts, database name,
        # process id) is served to anyone, outside the spec.
        app.register_blueprint(internal)
