"""An owner's notes, under /users/{username}/notes, with a text search (`?q=`).

Reads are owner-checked in both builds (the path's username must be the caller's). The vulnerable
build's writes forgot that check: they resolve the owner from the path's username, so any signed-in
caller adds to, edits and deletes the notes of whoever the path names.
"""

import psycopg

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.envelope import Fail, camel, page, parse_uuid, reply, success
from connexion_clinic.security import caller, require_self

SELECT = (
    "SELECT n.id, u.username AS owner, n.pet_id, n.title, n.body, n.created_at"
    " FROM notes n JOIN users u ON u.id = n.owner_id"
)
ORDER = "ORDER BY n.created_at, n.id"


def _search(owner_id, q: str) -> list[dict]:
    if planted("injection.sql"):
        # FLAW injection.sql: the search text is pasted into the statement (the owner id comes
        # from the database, the text from the caller): q=Rex%' AND '7%'='7 matches like q=Rex,
        # q=Rex%' AND '6%'='7 matches nothing, and a lone quote breaks the statement.
        sql = (
            f"{SELECT} WHERE n.owner_id = '{owner_id}'"
            f" AND (n.title ILIKE '%{q}%' OR n.body ILIKE '%{q}%') {ORDER}"
        )
        return db.query(sql, None)
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return db.query(f"{SELECT} WHERE n.owner_id = %s AND (n.title ILIKE %s OR n.body ILIKE %s) {ORDER}",
                    (owner_id, pattern, pattern))


def list_notes(user: str, username: str, q: str | None = None):
    me = require_self(user, username)
    if not q:
        rows = db.query(f"{SELECT} WHERE n.owner_id = %s {ORDER}", (me["id"],))
        return success(page([camel(r) for r in rows]))
    try:
        rows = _search(me["id"], q)
    except psycopg.Error as exc:
        if not planted("info.verbose-error"):
            raise  # connexion answers a generic 500 problem and logs the traceback
        # FLAW info.verbose-error: left in from debugging: the driver's error goes back in the
        # JSend `error` envelope, with the SQLSTATE and the exception class.
        answer = {
            "status": "error",
            "message": str(exc),
            "code": exc.sqlstate,
            "data": {"exception": f"{type(exc).__module__}.{type(exc).__qualname__}"},
        }
        return reply(answer, 500)
    return success(page([camel(r) for r in rows]))


def _writer(user: str, username: str) -> str:
    """The id of the account whose notes a write changes."""
    if not planted("authz.bola-write"):
        return require_self(user, username)["id"]
    # FLAW authz.bola-write: the writes trust the path: the caller must be signed in, but the
    # notes written are those of whoever `username` names (bob's POST /users/alice/notes adds
    # to alice's notes, his PATCH or DELETE of /users/alice/notes/<id> changes hers).
    caller(user)
    row = db.query_one("SELECT id FROM users WHERE username = %s", (username,))
    if row is None:
        raise Fail(404, "owner not found")
    return row["id"]


def _pet_of(owner_id, pet_id: str | None) -> str | None:
    if pet_id is None:
        return None
    pet_id = parse_uuid(pet_id, "pet")
    if db.query_one("SELECT 1 AS ok FROM pets WHERE id = %s AND owner_id = %s", (pet_id, owner_id)) is None:
        raise Fail(404, "pet not found")
    return pet_id


def create_note(user: str, username: str, body: dict):
    owner_id = _writer(user, username)
    pet_id = _pet_of(owner_id, body.get("petId"))
    row = db.query_one(
        "INSERT INTO notes (owner_id, pet_id, title, body) VALUES (%s, %s, %s, %s) RETURNING id",
        (owner_id, pet_id, body["title"], body.get("body", "")),
    )
    return success(camel(db.query_one(f"{SELECT} WHERE n.id = %s", (row["id"],))), 201)


def update_note(user: str, username: str, note_id: str, body: dict):
    owner_id = _writer(user, username)
    note_id = parse_uuid(note_id, "note")
    changes = {column: body[field] for field, column in (("title", "title"), ("body", "body")) if field in body}
    if "petId" in body:
        changes["pet_id"] = _pet_of(owner_id, body["petId"])
    if changes:
        assignments = ", ".join(f"{column} = %s" for column in changes)
        row = db.query_one(
            f"UPDATE notes SET {assignments} WHERE id = %s AND owner_id = %s RETURNING id",
            (*changes.values(), note_id, owner_id),
        )
    else:
        row = db.query_one("SELECT id FROM notes WHERE id = %s AND owner_id = %s", (note_id, owner_id))
    if row is None:
        raise Fail(404, "note not found")
    return success(camel(db.query_one(f"{SELECT} WHERE n.id = %s", (note_id,))))


def delete_note(user: str, username: str, note_id: str):
    owner_id = _writer(user, username)
    row = db.query_one(
        "DELETE FROM notes WHERE id = %s AND owner_id = %s RETURNING id", (parse_uuid(note_id, "note"), owner_id)
    )
    if row is None:
        raise Fail(404, "note not found")
    return None, 204


def get_note(user: str, username: str, note_id: str):
    me = require_self(user, username)
    row = db.query_one(f"{SELECT} WHERE n.id = %s AND n.owner_id = %s", (parse_uuid(note_id, "note"), me["id"]))
    if row is None:
        raise Fail(404, "note not found")
    return success(camel(row))
