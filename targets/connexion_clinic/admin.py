"""Clinic staff operations (admin role)."""

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.appointments import SELECT as APPOINTMENT_SELECT
from connexion_clinic.envelope import camel, page, success
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
