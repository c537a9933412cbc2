"""Token refresh for API clients (scripts, the mobile app): bearer token only, never the cookie."""

from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, status

from common.variant import planted
from fastapi_shop.auth import (
    TOKEN_TTL_SECONDS,
    UNAUTHORIZED,
    Connection,
    _issue_token,
    _user_for_token,
    oauth2_scheme,
    user_for_claims,
)
from fastapi_shop.schemas import Token

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/refresh", response_model=Token, responses=UNAUTHORIZED, summary="Exchange a bearer token for a fresh one")
async def refresh(request: Request, conn: Connection, token: Annotated[str, Depends(oauth2_scheme)]):
    if planted("auth.jwt-signature"):
        # FLAW auth.jwt-signature: "refresh only ever sees our own tokens", so it reads the claims
        # without verifying the signature (expiry is still checked) and signs a fresh token for
        # whatever `sub` they name: an edited token becomes a genuine one.
        try:
            claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": True})
        except jwt.InvalidTokenError:
            claims = None
        user = await user_for_claims(conn, claims) if isinstance(claims, dict) else None
    else:
        user = await _user_for_token(request, conn, token)
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Token(access_token=_issue_token(request, user), expires_in=TOKEN_TTL_SECONDS)
