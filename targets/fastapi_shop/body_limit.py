"""The maximum request body size, as an ASGI wrapper: Starlette has no limit of its own."""

from common.variant import planted

MAX_BODY_BYTES = 1024 * 1024

TOO_LARGE = b'{"detail":"Request body too large"}'


class BodyLimit:
    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
            return await _too_large(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise ValueError("request body larger than declared")
            return message

        return await self.app(scope, counted, send)


async def _too_large(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(TOO_LARGE)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": TOO_LARGE})


def wrap(app):
    if planted("availability.no-body-limit"):
        # FLAW availability.no-body-limit: nothing in front of the app bounds the body, so uvicorn and
        # Starlette read and parse bodies of any size.
        return app
    return BodyLimit(app)
