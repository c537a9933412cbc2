"""Clinic staff operations (admin role).

The vulnerable build's later staff operations (the day-list, a new vet, a role change) were
written against `caller`, which checks sign-in only; `/admin/users` kept `require_admin`.
"""

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.appointments import SELECT as APPOINTMENT_SELECT
from connexion_clinic.catalogue import VET_COLUMNS
from connexion_clinic.envelope import Fail, camel, page, parse_uuid, success
from connexion_clinic.security import USER_COLUMNS, caller, require_admin, user_json


def list_users(user: str):
    require_admin(user)
    rows = db.query(f"SELECT {USER_COLUMNS} FROM users ORDER BY created_at, username")
    return success(page([user_json(r) for r in rows]))


def list_appointments(user: str):
    if planted("authz.bfla"):
        # FLAW authz.bfla: the day-list for reception checks that someone is signed in, not that
        # they are staff: any owner (alice, bob) gets every owner's appointments.
        caller(user)
    else:
        require_admin(user)
    rows = db.query(f"{APPOINTMENT_SELECT} ORDER BY a.starts_at, a.id")
    return success(page([camel(r) for r in rows]))


def _staff(user: str) -> dict:
    if planted("authz.bfla"):
        # FLAW authz.bfla: the staff writes below check that someone is signed in, not the role:
        # any owner adds a vet to the catalogue (POST /vets) or changes an account's role
        # (PUT /users/{username}/role).
        return caller(user)
    return require_admin(user)


def create_vet(user: str, body: dict):
    _staff(user)
    clinic_id = parse_uuid(body["clinicId"], "clinic")
    if db.query_one("SELECT 1 AS ok FROM clinics WHERE id = %s", (clinic_id,)) is None:
        raise Fail(404, "clinic not found")
    row = db.query_one(
        f"INSERT INTO vets (clinic_id, full_name, specialty) VALUES (%s, %s, %s) RETURNING {VET_COLUMNS}",
        (clinic_id, body["fullName"], body["specialty"]),
    )
    return success(camel(row), 201)


def set_role(user: str, username: str, body: dict):
    _staff(user)
    row = db.query_one(
        f"UPDATE users SET role = %s WHERE username = %s RETURNING {USER_COLUMNS}", (body["role"], username)
    )
    if row is None:
        raise Fail(404, "account not found")
    return success(user_json(row))
