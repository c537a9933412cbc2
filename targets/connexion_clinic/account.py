"""The caller's own account (`/me`)."""

from psycopg import sql

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.envelope import Fail, success
from connexion_clinic.security import USER_COLUMNS, caller, user_json

# JSON property -> column an owner may change.
EDITABLE = {"email": "email", "fullName": "full_name"}
if planted("authz.mass-assignment"):
    # FLAW authz.mass-assignment: the front desk's tool reuses this operation to promote staff, so
    # `role` was added to the editable fields (undocumented in the spec) and any caller may send
    # {"role": "admin"} for themselves.
    EDITABLE["role"] = "role"
ROLES = ("customer", "admin")


def get_me(user: str):
    return success(user_json(caller(user)))


def update_me(user: str, body: dict):
    me = caller(user)
    # The spec has checked the types and lengths of the documented properties; others are ignored.
    changes = {column: body[field] for field, column in EDITABLE.items() if field in body}
    if "role" in changes and changes["role"] not in ROLES:
        raise Fail(400, "role must be customer or admin")
    if changes:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder()) for column in changes
        )
        db.execute(sql.SQL("UPDATE users SET {} WHERE id = %s").format(assignments), (*changes.values(), me["id"]))
    row = db.query_one(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (me["id"],))
    return success(user_json(row))
