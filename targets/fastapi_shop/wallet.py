"""The wallet: transfers out (with a documented Idempotency-Key) and welcome coupons that add credit.

Every account holds one active welcome coupon: listing the coupons issues a new one when the last was
redeemed (a loyalty scheme), so each visit finds a single-use code that belongs to the caller.
"""

import asyncio
import secrets
from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Header, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import Message

router = APIRouter(prefix="/api", tags=["wallet"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]
TRANSFER = "SELECT id, amount, recipient, reference, created_at FROM transfers"


class NewTransfer(BaseModel):
    amount: float = Field(gt=0, le=10_000, examples=[5])
    recipient: str = Field(min_length=1, max_length=100, examples=["GB33BUKB20201555555555"])
    reference: str = Field(default="", max_length=140)


class Transfer(BaseModel):
    id: int
    amount: float
    recipient: str
    reference: str
    created_at: datetime


class TransferList(BaseModel):
    items: list[Transfer]


class Coupon(BaseModel):
    code: str
    amount: float
    redeemed: bool


class CouponList(BaseModel):
    items: list[Coupon]


class Redemption(BaseModel):
    code: str
    credit: float


@router.get("/transfers", response_model=TransferList, summary="List the caller's transfers")
async def list_transfers(user: CurrentUser, conn: Connection):
    rows = await conn.fetch(f"{TRANSFER} WHERE user_id = $1 ORDER BY id", user["id"])
    return {"items": [dict(r) for r in rows]}


@router.post(
    "/transfers",
    status_code=201,
    response_model=Transfer,
    summary="Send money from the caller's wallet",
    description="Retries with the same Idempotency-Key return the first transfer instead of sending again.",
    responses={200: {"model": Transfer, "description": "A retry: the transfer already sent with this key"}},
)
async def create_transfer(
    body: NewTransfer,
    user: CurrentUser,
    conn: Connection,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=100)] = None,
):
    # FLAW design.replay-duplicates: the key is documented but never stored or looked up, so a
    # client's retry of a timed-out transfer sends the money twice.
    key = None if planted("design.replay-duplicates") else idempotency_key
    try:
        row = await conn.fetchrow(
            "INSERT INTO transfers (user_id, amount, recipient, reference, idempotency_key)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING id, amount, recipient, reference, created_at",
            user["id"],
            body.amount,
            body.recipient,
            body.reference,
            key,
        )
    except asyncpg.UniqueViolationError:
        row = await conn.fetchrow(f"{TRANSFER} WHERE user_id = $1 AND idempotency_key = $2", user["id"], key)
        return JSONResponse(Transfer(**dict(row)).model_dump(mode="json"), status_code=200)
    return dict(row)


@router.get("/coupons", response_model=CouponList, summary="The caller's welcome coupons (one active at a time)")
async def list_coupons(user: CurrentUser, conn: Connection):
    if await conn.fetchval("SELECT 1 FROM coupons WHERE user_id = $1 AND NOT redeemed", user["id"]) is None:
        await conn.execute(
            "INSERT INTO coupons (code, user_id, amount) VALUES ($1, $2, 10)",
            f"WELCOME-{secrets.token_hex(4).upper()}",
            user["id"],
        )
    rows = await conn.fetch("SELECT code, amount, redeemed FROM coupons WHERE user_id = $1 ORDER BY redeemed, code", user["id"])
    return {"items": [dict(r) for r in rows]}


async def _credit(conn: asyncpg.Connection, user_id: int, amount) -> float:
    return float(
        await conn.fetchval(
            "INSERT INTO wallets (user_id, credit) VALUES ($1, $2)"
            " ON CONFLICT (user_id) DO UPDATE SET credit = wallets.credit + EXCLUDED.credit RETURNING credit",
            user_id,
            amount,
        )
    )


async def _consume(conn: asyncpg.Connection, code: str, user_id: int, lock: str) -> float:
    coupon = await conn.fetchrow(f"SELECT amount, redeemed FROM coupons WHERE code = $1 AND user_id = $2{lock}", code, user_id)
    if coupon is None:
        raise HTTPException(status_code=404, detail="No such coupon")
    if coupon["redeemed"]:
        raise HTTPException(status_code=409, detail="This coupon was already redeemed")
    await asyncio.sleep(0.05)  # stand-in for notifying the loyalty provider
    credit = await _credit(conn, user_id, coupon["amount"])
    await conn.execute("UPDATE coupons SET redeemed = true WHERE code = $1", code)
    return credit


@router.post(
    "/coupons/{code}/redeem",
    response_model=Redemption,
    summary="Redeem one of the caller's coupons (single use) for wallet credit",
    responses={404: {"model": Message, "description": "No such coupon"}, 409: {"model": Message, "description": "Already redeemed"}},
)
async def redeem_coupon(code: Annotated[str, Path(max_length=40)], user: CurrentUser, conn: Connection):
    if planted("design.race-condition"):
        # FLAW design.race-condition: the check and the consumption run as separate statements
        # outside a transaction, with the loyalty provider's call in between, so parallel requests
        # all pass the check.
        credit = await _consume(conn, code, user["id"], "")
    else:
        async with conn.transaction():
            credit = await _consume(conn, code, user["id"], " FOR UPDATE")
    return {"code": code, "credit": credit}
