"""The wallet: transfers out (with a documented Idempotency-Key) and welcome coupons that add credit.

Every account holds one active welcome coupon: listing the coupons issues a new one when the last was
redeemed (a loyalty scheme), so each visit finds a single-use code that belongs to the caller.
"""

import secrets
import time

import psycopg
from flask import Blueprint, jsonify, request

from common.variant import planted
from flask_shop import db
from flask_shop.auth import current_user, login_required
from flask_shop.errors import ApiError
from flask_shop.validation import json_object

bp = Blueprint("wallet", __name__, url_prefix="/api")

TRANSFER = "SELECT id, amount, recipient, reference, created_at FROM transfers"


def transfer_json(row: dict) -> dict:
    return {**row, "amount": float(row["amount"]), "created_at": row["created_at"].isoformat()}


@bp.get("/transfers")
@login_required
def list_transfers():
    rows = db.query(f"{TRANSFER} WHERE user_id = %s ORDER BY id", (current_user()["id"],))
    return jsonify({"items": [transfer_json(r) for r in rows]})


@bp.post("/transfers")
@login_required
def create_transfer():
    body = json_object()
    amount, recipient = body.get("amount"), body.get("recipient")
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not 0 < amount <= 10_000:
        raise ApiError(400, "invalid_body", "amount must be a number between 0 and 10000")
    if not isinstance(recipient, str) or not 0 < len(recipient) <= 100:
        raise ApiError(400, "invalid_body", "recipient must be a non-empty string")
    reference = str(body.get("reference", ""))[:140]
    user_id = current_user()["id"]
    key = request.headers.get("Idempotency-Key", "")[:100] or None
    # FLAW design.replay-duplicates: the key is documented but never stored or looked up, so a
    # client's retry of a timed-out transfer sends the money twice.
    if planted("design.replay-duplicates"):
        key = None
    try:
        row = db.query_one(
            "INSERT INTO transfers (user_id, amount, recipient, reference, idempotency_key)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id, amount, recipient, reference, created_at",
            (user_id, amount, recipient, reference, key),
        )
    except psycopg.errors.UniqueViolation:
        row = db.query_one(f"{TRANSFER} WHERE user_id = %s AND idempotency_key = %s", (user_id, key))
        return jsonify(transfer_json(row)), 200
    return jsonify(transfer_json(row)), 201


@bp.get("/coupons")
@login_required
def list_coupons():
    user_id = current_user()["id"]
    if db.query_one("SELECT 1 FROM coupons WHERE user_id = %s AND NOT redeemed", (user_id,)) is None:
        db.query_one(
            "INSERT INTO coupons (code, user_id, amount) VALUES (%s, %s, 10) RETURNING code",
            (f"WELCOME-{secrets.token_hex(4).upper()}", user_id),
        )
    rows = db.query("SELECT code, amount, redeemed FROM coupons WHERE user_id = %s ORDER BY redeemed, code", (user_id,))
    return jsonify({"items": [{**r, "amount": float(r["amount"])} for r in rows]})


def _credit(user_id: int, amount) -> float:
    row = db.query_one(
        "INSERT INTO wallets (user_id, credit) VALUES (%s, %s)"
        " ON CONFLICT (user_id) DO UPDATE SET credit = wallets.credit + EXCLUDED.credit RETURNING credit",
        (user_id, amount),
    )
    return float(row["credit"])


@bp.post("/coupons/<code>/redeem")
@login_required
def redeem_coupon(code: str):
    user_id = current_user()["id"]
    if planted("design.race-condition"):
        # FLAW design.race-condition: the check and the consumption are separate transactions (autocommit),
        # with the loyalty provider's call in between, so parallel requests all pass the check.
        coupon = db.query_one("SELECT amount, redeemed FROM coupons WHERE code = %s AND user_id = %s", (code, user_id))
        if coupon is None:
            raise ApiError(404, "not_found", "No such coupon.")
        if coupon["redeemed"]:
            raise ApiError(409, "conflict", "This coupon was already redeemed.")
        time.sleep(0.05)  # stand-in for notifying the loyalty provider
        credit = _credit(user_id, coupon["amount"])
        db.query_one("UPDATE coupons SET redeemed = true WHERE code = %s RETURNING code", (code,))
        return jsonify({"code": code, "credit": credit})
    with db.conn().transaction():
        coupon = db.query_one(
            "SELECT amount, redeemed FROM coupons WHERE code = %s AND user_id = %s FOR UPDATE", (code, user_id)
        )
        if coupon is None:
            raise ApiError(404, "not_found", "No such coupon.")
        if coupon["redeemed"]:
            raise ApiError(409, "conflict", "This coupon was already redeemed.")
        time.sleep(0.05)  # stand-in for notifying the loyalty provider
        credit = _credit(user_id, coupon["amount"])
        db.query_one("UPDATE coupons SET redeemed = true WHERE code = %s RETURNING code", (code,))
    return jsonify({"code": code, "credit": credit})
