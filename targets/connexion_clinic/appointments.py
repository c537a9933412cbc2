"""An owner's appointments, under /users/{username}/appointments.

The single-appointment read is the page that reminder e-mails link to. In the vulnerable build the
link had to open without signing in, so the operation's security allows anonymous callers (the
spec gains a `{}` alternative, see __init__.py) and, without a caller, the path's username is all
that scopes the lookup.
"""

from datetime import datetime

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.envelope import Fail, camel, page, parse_uuid, success
from connexion_clinic.security import caller, require_self

SELECT = (
    "SELECT a.id, u.username AS owner, a.pet_id, p.name AS pet_name, a.vet_id, v.full_name AS vet_name,"
    " a.starts_at, a.reason, a.status"
    " FROM appointments a JOIN pets p ON p.id = a.pet_id JOIN users u ON u.id = p.owner_id"
    " JOIN vets v ON v.id = a.vet_id"
)


def _one(appointment_id: str, condition: str, params: tuple) -> dict:
    row = db.query_one(f"{SELECT} WHERE a.id = %s AND {condition}", (appointment_id, *params))
    if row is None:
        raise Fail(404, "appointment not found")
    return camel(row)


def list_appointments(user: str, username: str):
    me = require_self(user, username)
    rows = db.query(f"{SELECT} WHERE p.owner_id = %s ORDER BY a.starts_at, a.id", (me["id"],))
    return success(page([camel(r) for r in rows]))


def book_appointment(user: str, username: str, body: dict):
    me = require_self(user, username)
    pet_id = parse_uuid(body["petId"], "pet")
    vet_id = parse_uuid(body["vetId"], "vet")
    try:
        starts_at = datetime.fromisoformat(body["startsAt"])
    except ValueError:
        raise Fail(400, "startsAt must be a date and time such as 2027-01-31T09:30:00Z") from None
    if starts_at.tzinfo is None:
        raise Fail(400, "startsAt needs a time zone offset")
    if db.query_one("SELECT 1 AS ok FROM pets WHERE id = %s AND owner_id = %s", (pet_id, me["id"])) is None:
        raise Fail(404, "pet not found")
    if db.query_one("SELECT 1 AS ok FROM vets WHERE id = %s", (vet_id,)) is None:
        raise Fail(404, "vet not found")
    row = db.query_one(
        "INSERT INTO appointments (pet_id, vet_id, starts_at, reason) VALUES (%s, %s, %s, %s) RETURNING id",
        (pet_id, vet_id, starts_at, body["reason"]),
    )
    return success(_one(row["id"], "true", ()), 201)


def get_appointment(username: str, appointment_id: str, user: str | None = None):
    appointment_id = parse_uuid(appointment_id, "appointment")
    if user is None:
        if not planted("auth.missing-authentication"):
            # Unreachable while the spec requires a token; kept so a spec change cannot open it.
            raise Fail(401, "sign in first")
        # FLAW auth.missing-authentication: anonymous callers (let in by the spec's `{}` security
        # alternative) get the appointment of whoever the path names: GET
        # /users/alice/appointments/<id> with no token returns alice's appointment.
        return success(_one(appointment_id, "u.username = %s", (username,)))
    me = caller(user)
    return success(_one(appointment_id, "p.owner_id = %s AND u.username = %s", (me["id"], username)))
