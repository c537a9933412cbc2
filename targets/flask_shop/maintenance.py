"""The demo reset: puts the shop back to its seed data (every order, note and account added since
is gone). Meant for the admin role on a demo deployment."""

from flask import Blueprint, jsonify

from common import database
from common.variant import planted
from flask_shop import db
from flask_shop.auth import admin_required

bp = Blueprint("maintenance", __name__, url_prefix="/api/admin")


def _unguarded(view):
    return view


# FLAW auth.anonymous-state-change: the route was added for the sales demos and never got a
# guard: anyone, signed in or not, wipes every table and restores the seed data. The secure
# build requires the admin role.
reset_guard = _unguarded if planted("auth.anonymous-state-change") else admin_required


@bp.post("/demo-reset")
@reset_guard
def demo_reset():
    database.reseed(db.conn())
    return jsonify({"status": "reset", "message": "The demo data was restored."})
