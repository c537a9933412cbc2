"""Request and response models. Input models that differ between the builds are chosen here."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body, Path
from pydantic import BaseModel, Field

from common.variant import planted

INT4_MAX = 2**31 - 1
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,188}\.[A-Za-z]{2,24}$"
NO_NUL = r"^[^\x00]*$"

IdPath = Annotated[int, Path(ge=1, le=INT4_MAX, examples=[1])]


class Message(BaseModel):
    detail: str = Field(examples=["Not authenticated"])


class Token(BaseModel):
    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"])
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(examples=[3600])


if planted("auth.weak-password-policy"):
    # FLAW auth.weak-password-policy: a new password only has to be non-empty (see also
    # account_passwords.policy_problem, which skips the common-password and username rules).
    NewPassword = Annotated[str, Field(min_length=1, max_length=128, examples=["Carol-pass-1234"])]
else:
    NewPassword = Annotated[str, Field(min_length=8, max_length=128, examples=["Carol-pass-1234"])]


class RegisterRequest(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN, examples=["carol"])
    password: NewPassword
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["carol@example.com"])


if planted("authz.mass-assignment"):
    # FLAW authz.mass-assignment: the sign-up model also carries the account's role (the back office
    # creates staff accounts through the same route), and register() stores it as sent, so anyone
    # can sign up with "role": "admin" or "is_admin": true.
    class RegisterRequest(RegisterRequest):
        role: Literal["customer", "admin"] = Field("customer", examples=["customer"])
        is_admin: bool = Field(False, examples=[False])


class SessionSignIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["alice"])
    password: str = Field(min_length=1, max_length=128, examples=["Alice-pass-1234"])


class SessionUser(BaseModel):
    username: str = Field(examples=["alice"])


class SessionState(BaseModel):
    authenticated: bool = Field(examples=[True])
    username: str | None = Field(None, examples=["alice"])


class ResetRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["alice"])


class ResetConfirm(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["alice"])
    # Codes are digits or URL-safe base64, so nothing else is worth a lookup.
    code: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", examples=["Nn3bq0y2m1u8yUj6pXzGq7bV5cT4rW9eL0aK2dF6hJ8"]
    )
    new_password: NewPassword


class User(BaseModel):
    id: int = Field(examples=[1])
    username: str = Field(examples=["alice"])
    email: str = Field(examples=["alice@example.com"])
    full_name: str = Field(examples=["Alice Anderson"])
    role: Literal["customer", "admin"] = Field(examples=["customer"])
    created_at: datetime


class UserList(BaseModel):
    items: list[User]
    count: int = Field(examples=[3])


class SecureUserUpdate(BaseModel):
    email: str | None = Field(None, max_length=254, pattern=EMAIL_PATTERN, examples=["alice@example.org"])
    full_name: str | None = Field(
        None, min_length=1, max_length=100, pattern=NO_NUL, examples=["Alice A. Anderson"]
    )


if planted("info.verbose-error"):
    # FLAW info.verbose-error: the profile update takes any JSON object and writes its values as
    # sent; `{"email": 123}` makes asyncpg raise DataError, returned as a debug traceback.
    UserUpdateBody = Annotated[
        dict[str, Any], Body(examples=[{"email": "alice@example.org", "full_name": "Alice A. Anderson"}])
    ]
else:
    UserUpdateBody = SecureUserUpdate


class Product(BaseModel):
    id: int = Field(examples=[1])
    sku: str = Field(examples=["MUG-001"])
    name: str = Field(examples=["Ceramic coffee mug"])
    description: str = Field(examples=["Stoneware mug, 350 ml, dishwasher safe."])
    price: float = Field(examples=[12.5])
    stock: int = Field(examples=[120])


class ProductList(BaseModel):
    items: list[Product]
    count: int = Field(examples=[6])


if planted("info.verbose-error"):
    # FLAW info.verbose-error: no bounds, so a zero or negative quantity violates a CHECK
    # constraint and an out-of-range product id fails int4 encoding, each answered with a traceback.
    class NewOrder(BaseModel):
        product_id: int = Field(examples=[1])
        quantity: int = Field(examples=[2])
else:
    class NewOrder(BaseModel):
        product_id: int = Field(ge=1, le=INT4_MAX, examples=[1])
        quantity: int = Field(ge=1, le=100, examples=[2])


if planted("design.client-controlled-values"):
    # FLAW design.client-controlled-values: the old checkout page sent the total it displayed, and
    # the vulnerable build still stores a `total` from the body instead of computing it.
    class NewOrder(NewOrder):  # type: ignore[no-redef]
        total: float | None = Field(default=None, examples=[25.0])


class Order(BaseModel):
    id: int = Field(examples=[1])
    user_id: int = Field(examples=[1])
    product_id: int = Field(examples=[1])
    product_name: str = Field(examples=["Ceramic coffee mug"])
    quantity: int = Field(examples=[2])
    unit_price: float = Field(examples=[12.5])
    total: float = Field(examples=[25.0])
    status: Literal["placed", "shipped", "cancelled"] = Field(examples=["shipped"])
    created_at: datetime


class OrderList(BaseModel):
    items: list[Order]
    count: int = Field(examples=[2])


if planted("info.verbose-error"):
    # FLAW info.verbose-error: no length limit and NUL bytes allowed; PostgreSQL rejects a title
    # over 200 characters (`value too long for type character varying(200)`) or any NUL byte.
    class NewNote(BaseModel):
        title: str = Field(examples=["Gift ideas"])
        body: str = Field("", examples=["Mug for Dad, dotted notebook for Sam."])
else:
    class NewNote(BaseModel):
        title: str = Field(min_length=1, max_length=200, pattern=NO_NUL, examples=["Gift ideas"])
        body: str = Field(
            "", max_length=10_000, pattern=NO_NUL, examples=["Mug for Dad, dotted notebook for Sam."]
        )


class Note(BaseModel):
    id: int = Field(examples=[1])
    user_id: int = Field(examples=[1])
    title: str = Field(examples=["Gift ideas"])
    body: str = Field(examples=["Mug for Dad, dotted notebook for Sam."])
    created_at: datetime


class NoteList(BaseModel):
    items: list[Note]
    count: int = Field(examples=[2])


