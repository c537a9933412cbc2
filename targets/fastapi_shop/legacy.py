"""Routes the vulnerable build still serves but leaves out of its OpenAPI document
(`include_in_schema=False`): the first version of the catalogue and order list under /api/v1, and
an internal metrics endpoint. The secure build registers none of them."""

import os
import sys
import time

from fastapi import FastAPI

from common.variant import planted
from fastapi_shop import catalogue, orders
from fastapi_shop.auth import Connection

STARTED = time.time()


async def metrics(conn: Connection) -> dict:
    counts = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM orders) AS orders"
    )
    return {
        "uptime_seconds": round(time.time() - STARTED, 1),
        "python": sys.version.split()[0],
        "pid": os.getpid(),
        "database": await conn.fetchval("SELECT current_database()"),
        "rows": dict(counts),
    }


def install(app: FastAPI) -> None:
    if planted("inventory.old-version"):
        # FLAW inventory.old-version: version 1 of the catalogue and order list was replaced by the
        # unversioned routes, and hidden from the schema, but is still routed.
        app.add_api_route(
            "/api/v1/products", catalogue.list_products, methods=["GET"], include_in_schema=False
        )
        app.add_api_route("/api/v1/orders", orders.list_orders, methods=["GET"], include_in_schema=False)
    if planted("inventory.undocumented-route"):
        # FLAW inventory.undocumented-route: an internal metrics endpoint (row counts, database
        # name, process id) answers anyone; hiding it from the schema does not protect it.
        app.add_api_route("/api/internal/metrics", metrics, methods=["GET"], include_in_schema=False)
