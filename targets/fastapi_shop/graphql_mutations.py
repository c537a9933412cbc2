"""The mutations of the shop's GraphQL API: sign-in, the caller's own profile and notes, and two
back-office mutations (admin role).

Sign-in failures are counted in `auth_failures` like the REST sign-ins, under keys of their own
(`graphql:user:<name>`), so that a locked GraphQL sign-in does not lock the REST ones: more than
five failures for one username within 60 s and further attempts are refused.
"""

from decimal import Decimal

import strawberry
from fastapi import HTTPException
from strawberry.types import Info

from common.variant import planted
from fastapi_shop import auth, browser_session, throttle
from fastapi_shop.graphql_types import (
    EMAIL_RE,
    NOTE_COLUMNS,
    PRODUCT_COLUMNS,
    USER_COLUMNS,
    LoginPayload,
    Note,
    Product,
    User,
    bad_input,
    checked_text,
    context_of,
    fetchrow,
    safe_id,
)
from fastapi_shop.graphql_view import ShopContext, ShopError, not_found

ROLES = ("customer", "admin")


def _limit_key(username: str) -> str:
    return f"graphql:{throttle.user_key(username)}"


async def _refuse_when_blocked(conn, key: str) -> None:
    try:
        await throttle.refuse_when_blocked(conn, key)
    except HTTPException as refused:
        error = ShopError("Too many failed attempts; try again later", "TOO_MANY_ATTEMPTS")
        error.extensions["retryAfter"] = int(refused.headers["Retry-After"])
        raise error from None


async def _count_failure(conn, context: ShopContext, key: str) -> None:
    if planted("graphql.alias-brute-force"):
        # FLAW graphql.alias-brute-force: the limiter was written for the REST sign-in, one attempt
        # per HTTP request, so it counts one failure per request and key however many `login`
        # fields (aliases) or batched operations the request carries: 50 aliases try 50 passwords
        # and cost one failure.
        if key in context.counted_failures:
            return
        context.counted_failures.add(key)
    await throttle.record_failure(conn, key)


def _editor(info: Info) -> dict:
    """The caller of a back-office mutation."""
    if planted("authz.bfla"):
        # FLAW authz.bfla: the back-office mutations check that the caller is signed in, not that
        # the caller is an administrator: any customer adds products and changes roles.
        return context_of(info).signed_in()
    return context_of(info).admin()


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Sign in; answers a bearer token and sets the session cookies.")
    async def login(self, info: Info, username: str, password: str) -> LoginPayload | None:
        context = context_of(info)
        key = _limit_key(username)
        async with context.pool.acquire() as conn:
            await _refuse_when_blocked(conn, key)
            user = await auth.find_account(conn, username)
            if not await auth.password_matches(user, password):
                await _count_failure(conn, context, key)
                raise ShopError("Incorrect username or password", "BAD_CREDENTIALS")
            await throttle.forget(conn, key)
        token = auth._issue_token(context.request, user)
        browser_session.set_session_cookies(context.response, token, auth.TOKEN_TTL_SECONDS)
        return LoginPayload(token=token, expires_in=auth.TOKEN_TTL_SECONDS, user=User.of(user))

    @strawberry.mutation(description="Change the caller's name or e-mail.")
    async def update_profile(
        self, info: Info, full_name: str | None = None, email: str | None = None
    ) -> User | None:
        caller = context_of(info).signed_in()
        if full_name is not None:
            checked_text(full_name, "fullName", 100, 1)
        if email is not None and (len(email) > 254 or not EMAIL_RE.fullmatch(email)):
            raise bad_input("email is not an e-mail address")
        row = await fetchrow(
            info,
            "UPDATE users SET full_name = coalesce($2, full_name), email = coalesce($3, email)"
            f" WHERE id = $1 RETURNING {USER_COLUMNS}",
            caller["id"],
            full_name,
            email,
        )
        return User.of(row)

    @strawberry.mutation(description="Add a note to the caller's notes.")
    async def add_note(self, info: Info, title: str, body: str = "") -> Note | None:
        caller = context_of(info).signed_in()
        row = await fetchrow(
            info,
            f"INSERT INTO notes (user_id, title, body) VALUES ($1, $2, $3) RETURNING {NOTE_COLUMNS}",
            caller["id"],
            checked_text(title, "title", 200, 1),
            checked_text(body, "body", 10_000),
        )
        return Note.of(row)

    @strawberry.mutation(description="Delete one of the caller's notes.")
    async def delete_note(self, info: Info, id: strawberry.ID) -> bool | None:
        caller = context_of(info).signed_in()
        note_id = safe_id(id)
        deleted = note_id and await fetchrow(
            info, "DELETE FROM notes WHERE id = $1 AND user_id = $2 RETURNING id", note_id, caller["id"]
        )
        if not deleted:
            raise not_found("Note")
        return True

    @strawberry.mutation(description="Add a catalogue item (admin role).")
    async def create_product(
        self, info: Info, sku: str, name: str, price: float, stock: int, description: str = ""
    ) -> Product | None:
        _editor(info)
        if not 0 <= price <= 100_000 or not 0 <= stock <= 1_000_000:
            raise bad_input("price must be 0 to 100000 and stock 0 to 1000000")
        row = await fetchrow(
            info,
            "INSERT INTO products (sku, name, description, price, stock) VALUES ($1, $2, $3, $4, $5)"
            f" ON CONFLICT (sku) DO NOTHING RETURNING {PRODUCT_COLUMNS}",
            checked_text(sku, "sku", 32, 1),
            checked_text(name, "name", 120, 1),
            checked_text(description, "description", 2000),
            Decimal(str(round(price, 2))),
            stock,
        )
        if row is None:
            raise bad_input("a product with that sku exists")
        return Product.of(row)

    @strawberry.mutation(description="Change an account's role (admin role).")
    async def set_user_role(self, info: Info, user_id: strawberry.ID, role: str) -> User | None:
        _editor(info)
        if role not in ROLES:
            raise bad_input(f"role must be one of {', '.join(ROLES)}")
        target = safe_id(user_id)
        row = target and await fetchrow(
            info, f"UPDATE users SET role = $2 WHERE id = $1 RETURNING {USER_COLUMNS}", target, role
        )
        if not row:
            raise not_found("User")
        return User.of(row)
