"""Payment cards saved under an account: /api/users/<user_id>/cards.

The routes name the account in the path, as the mobile app's client library expects. Reads compare
that account with the caller; in the vulnerable build the writes were added later and only use it.
"""

from flask import Blueprint, jsonify

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import json_object, parse_id, string_field

bp = Blueprint("cards", __name__, url_prefix="/api/users/<user_id>/cards")

COLUMNS = "id, user_id, nickname, holder, created_at"


def card_json(row: dict) -> dict:
    return {**row, "created_at": row["created_at"].isoformat()}


def _own_account(user_id: str) -> int:
    """The path's account, which must be the caller's (403 otherwise)."""
    account = parse_id(user_id, "user_id")
    if account != current_user()["id"]:
        raise ApiError(403, "forbidden", "Cards of another account.")
    return account


def _path_account(user_id: str, check_id: str) -> int:
    if planted(check_id):
        # FLAW authz.bola-write: the write trusts the account in the path; it never compares it
        # with the caller (bob: POST/PUT/DELETE under /api/users/1/cards acts on alice's cards).
        return parse_id(user_id, "user_id")
    return _own_account(user_id)


def _fields(body: dict) -> tuple[str, str]:
    return string_field(body, "nickname", 60), string_field(body, "holder", 100)


@bp.get("")
@login_required
def list_cards(user_id: str):
    rows = db.query(f"SELECT {COLUMNS} FROM cards WHERE user_id = %s ORDER BY id", (_own_account(user_id),))
    return jsonify(items=[card_json(r) for r in rows], count=len(rows))


@bp.post("")
@login_required
def add_card(user_id: str):
    account = _path_account(user_id, "authz.bola-write")
    nickname, holder = _fields(json_object())
    row = db.query_one(
        f"INSERT INTO cards (user_id, nickname, holder) VALUES (%s, %s, %s) RETURNING {COLUMNS}",
        (account, nickname, holder),
    )
    return jsonify(card_json(row)), 201


@bp.get("/<card_id>")
@login_required
def get_card(user_id: str, card_id: str):
    row = db.query_one(
        f"SELECT {COLUMNS} FROM cards WHERE id = %s AND user_id = %s",
        (parse_id(card_id, "card_id"), _own_account(user_id)),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such card.")
    return jsonify(card_json(row))


@bp.put("/<card_id>")
@login_required
def replace_card(user_id: str, card_id: str):
    account = _path_account(user_id, "authz.bola-write")
    nickname, holder = _fields(json_object())
    row = db.query_one(
        f"UPDATE cards SET nickname = %s, holder = %s WHERE id = %s AND user_id = %s RETURNING {COLUMNS}",
        (nickname, holder, parse_id(card_id, "card_id"), account),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such card.")
    return jsonify(card_json(row))


@bp.delete("/<card_id>")
@login_required
def delete_card(user_id: str, card_id: str):
    account = _path_account(user_id, "authz.bola-write")
    row = db.query_one(
        "DELETE FROM cards WHERE id = %s AND user_id = %s RETURNING id",
        (parse_id(card_id, "card_id"), account),
    )
    if row is None:
        raise ApiError(404, "not_found", "No such card.")
    return "", 204
