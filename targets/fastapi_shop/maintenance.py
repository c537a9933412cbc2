"""Demo data initialisation for the admin role: wipes every table and seeds the demo data again
(every order, note and account added since is gone)."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from common import database
from fastapi_shop.auth import FORBIDDEN, UNAUTHORIZED, forgotten_in_vulnerable, require_admin
from fastapi_shop.schemas import Message

router = APIRouter(prefix="/api", tags=["admin"], responses={**UNAUTHORIZED, **FORBIDDEN})

# FLAW auth.anonymous-state-change: the route was written against the optional-user dependency
# (so the spec still lists the OAuth2 requirement) and never checks the role: anyone, signed in
# or not, re-initialises the database. The secure build requires the admin role.
Admin = Annotated[dict | None, Depends(forgotten_in_vulnerable("auth.anonymous-state-change", require_admin))]


@router.put(
    "/demo-data",
    response_model=Message,
    operation_id="initializeDemoData",
    summary="Initialise the demo data (admin role)",
)
async def initialize_demo_data(request: Request, _admin: Admin):
    await asyncio.to_thread(database.reseed_dsn, request.app.state.database_url)
    return {"detail": "demo data initialised"}
