"""An owner's pets, under /users/{username}/pets.

Ownership is decided by the token, never by the path: the username in the path must be the
caller's. In the vulnerable build the single-pet read and replace forgot that and scope the
lookup by the path's username only, so any signed-in owner reaches anyone's pets by writing
their username in the URL.
"""

from datetime import date

from common.variant import planted
from connexion_clinic import db
from connexion_clinic.envelope import Fail, camel, page, parse_uuid, success
from connexion_clinic.security import caller, require_self

SELECT = (
    "SELECT p.id, u.username AS owner, p.name, p.species, p.breed, p.birth_date, p.microchip, p.created_at"
    " FROM pets p JOIN users u ON u.id = p.owner_id"
)


def _fields(body: dict) -> tuple:
    """(name, species, breed, birth date, microchip) from a full pet body the spec has checked."""
    birth_date = body.get("birthDate")
    if birth_date is not None:
        try:
            birth_date = date.fromisoformat(birth_date)
        except ValueError:
            raise Fail(400, "birthDate must be a date such as 2020-05-17") from None
        if birth_date > date.today():
            raise Fail(400, "birthDate is in the future")
    return body["name"], body["species"], body.get("breed", ""), birth_date, body.get("microchip", "")


def _one(pet_id: str, condition: str, params: tuple) -> dict:
    row = db.query_one(f"{SELECT} WHERE p.id = %s AND {condition}", (pet_id, *params))
    if row is None:
        raise Fail(404, "pet not found")
    return camel(row)


def list_pets(user: str, username: str):
    me = require_self(user, username)
    rows = db.query(f"{SELECT} WHERE p.owner_id = %s ORDER BY p.created_at, p.id", (me["id"],))
    return success(page([camel(r) for r in rows]))


def create_pet(user: str, username: str, body: dict):
    me = require_self(user, username)
    row = db.query_one(
        "INSERT INTO pets (owner_id, name, species, breed, birth_date, microchip)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (me["id"], *_fields(body)),
    )
    return success(_one(row["id"], "p.owner_id = %s", (me["id"],)), 201)


def get_pet(user: str, username: str, pet_id: str):
    pet_id = parse_uuid(pet_id, "pet")
    if planted("authz.bola"):
        # FLAW authz.bola: the owner is taken from the path, not the token: bob's
        # GET /users/alice/pets/<Rex's id> returns alice's dog.
        caller(user)
        return success(_one(pet_id, "u.username = %s", (username,)))
    me = caller(user)
    return success(_one(pet_id, "p.owner_id = %s AND u.username = %s", (me["id"], username)))


def replace_pet(user: str, username: str, pet_id: str, body: dict):
    pet_id = parse_uuid(pet_id, "pet")
    fields = _fields(body)
    me = caller(user)
    if planted("authz.bola-write"):
        # FLAW authz.bola-write: the same mistake on write: the row is matched by the path's
        # username, so bob's PUT /users/alice/pets/<id> rewrites alice's pet.
        scope, params = "owner_id = (SELECT id FROM users WHERE username = %s)", (username,)
    else:
        if me["username"] != username:
            raise Fail(404, "pet not found")
        scope, params = "owner_id = %s", (me["id"],)
    row = db.query_one(
        "UPDATE pets SET name = %s, species = %s, breed = %s, birth_date = %s, microchip = %s"
        f" WHERE id = %s AND {scope} RETURNING id",
        (*fields, pet_id, *params),
    )
    if row is None:
        raise Fail(404, "pet not found")
    return success(_one(pet_id, "true", ()))


def delete_pet(user: str, username: str, pet_id: str):
    me = require_self(user, username)
    row = db.query_one(
        "DELETE FROM pets WHERE id = %s AND owner_id = %s RETURNING id", (parse_uuid(pet_id, "pet"), me["id"])
    )
    if row is None:
        raise Fail(404, "pet not found")
    return None, 204
