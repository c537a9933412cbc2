"""Response headers, as an ASGI wrapper around the whole app.

FastAPI middleware sits inside Starlette's ServerErrorMiddleware, so responses for unhandled
exceptions would bypass it; wrapping the app covers every response.
"""

import platform

import fastapi
from starlette.datastructures import MutableHeaders

from common.variant import planted

HARDENING = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    def __getattr__(self, name):
        # Let callers (tests, serve.py) reach the FastAPI app's attributes, e.g. `.openapi()`.
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                _decorate(MutableHeaders(scope=message), scope["path"])
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def _decorate(headers: MutableHeaders, path: str) -> None:
    if planted("transport.security-headers"):
        # FLAW transport.security-headers: no hardening headers, and the stack announces itself
        # with version numbers.
        headers["X-Powered-By"] = f"FastAPI/{fastapi.__version__} Python/{platform.python_version()}"
        return
    for name, value in HARDENING.items():
        headers[name] = value
    if headers.get("content-type", "").startswith("application/json"):
        headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    if path.startswith("/api/"):
        headers["Cache-Control"] = "no-store"
