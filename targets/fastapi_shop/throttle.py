"""Limiters for sign-in and reset-code attempts, counted in `auth_failures` (one row per failure).

The counters live in PostgreSQL rather than in the process, so every worker and every restart of
a worker sees the same counts. A key names what is counted: `user:<name>`, `ip:<address>`,
`reset:<name>`. Only failures are recorded, and a refused (429) attempt is not a failure, so an
attacker cannot keep a window open forever by hammering it.
"""

import math

import asyncpg
from fastapi import HTTPException, Request, status

from fastapi_shop.schemas import Message

# Sign-in: the sixth attempt within a minute after five failures is refused.
SIGN_IN_LIMIT, SIGN_IN_WINDOW_SECONDS = 5, 60
TOO_MANY = {429: {"model": Message, "description": "Too many failed attempts (see Retry-After)"}}


def _printable(value: str) -> str:
    # Client-chosen text: NUL bytes and lone surrogates cannot go into a PostgreSQL text column.
    return value.encode("unicode_escape").decode("ascii")[:200]


def user_key(username: str) -> str:
    # Counted as sent, so unknown names are limited exactly like existing ones.
    return f"user:{_printable(username)}"


def reset_key(username: str) -> str:
    return f"reset:{_printable(username)}"


def address_key(request: Request) -> str:
    """The client address as the proxy headers tell it: the first X-Forwarded-For entry, else
    X-Real-IP, else the `for=` of Forwarded, else the peer. Only meaningful behind a proxy that
    overwrites these headers; a client that talks to the app directly can send any of them."""
    forwarded_for = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    real_ip = request.headers.get("x-real-ip", "").strip()
    address = forwarded_for or real_ip or _forwarded_for(request.headers.get("forwarded", ""))
    if not address:
        address = request.client.host if request.client else "unknown"
    return f"ip:{_printable(address)}"


def _forwarded_for(header: str) -> str:
    # RFC 7239: `for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"`; the first element counts.
    for pair in header.split(",")[0].split(";"):
        name, _, value = pair.strip().partition("=")
        if name.lower() == "for":
            return value.strip().strip('"')
    return ""


async def refuse_when_blocked(
    conn: asyncpg.Connection,
    key: str,
    limit: int = SIGN_IN_LIMIT,
    window_seconds: int = SIGN_IN_WINDOW_SECONDS,
) -> None:
    """429 with Retry-After when `key` has `limit` or more failures within the window."""
    row = await conn.fetchrow(
        "SELECT count(*) AS failures, extract(epoch FROM now() - min(failed_at))::float8 AS age"
        " FROM auth_failures WHERE key = $1 AND failed_at > now() - make_interval(secs => $2)",
        key,
        float(window_seconds),
    )
    if row["failures"] >= limit:
        retry_after = max(1, math.ceil(window_seconds - row["age"]))
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="Too many failed attempts; try again later",
            headers={"Retry-After": str(retry_after)},
        )


async def record_failure(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("INSERT INTO auth_failures (key) VALUES ($1)", key)


async def forget(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("DELETE FROM auth_failures WHERE key = $1", key)
