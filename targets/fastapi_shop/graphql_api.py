"""The shop's GraphQL API at /graphql (Strawberry): the same database, accounts and sign-in as the
REST routes, as a graph of User, Order, Product and Note, with User.orders -> Order.owner -> User
as a cycle. Queries here, mutations in graphql_mutations.py, types in graphql_types.py, how
requests reach the schema and what errors show in graphql_view.py.
"""

import strawberry
from strawberry.types import Info

from common.variant import planted
from fastapi_shop.graphql_mutations import Mutation
from fastapi_shop.graphql_types import (
    NOTE_COLUMNS,
    ORDER_COLUMNS,
    PRODUCT_COLUMNS,
    USER_COLUMNS,
    Note,
    Order,
    Product,
    User,
    checked_text,
    context_of,
    fetch,
    fetchrow,
    object_id,
    safe_id,
)
from fastapi_shop.graphql_view import config, extensions, not_found


@strawberry.type
class Query:
    @strawberry.field(description="The catalogue (public).")
    async def products(self, info: Info, limit: int = 20, offset: int = 0) -> list[Product]:
        limit, offset = max(1, min(limit, 100)), max(0, min(offset, 10_000))
        rows = await fetch(
            info, f"SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id LIMIT $1 OFFSET $2", limit, offset
        )
        return [Product.of(r) for r in rows]

    @strawberry.field(description="One catalogue item (public).")
    async def product(self, info: Info, id: strawberry.ID) -> Product | None:
        product_id = safe_id(id)
        row = product_id and await fetchrow(info, f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1", product_id)
        if not row:
            raise not_found("Product")
        return Product.of(row)

    @strawberry.field(description="Catalogue items whose name or description contains `term` (public).")
    async def search_products(self, info: Info, term: str) -> list[Product]:
        if planted("injection.sql"):
            # FLAW injection.sql: the term is pasted into the statement; with info.verbose-error the
            # PostgreSQL error for an unbalanced quote goes back in `errors[].message`.
            rows = await fetch(
                info,
                f"SELECT {PRODUCT_COLUMNS} FROM products"
                f" WHERE (name ILIKE '%{term}%' OR description ILIKE '%{term}%') ORDER BY id LIMIT 20",
            )
        else:
            checked_text(term, "term", 100)
            rows = await fetch(
                info,
                f"SELECT {PRODUCT_COLUMNS} FROM products WHERE (name ILIKE $1 OR description ILIKE $1)"
                " ORDER BY id LIMIT 20",
                "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
            )
        return [Product.of(r) for r in rows]

    @strawberry.field(description="The signed-in account.")
    async def me(self, info: Info) -> User | None:
        return User.of(context_of(info).signed_in())

    @strawberry.field(description="One of the caller's orders.")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        caller = context_of(info).signed_in()
        order_id = object_id(id)
        if order_id is None:
            raise not_found("Order")
        if planted("authz.bola"):
            # FLAW authz.bola: looked up by id alone; any signed-in account reads any order (and,
            # through `owner`, its owner's e-mail and other orders).
            row = await fetchrow(info, f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1", order_id)
        else:
            row = await fetchrow(
                info, f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND user_id = $2", order_id, caller["id"]
            )
        if row is None:
            raise not_found("Order")
        return Order.of(row)

    @strawberry.field(description="One of the caller's notes.")
    async def note(self, info: Info, id: strawberry.ID) -> Note | None:
        caller = context_of(info).signed_in()
        note_id = object_id(id)
        if note_id is None:
            raise not_found("Note")
        if planted("authz.bola"):
            # FLAW authz.bola: (as `order`) looked up by id alone.
            row = await fetchrow(info, f"SELECT {NOTE_COLUMNS} FROM notes WHERE id = $1", note_id)
        else:
            row = await fetchrow(
                info, f"SELECT {NOTE_COLUMNS} FROM notes WHERE id = $1 AND user_id = $2", note_id, caller["id"]
            )
        if row is None:
            raise not_found("Note")
        return Note.of(row)

    @strawberry.field(description="Every account (back office).")
    async def users(self, info: Info) -> list[User] | None:
        if planted("auth.missing-authentication"):
            # FLAW auth.missing-authentication: the back-office list checks nobody: anonymous
            # callers get every account with its e-mail (and, through `orders`, every order).
            pass
        else:
            context_of(info).admin()
        rows = await fetch(info, f"SELECT {USER_COLUMNS} FROM users ORDER BY id")
        return [User.of(r) for r in rows]


schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=extensions(), config=config())
