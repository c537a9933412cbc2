"""Error responses beyond FastAPI's defaults."""

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from common.variant import planted

# Errors raised by asyncpg: from the server (PostgresError) or while encoding arguments (DataError).
DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.exceptions.DataError)


def database_error_details(exc: Exception) -> HTTPException:
    """What a team writes while debugging and forgets to take out: the driver's error, verbatim."""
    return HTTPException(
        status_code=400,
        detail={
            "message": str(exc),
            "sqlstate": getattr(exc, "sqlstate", None),
            "exception": f"{type(exc).__module__}.{type(exc).__qualname__}",
        },
    )


def install(app: FastAPI) -> None:
    if planted("info.verbose-error"):
        return  # debug=True (see __init__.py) renders tracebacks instead

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input and parser messages; location, message and type suffice.
        errors = [{"loc": e["loc"], "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "Internal server error"}, status_code=500)
