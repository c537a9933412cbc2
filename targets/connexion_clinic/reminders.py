"""Reminders on an owner's account (`/reminders`): boosters, worming, check-ups.

Owners set reminders for themselves; reception sets them up on an owner's behalf, naming the
owner in `ownerUsername`. The list shows the caller's own reminders only.
"""

from datetime import date

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.envelope import Fail, camel, page, success
from connexion_clinic.security import caller

SELECT = (
    "SELECT r.id, o.username AS owner_username, c.username AS created_by, r.message, r.due_on, r.created_at"
    " FROM reminders r JOIN users o ON o.id = r.owner_id JOIN users c ON c.id = r.created_by"
)


def list_reminders(user: str):
    me = caller(user)
    rows = db.query(f"{SELECT} WHERE r.owner_id = %s ORDER BY r.due_on, r.id", (me["id"],))
    return success(page([camel(r) for r in rows]))


def _owner(me: dict, named: str | None) -> dict:
    """The account a new reminder is for: the caller, or the one `ownerUsername` names."""
    if named is None or named == me["username"]:
        return me
    if me["role"] != "admin":
        if not planted("authz.bola-write"):
            raise Fail(403, "only staff set reminders for other owners")
        # FLAW authz.bola-write: the reception form's `ownerUsername` is honoured for every
        # caller, never only for staff: bob's POST /reminders {"ownerUsername": "alice", ...}
        # lands in alice's list.
    row = db.query_one("SELECT id, username FROM users WHERE username = %s", (named,))
    if row is None:
        raise Fail(404, "owner not found")
    return row


def create_reminder(user: str, body: dict):
    me = caller(user)
    try:
        due_on = date.fromisoformat(body["dueOn"])
    except ValueError:
        raise Fail(400, "dueOn must be a date such as 2027-01-31") from None
    owner = _owner(me, body.get("ownerUsername"))
    row = db.query_one(
        "INSERT INTO reminders (owner_id, created_by, message, due_on) VALUES (%s, %s, %s, %s) RETURNING id",
        (owner["id"], me["id"], body["message"], due_on),
    )
    return success(camel(db.query_one(f"{SELECT} WHERE r.id = %s", (row["id"],))), 201)
