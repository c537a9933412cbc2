"""The caller's saved delivery addresses."""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, parse_id, string_field

bp = Blueprint("addresses", __name__, url_prefix="/api/addresses")

COLUMNS = "id, user_id, label, recipient, street, city, postcode, country, phone, created_at"
# (field, max length, required on create)
FIELDS = (
    ("label", 40, True),
    ("recipient", 100, True),
    ("street", 200, True),
    ("city", 100, True),
    ("postcode", 16, True),
    ("country", 2, False),
    ("phone", 32, False),
)


def address_json(row: dict) -> dict:
    return {**row, "created_at": row["created_at"].isoformat()}


def _checked_fields(body: dict, creating: bool) -> dict:
    values = {}
    for name, max_len, required in FIELDS:
        if name in body or (creating and required):
            values[name] = string_field(body, name, max_len)
    country = values.get("country")
    if country is not None:
        if not (len(country) == 2 and country.isascii() and country.isalpha()):
            raise ApiError(400, "invalid_parameter", "country must be a two-letter ISO 3166 code")
        values["country"] = country.upper()
    return values


@bp.get("")
@login_required
def list_addresses():
    rows = db.query(f"SELECT {COLUMNS} FROM addresses WHERE user_id = %s ORDER BY id", (current_user()["id"],))
    return jsonify(items=[address_json(r) for r in rows], count=len(rows))


@bp.post("")
@login_required
def create_address():
    values = _checked_fields(json_object(), creating=True)
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    row = db.query_one(
        f"INSERT INTO addresses (user_id, {columns}) VALUES (%s, {placeholders}) RETURNING {COLUMNS}",
        (current_user()["id"], *values.values()),
    )
    return jsonify(address_json(row)), 201


@bp.get("/<address_id>")
@login_required
def get_address(address_id: str):
    lookup_id = parse_id(address_id, "address_id")
    if planted("authz.bola"):
        # FLAW authz.bola: the address is looked up by id alone, so any signed-in customer reads
        # anyone's address (bob: GET /api/addresses/1 returns alice's home address and phone).
        row = db.query_one(f"SELECT {COLUMNS} FROM addresses WHERE id = %s", (lookup_id,))
    else:
        row = db.query_one(
            f"SELECT {COLUMNS} FROM addresses WHERE id = %s AND user_id = %s",
            (lookup_id, current_user()["id"]),
        )
    if row is None:
        raise ApiError(404, "not_found", "No such address.")
    return jsonify(address_json(row))


@bp.patch("/<address_id>")
@login_required
def update_address(address_id: str):
    lookup_id = parse_id(address_id, "address_id")
    values = _checked_fields(json_object(), creating=False)
    if values:
        assignments = ", ".join(f"{name} = %s" for name in values)  # names come from FIELDS
        row = db.query_one(
            f"UPDATE addresses SET {assignments} WHERE id = %s AND user_id = %s RETURNING {COLUMNS}",
            (*values.values(), lookup_id, current_user()["id"]),
        )
    else:
        row = db.query_one(
            f"SELECT {COLUMNS} FROM addresses WHERE id = %s AND user_id = %s",
            (lookup_id, current_user()["id"]),
        )
    if row is None:
        raise ApiError(404, "not_found", "No such address.")
    return jsonify(address_json(row))


@bp.delete("/<address_id>")
@login_required
def delete_address(address_id: str):
    row = db.query_one(
        "DELETE FROM addresses WHERE id = %s AND user_id = %s RETURNING id",
        (parse_id(address_id, "address_id"), current_user()["id"]),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such address.")
    return "", 204
