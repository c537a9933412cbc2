"""Response hardening headers."""

from flask import Flask, request

from common.variant import planted


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        if planted("transport.security-headers"):
            # FLAW transport.security-headers: no hardening headers at all, and the vulnerable build
            # runs on the Werkzeug development server, whose `Server` header names its and Python's
            # versions (see serve.py).
            return response
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response
