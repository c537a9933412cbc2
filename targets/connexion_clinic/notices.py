"""Clinic notices (`GET /notices`): closures and campaigns posted by staff.

Shared by design: every signed-in account, staff included, reads the same list in both builds.
"""

from connexion_clinic import db
from connexion_clinic.envelope import camel, page, success
from connexion_clinic.security import caller


def list_notices(user: str):
    caller(user)
    rows = db.query(
        "SELECT n.id, n.title, n.body, u.username AS posted_by, n.posted_at"
        " FROM notices n JOIN users u ON u.id = n.posted_by ORDER BY n.posted_at DESC, n.id"
    )
    return success(page([camel(r) for r in rows]))
