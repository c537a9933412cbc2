"""Order cancellation: a customer may cancel an order that has not shipped, and its stock goes back."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from common.variant import planted
from fastapi_shop.auth import UNAUTHORIZED, Connection, get_current_user
from fastapi_shop.orders import SELECT
from fastapi_shop.schemas import IdPath, Message, Order

router = APIRouter(prefix="/api/orders", tags=["orders"], responses=UNAUTHORIZED)

CurrentUser = Annotated[dict, Depends(get_current_user)]
RESPONSES = {
    404: {"model": Message, "description": "No such order"},
    409: {"model": Message, "description": "Not cancellable"},
}


async def cancel_order(order_id: IdPath, user: CurrentUser, conn: Connection):
    async with conn.transaction():
        row = await conn.fetchrow(
            "UPDATE orders SET status = 'cancelled' WHERE id = $1 AND user_id = $2 AND status = 'placed'"
            " RETURNING product_id, quantity",
            order_id,
            user["id"],
        )
        if row is None:
            if await conn.fetchval("SELECT 1 FROM orders WHERE id = $1 AND user_id = $2", order_id, user["id"]) is None:
                raise HTTPException(status_code=404, detail="No such order")
            raise HTTPException(status_code=409, detail="Only placed orders can be cancelled")
        await conn.execute("UPDATE products SET stock = stock + $1 WHERE id = $2", row["quantity"], row["product_id"])
    return dict(await conn.fetchrow(f"{SELECT} WHERE o.id = $1", order_id))


router.add_api_route(
    "/{order_id}/cancel",
    cancel_order,
    methods=["POST"],
    response_model=Order,
    summary="Cancel one of the caller's orders that has not shipped",
    responses=RESPONSES,
)
if planted("csrf.state-change-on-get"):
    # FLAW csrf.state-change-on-get: the "cancel" link in the order e-mail is a plain GET to the same
    # action, so a link or image on any site cancels the order with the session cookie.
    router.add_api_route(
        "/{order_id}/cancel",
        cancel_order,
        methods=["GET"],
        response_model=Order,
        summary="Cancel an order from the e-mail link",
        responses=RESPONSES,
        operation_id="cancel_order_link",
    )
