"""The Flask shop: a small catalogue/orders/notes API on PostgreSQL through raw psycopg.

The variant (MB_VARIANT) is read when the modules are imported, because some flaws are a decorator
left off a view; serve.py sets it before importing this package.
"""

import os

from flask import Flask

from common import variant
from common.variant import planted
from flask_shop import cross_origin, order_actions, preferences, tokens
from flask_shop import addresses, invoices, note_edits, stores
from flask_shop import password_reset, session_signin, wallet
from flask_shop import account_password, back_office, cards, shopping_lists
from flask_shop import maintenance
from flask_shop import avatar_import
from flask_shop import body_limit, bookmarks, legacy, newsletter
from flask_shop import admin, auth, db, docs, errors, headers, notes, orders, products, search, users


def create_app(database_url: str, secret_key: str) -> Flask:
    variant.current()  # fail fast on a missing or misspelt MB_VARIANT
    app = Flask(__name__)
    if planted("auth.jwt-weak-secret"):
        # FLAW auth.jwt-weak-secret: the deployment never set SHOP_SECRET_KEY, so tokens and the
        # session cookie are signed with the tutorial's default key.
        secret_key = os.environ.get("SHOP_SECRET_KEY", "dev")
    app.config.update(
        SECRET_KEY=secret_key,
        DATABASE_URL=database_url,
        # FLAW auth.jwt-lifetime: "remember me" for everyone: access tokens live 30 days.
        TOKEN_TTL_SECONDS=30 * 86400 if planted("auth.jwt-lifetime") else 3600,
        SESSION_COOKIE_HTTPONLY=True,
        # FLAW auth.cookie-flags: the session cookie lacks Secure, so it also travels over plain
        # HTTP (and, with csrf.cookie-state-change, lacks SameSite too).
        SESSION_COOKIE_SECURE=not planted("auth.cookie-flags"),
        # FLAW csrf.cookie-state-change: the session cookie carries no SameSite attribute, so
        # Firefox and Safari send it with requests that other sites start.
        SESSION_COOKIE_SAMESITE=None if planted("csrf.cookie-state-change") else "Lax",
    )
    db.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    cross_origin.init_app(app)
    for module in (docs, auth, products, orders, users, notes, admin, search):
        app.register_blueprint(module.bp)
    for module in (order_actions, preferences, tokens):
        app.register_blueprint(module.bp)
    for module in (addresses, invoices, note_edits, stores):
        app.register_blueprint(module.bp)
    app.register_blueprint(wallet.bp)
    for module in (session_signin, password_reset):
        app.register_blueprint(module.bp)
    for module in (cards, shopping_lists, account_password, back_office):
        app.register_blueprint(module.bp)
    app.register_blueprint(maintenance.bp)
    app.register_blueprint(avatar_import.bp)
    app.register_blueprint(bookmarks.bp)
    app.register_blueprint(newsletter.bp)
    legacy.init_app(app)
    body_limit.init_app(app)
    return app
