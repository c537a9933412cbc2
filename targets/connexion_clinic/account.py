"""The caller's own account (`/me`) and an account's password (`/users/{username}/password`)."""

from psycopg import sql

from common.passwords import hash_password, password_problem, verify_password

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


def set_password(user: str, username: str, body: dict):
    """Owners change their own password with the current one; staff reset anyone's (no read: 204)."""
    me = caller(user)
    account = db.query_one("SELECT id, username, password_hash FROM users WHERE username = %s", (username,))
    if account is None:
        raise Fail(404, "account not found")
    if account["id"] == me["id"]:
        if not verify_password(body.get("currentPassword") or "", account["password_hash"]):
            raise Fail(403, "currentPassword is wrong")
    elif me["role"] != "admin":
        if not planted("authz.bola-write"):
            raise Fail(403, "only staff reset other accounts' passwords")
        # FLAW authz.bola-write: the branch for another account was meant for the front desk,
        # but nothing checks the role: bob's PUT /users/alice/password {"newPassword": ...}
        # sets alice's password, no current password asked.
    problem = password_problem(account["username"], body["newPassword"])
    if problem is not None:
        raise Fail(400, problem)
    db.execute("UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(body["newPassword"]), account["id"]))
    return None, 204
