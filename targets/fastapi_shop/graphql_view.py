"""How the shop's GraphQL API (graphql_api.py) is served: who the caller is, which HTTP requests
the endpoint takes, and what an error tells the client.

The caller is found exactly as the REST routes find it (auth.get_current_user): the bearer token
first, else the `session` cookie (the token login's JWT) or the `sid` cookie of the cookie sign-in,
and cookie-authenticated POSTs pass the shop's CSRF checks (browser_session.cookie_credential). An
anonymous request is not refused here; each resolver decides.

The router is mounted with `include_in_schema=False`: like most GraphQL endpoints it is not in the
shop's OpenAPI document.
"""

import traceback
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request, status
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.config import StrawberryConfig
from strawberry.types.graphql import OperationType

from common.variant import planted
from fastapi_shop import auth, browser_session

PATH = "/graphql"
# The secure build's resource limits: deep enough for every query the shop's pages send
# (`me { orders { product { name } } }` is 3), far below what the User -> orders -> owner cycle allows.
MAX_DEPTH = 6
MAX_ALIASES = 15
MAX_TOKENS = 2000
# The vulnerable build answers JSON arrays of operations (one HTTP request, many operations).
MAX_BATCH = 100


class ShopError(Exception):
    """An error a resolver means to show the client: its message and `extensions.code` stay
    visible in both builds (MaskErrors leaves it alone), unlike an unexpected exception."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.extensions = {"code": code}


def unauthenticated() -> ShopError:
    return ShopError("Not authenticated", "UNAUTHENTICATED")


def forbidden() -> ShopError:
    return ShopError("Administrator role required", "FORBIDDEN")


def not_found(what: str) -> ShopError:
    return ShopError(f"{what} not found", "NOT_FOUND")


class ShopContext(BaseContext):
    def __init__(self, pool: asyncpg.Pool, user: dict | None):
        super().__init__()
        self.pool = pool
        self.user = user
        # Sign-in limiter keys this HTTP request has already counted a failure for (graphql_api.login).
        self.counted_failures: set[str] = set()

    def signed_in(self) -> dict:
        if self.user is None:
            raise unauthenticated()
        return self.user

    def admin(self) -> dict:
        user = self.signed_in()
        if user["role"] != "admin":
            raise forbidden()
        return user


async def _caller(request: Request, bearer: str | None) -> dict | None:
    token = auth.request_token(request, bearer)
    cookie = None if token else browser_session.cookie_credential(request)
    if token is None and cookie is None:
        return None
    async with request.app.state.pool.acquire() as conn:
        if token is not None:
            user = await auth._user_for_token(request, conn, token)
        elif cookie[0] == browser_session.SID_COOKIE:
            user = await auth._user_for_sid(conn, cookie[1])
        else:
            user = await auth._user_for_token(request, conn, cookie[1])
    if user is None:
        # A credential that is presented but not valid is refused as REST refuses it.
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


async def context(
    request: Request, bearer: Annotated[str | None, Depends(auth.optional_oauth2_scheme)]
) -> ShopContext:
    return ShopContext(pool=request.app.state.pool, user=await _caller(request, bearer))


class FormFriendlyRouter(GraphQLRouter):
    """The vulnerable build's view, written so that a plain HTML form or a `fetch` without a
    preflight can call the API: bodies as form fields or text/plain JSON, mutations over GET."""

    async def parse_http_body(self, request):
        content_type, _ = parse_content_type(request.content_type or "")
        if request.method == "POST" and content_type == "application/x-www-form-urlencoded":
            data = self.parse_query_params((await request.get_form_data()).form)
        elif request.method == "POST" and content_type == "text/plain":
            data = self.parse_json(await request.get_body())
        else:
            return await super().parse_http_body(request)
        if not isinstance(data, dict):
            return await super().parse_http_body(request)
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables") if isinstance(data.get("variables"), dict) else None,
            operation_name=data.get("operationName"),
            extensions=None,
        )

    async def execute_single(self, request, request_adapter, sub_response, context, root_value, request_data):
        # Strawberry refuses mutations over GET by itself; this view lets every operation type run
        # whatever the method.
        return await self.schema.execute(
            request_data.query,
            root_value=root_value,
            variable_values=request_data.variables,
            context_value=context,
            operation_name=request_data.operation_name,
            allowed_operation_types={OperationType.QUERY, OperationType.MUTATION},
            operation_extensions=request_data.extensions,
        )


def _unexpected(error: GraphQLError) -> bool:
    """An exception no resolver meant to show (a database error, a bad conversion). GraphQL's
    own errors (a variable of the wrong type, coerced before any resolver runs) are expected."""
    original = error.original_error
    return original is not None and not isinstance(original, (ShopError, GraphQLError))


class DebugErrors(SchemaExtension):
    """Adds the exception's class and traceback to every unexpected error, as debug modes of
    GraphQL servers do (`extensions.exception.stacktrace`)."""

    def on_operation(self):
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [_with_exception(e) if _unexpected(e) else e for e in result.errors]


def _with_exception(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    lines = traceback.format_exception(type(original), original, original.__traceback__)
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=original,
        extensions={
            "exception": {
                "type": f"{type(original).__module__}.{type(original).__qualname__}",
                "stacktrace": "".join(lines).rstrip("\n").split("\n"),
            }
        },
    )


def extensions() -> list:
    chosen = []
    if planted("graphql.introspection"):
        # FLAW graphql.introspection: introspection stays on in production ("the mobile team's
        # code generator needs it"), so anyone can download the whole schema, admin mutations
        # included.
        pass
    else:
        chosen.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    if planted("info.verbose-error"):
        # FLAW info.verbose-error: unexpected exceptions are answered with their message (the
        # driver's text) and class and Python traceback in `errors[].extensions.exception`.
        chosen.append(DebugErrors())
    else:
        chosen.append(MaskErrors(should_mask_error=_unexpected))
    if planted("graphql.no-depth-limit"):
        # FLAW graphql.no-depth-limit: no depth, token or alias limit: a query can follow
        # User.orders -> Order.owner -> User ... as deep as it likes, and every level is a query
        # per object.
        pass
    else:
        chosen += [QueryDepthLimiter(max_depth=MAX_DEPTH), MaxTokensLimiter(max_token_count=MAX_TOKENS)]
    if not planted("graphql.alias-brute-force"):
        # (The vulnerable build's missing alias limit is part of its graphql.alias-brute-force
        # flaw: see graphql_api.login.)
        chosen.append(MaxAliasesLimiter(max_alias_count=MAX_ALIASES))
    return chosen


def config() -> StrawberryConfig:
    if planted("graphql.alias-brute-force"):
        # FLAW graphql.alias-brute-force: batching on (a JSON array of operations per request),
        # the client library's default.
        return StrawberryConfig(batching_config={"max_operations": MAX_BATCH})
    return StrawberryConfig()


def mount(app: FastAPI, schema) -> None:
    if planted("graphql.csrf"):
        # FLAW graphql.csrf: a custom view that takes form and text/plain bodies and mutations
        # over GET, so a cross-site form or <img> can run mutations with the visitor's cookie.
        view = FormFriendlyRouter
    else:
        view = GraphQLRouter
    # FLAW graphql.console: (vulnerable) GraphiQL is served to browsers on GET /graphql.
    ide = "graphiql" if planted("graphql.console") else None
    router = view(schema, path=PATH, graphql_ide=ide, context_getter=context)
    app.include_router(router, include_in_schema=False)
