"""The asyncpg pool (opened for the app's lifetime) and a per-request connection dependency."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(app.state.database_url, min_size=1, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


async def connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn
