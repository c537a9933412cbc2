"""The object types of the shop's GraphQL API (graphql_api.py) and what its resolvers share.

Every field that crosses to another object runs its own query (no dataloader), as a first
GraphQL version of an app usually does, so the cost of a query grows with its depth.
"""

import re

import strawberry
from strawberry.types import Info

from common.variant import planted
from fastapi_shop import auth
from fastapi_shop.graphql_view import ShopContext, ShopError
from fastapi_shop.schemas import EMAIL_PATTERN

PRODUCT_COLUMNS = "id, sku, name, description, price, stock"
ORDER_COLUMNS = "id, user_id, product_id, quantity, unit_price, total, status, created_at"
NOTE_COLUMNS = "id, user_id, title, body, created_at"
USER_COLUMNS = auth.USER_COLUMNS
EMAIL_RE = re.compile(EMAIL_PATTERN)


def context_of(info: Info) -> ShopContext:
    return info.context


def bad_input(message: str) -> ShopError:
    return ShopError(message, "BAD_USER_INPUT")


def checked_text(value: str, name: str, max_length: int, min_length: int = 0) -> str:
    if not min_length <= len(value) <= max_length or "\x00" in value:
        raise bad_input(f"{name} must be {min_length} to {max_length} characters, without NUL")
    return value


def safe_id(value: strawberry.ID) -> int | None:
    """A row id as PostgreSQL's `serial` holds it, or None for anything else."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number < 2**31 else None


def object_id(value: strawberry.ID) -> int | None:
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: the id goes to int() and to the driver as it is: "abc" raises
        # ValueError, 2147483648 asyncpg's DataError (int32 out of range); both unexpected, so
        # their traceback goes out (graphql_view.DebugErrors).
        return int(value)
    return safe_id(value)


async def fetchrow(info: Info, query: str, *args):
    async with context_of(info).pool.acquire() as conn:
        return await conn.fetchrow(query, *args)


async def fetch(info: Info, query: str, *args):
    async with context_of(info).pool.acquire() as conn:
        return await conn.fetch(query, *args)


@strawberry.type
class Product:
    id: strawberry.ID
    sku: str
    name: str
    description: str
    price: float
    stock: int

    @staticmethod
    def of(row) -> "Product":
        return Product(
            id=strawberry.ID(str(row["id"])),
            sku=row["sku"],
            name=row["name"],
            description=row["description"],
            price=float(row["price"]),
            stock=row["stock"],
        )


@strawberry.type
class User:
    id: strawberry.ID
    username: str
    email: str
    full_name: str
    role: str
    created_at: str

    @staticmethod
    def of(row) -> "User":
        return User(
            id=strawberry.ID(str(row["id"])),
            username=row["username"],
            email=row["email"],
            full_name=row["full_name"],
            role=row["role"],
            created_at=row["created_at"].isoformat(),
        )

    @strawberry.field(description="The account's orders, oldest first.")
    async def orders(self, info: Info) -> list["Order"]:
        rows = await fetch(info, f"SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = $1 ORDER BY id", int(self.id))
        return [Order.of(r) for r in rows]

    @strawberry.field(description="The account's notes, oldest first.")
    async def notes(self, info: Info) -> list["Note"]:
        rows = await fetch(info, f"SELECT {NOTE_COLUMNS} FROM notes WHERE user_id = $1 ORDER BY id", int(self.id))
        return [Note.of(r) for r in rows]


async def user_by_id(info: Info, user_id: int) -> User:
    return User.of(await fetchrow(info, f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id))


@strawberry.type
class Order:
    id: strawberry.ID
    quantity: int
    unit_price: float
    total: float
    status: str
    created_at: str
    user_id: strawberry.Private[int]
    product_id: strawberry.Private[int]

    @staticmethod
    def of(row) -> "Order":
        return Order(
            id=strawberry.ID(str(row["id"])),
            quantity=row["quantity"],
            unit_price=float(row["unit_price"]),
            total=float(row["total"]),
            status=row["status"],
            created_at=row["created_at"].isoformat(),
            user_id=row["user_id"],
            product_id=row["product_id"],
        )

    @strawberry.field(description="The account that placed the order.")
    async def owner(self, info: Info) -> User:
        return await user_by_id(info, self.user_id)

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return Product.of(
            await fetchrow(info, f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1", self.product_id)
        )


@strawberry.type
class Note:
    id: strawberry.ID
    title: str
    body: str
    created_at: str
    user_id: strawberry.Private[int]

    @staticmethod
    def of(row) -> "Note":
        return Note(
            id=strawberry.ID(str(row["id"])),
            title=row["title"],
            body=row["body"],
            created_at=row["created_at"].isoformat(),
            user_id=row["user_id"],
        )

    @strawberry.field
    async def owner(self, info: Info) -> User:
        return await user_by_id(info, self.user_id)


@strawberry.type
class LoginPayload:
    token: str
    expires_in: int
    user: User
