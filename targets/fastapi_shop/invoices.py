"""Invoices for the caller's orders, built from the order and the customer's billing details."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.schemas import INT4_MAX, Message

router = APIRouter(prefix="/api/invoices", tags=["invoices"], responses=UNAUTHORIZED)

VAT_RATE = Decimal("0.20")  # catalogue prices include VAT

SELECT = (
    "SELECT o.id AS order_id, o.user_id, u.full_name AS customer_name, u.email AS customer_email,"
    " (SELECT concat_ws(', ', a.recipient, a.street, a.city, a.postcode, a.country) FROM addresses a"
    "   WHERE a.user_id = o.user_id ORDER BY a.id LIMIT 1) AS billing_address,"
    " p.name AS product_name, o.quantity, o.unit_price, o.total, o.status, o.created_at AS issued_at"
    " FROM orders o JOIN users u ON u.id = o.user_id JOIN products p ON p.id = o.product_id"
)

CurrentUser = Annotated[dict, Depends(get_current_user)]
OrderIdQuery = Annotated[int, Query(ge=1, le=INT4_MAX, description="The order to invoice", examples=[1])]


class Invoice(BaseModel):
    invoice_number: str = Field(examples=["INV-000001"])
    order_id: int = Field(examples=[1])
    user_id: int = Field(examples=[1])
    customer_name: str = Field(examples=["Alice Anderson"])
    customer_email: str = Field(examples=["alice@example.com"])
    billing_address: str | None = Field(examples=["Alice Anderson, 12 Rosemary Lane, Bristol, BS1 4QA, GB"])
    product_name: str = Field(examples=["Ceramic coffee mug"])
    quantity: int = Field(examples=[2])
    unit_price: float = Field(examples=[12.5])
    net_amount: float = Field(examples=[20.83])
    vat_rate: float = Field(examples=[0.2])
    vat_amount: float = Field(examples=[4.17])
    total: float = Field(examples=[25.0])
    status: str = Field(examples=["shipped"])
    issued_at: datetime


def _invoice(row) -> dict:
    row = dict(row)
    net = (row["total"] / (1 + VAT_RATE)).quantize(Decimal("0.01"))
    return {
        **row,
        "invoice_number": f"INV-{row['order_id']:06d}",
        "net_amount": net,
        "vat_rate": VAT_RATE,
        "vat_amount": row["total"] - net,
    }


@router.get(
    "",
    response_model=Invoice,
    summary="Invoice for one of the caller's orders",
    responses={404: {"model": Message, "description": "No such order"}},
)
async def get_invoice(order_id: OrderIdQuery, user: CurrentUser, conn: Connection):
    if planted("authz.bola"):
        # FLAW authz.bola: the invoice is fetched by the order id from the query string alone, so
        # any signed-in customer gets any order's invoice, with the buyer's name, email and billing
        # address (bob: GET /api/invoices?order_id=1 returns alice's invoice).
        row = await conn.fetchrow(f"{SELECT} WHERE o.id = $1", order_id)
    else:
        row = await conn.fetchrow(f"{SELECT} WHERE o.id = $1 AND o.user_id = $2", order_id, user["id"])
    if row is None:
        raise HTTPException(status_code=404, detail="No such order")
    return _invoice(row)
