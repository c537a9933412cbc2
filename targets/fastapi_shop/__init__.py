"""The FastAPI shop: the same catalogue/orders/notes API as the Flask shop, on asyncpg with raw SQL.

The OpenAPI 3.1 document is FastAPI's own, generated from the code; where the vulnerable build's
code differs (a parameter left as `str`, a body taken as a plain dict), its spec differs the same
way, as it would in a real project. The variant (MB_VARIANT) is read at import time.
"""

import os

from fastapi import FastAPI

from common import variant
from common.variant import planted
from fastapi_shop import admin, auth, catalogue, db, errors, headers, notes, orders, search, users
from fastapi_shop import browser_session, order_actions, preferences, tokens
from fastapi_shop import addresses, invoices, note_edits, stores
from fastapi_shop import wallet
from fastapi_shop import recovery, sessions
from fastapi_shop import back_office, cards, password_change, shopping_lists
from fastapi_shop import maintenance, partner
from fastapi_shop import link_preview
from fastapi_shop import body_limit, bookmarks, legacy, newsletter
from fastapi_shop import assistant
from fastapi_shop import graphql_api, graphql_view


def create_app(database_url: str, secret_key: str):
    variant.current()  # fail fast on a missing or misspelt MB_VARIANT
    app = FastAPI(
        title="Shop API",
        version="1.4.0",
        description="Catalogue, orders, notes and profile API of the FastAPI shop.",
        lifespan=db.lifespan,
        # FLAW info.verbose-error: debug mode makes Starlette answer any unhandled exception with
        # its traceback (plain text, or an HTML page when the client accepts text/html).
        debug=planted("info.verbose-error"),
    )
    app.state.database_url = database_url
    # FLAW auth.jwt-weak-secret: the key falls back to one named after the API when the
    # deployment does not set SHOP_SECRET_KEY.
    app.state.secret_key = (
        os.environ.get("SHOP_SECRET_KEY", "shop-api-secret") if planted("auth.jwt-weak-secret") else secret_key
    )
    errors.install(app)
    for module in (auth, catalogue, orders, users, notes, admin, search):
        app.include_router(module.router)
    for module in (order_actions, preferences, tokens):
        app.include_router(module.router)
    for module in (addresses, invoices, note_edits, stores):
        app.include_router(module.router)
    app.include_router(wallet.router)
    app.include_router(assistant.router)
    for module in (sessions, recovery):
        app.include_router(module.router)
    for module in (cards, shopping_lists, password_change, back_office):
        app.include_router(module.router)
    app.include_router(maintenance.router)
    app.include_router(link_preview.router)
    app.include_router(bookmarks.router)
    app.include_router(newsletter.router)
    legacy.install(app)
    browser_session.install_cors(app)
    partner.mount(app)
    graphql_view.mount(app, graphql_api.schema)

    @app.get("/health", tags=["meta"], summary="Liveness check")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # Outermost, so the headers are also on responses Starlette's error middleware produces.
    return headers.SecurityHeaders(body_limit.wrap(app))
