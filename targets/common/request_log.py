"""An opt-in log of every request a target receives, for the scanner's census tests (issue 16).

When the environment variable MB_REQUEST_LOG names a file, each request appends one JSON line:
method, path, query, who sent it (the subject of a bearer JWT or of a JWT cookie, the user of a
Flask session cookie), status, the Location header, and the first 2 kB of the request body and,
for methods other than GET/HEAD/OPTIONS, the first 256 kB of the answer. The test reads the log after the scan
and judges every state change from the server's side. Without the variable nothing is logged.

With MB_REQUEST_LOG_REPLAY=1 as well, each line also carries what it takes to send the request
again (bench/replay.py): every request header and the whole body, base64. These lines hold the
credentials the scanner used, so only the benchmark turns this on, on a throwaway database, and
deletes the log when it is done.
"""

import base64
import json
import os
import threading
import zlib

LIMIT = 2048
# Answers are kept longer: a creation answering a long probe value still shows its id.
ANSWER_LIMIT = 256 * 1024
_LOCK = threading.Lock()
READS = {"GET", "HEAD", "OPTIONS"}


def log_path():
    return os.environ.get("MB_REQUEST_LOG") or None


def replayable():
    return os.environ.get("MB_REQUEST_LOG_REPLAY") == "1"


def _replay_fields(target: str, headers: list, body: bytes) -> dict:
    """The request target as it came on the wire (undecoded), its headers and its body."""
    if not replayable():
        return {}
    return {"target": target, "headers": headers, "body_b64": base64.b64encode(body).decode("ascii")}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _jwt_subject(token: str):
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].startswith("eyJ"):
        return None
    try:
        return str(json.loads(_b64(parts[1])).get("sub"))
    except Exception:  # noqa: BLE001 - a log line must never break a request
        return None


def _flask_session_user(value: str):
    try:
        compressed = value.startswith(".")
        payload = _b64(value.lstrip(".").split(".")[0])
        if compressed:
            payload = zlib.decompress(payload)
        user = json.loads(payload).get("user_id")
        return None if user is None else str(user)
    except Exception:  # noqa: BLE001
        return None


def _who(authorization: str, cookies: str, query: str):
    if authorization.lower().startswith("bearer "):
        sub = _jwt_subject(authorization[7:].strip())
        if sub:
            return sub
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name == "access_token" and _jwt_subject(value):
            return _jwt_subject(value)
    for pair in cookies.split(";"):
        name, _, value = pair.strip().partition("=")
        sub = _jwt_subject(value) or (_flask_session_user(value) if name == "session" else None)
        if sub:
            return sub
    return None


def _write(entry: dict) -> None:
    path = log_path()
    line = json.dumps(entry, ensure_ascii=False)
    with _LOCK, open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _text(raw: bytes, limit: int = LIMIT) -> str:
    return raw[:limit].decode("utf-8", "replace")


def _wsgi_target(environ) -> str:
    # Werkzeug sets REQUEST_URI and gunicorn RAW_URI: the path before percent-decoding.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    query = environ.get("QUERY_STRING", "")
    return environ.get("PATH_INFO", "") + ("?" + query if query else "")


def _asgi_target(scope) -> str:
    raw = (scope.get("raw_path") or scope.get("path", "").encode("utf-8")).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return raw + ("?" + query if query else "")


def wrap_wsgi(app):
    """A WSGI middleware (the Flask shop: `app.wsgi_app = wrap_wsgi(app.wsgi_app)`)."""
    if not log_path():
        return app

    def logged(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        seen = {}

        def capture(status, headers, exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            seen["location"] = next((v for k, v in headers if k.lower() == "location"), None)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = app(environ, capture)
        try:
            chunks = list(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        method = environ["REQUEST_METHOD"]
        wsgi_headers = [
            [key[5:].replace("_", "-").lower(), value] for key, value in environ.items() if key.startswith("HTTP_")
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                wsgi_headers.append([key.replace("_", "-").lower(), environ[key]])
        _write(
            {
                "method": method,
                "path": environ.get("PATH_INFO", ""),
                "query": environ.get("QUERY_STRING", ""),
                "who": _who(environ.get("HTTP_AUTHORIZATION", ""), environ.get("HTTP_COOKIE", ""), environ.get("QUERY_STRING", "")),
                "status": seen.get("status"),
                "location": seen.get("location"),
                "body": _text(body),
                "answer": "" if method in READS else _text(b"".join(chunks), ANSWER_LIMIT),
                **_replay_fields(_wsgi_target(environ), wsgi_headers, body),
            }
        )
        return chunks

    return logged


def wrap_asgi(app):
    """An ASGI middleware (FastAPI, connexion)."""
    if not log_path():
        return app

    async def logged(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        request_body = bytearray()
        answer = bytearray()
        seen = {}

        async def tapped_receive():
            message = await receive()
            if message["type"] == "http.request" and (replayable() or len(request_body) < LIMIT):
                request_body.extend(message.get("body", b""))
            return message

        async def tapped_send(message):
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                for k, v in message.get("headers", []):
                    if k.decode("latin-1").lower() == "location":
                        seen["location"] = v.decode("latin-1")
            elif message["type"] == "http.response.body" and len(answer) < ANSWER_LIMIT:
                answer.extend(message.get("body", b""))
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            await app(scope, tapped_receive, tapped_send)
        finally:
            method = scope["method"]
            _write(
                {
                    "method": method,
                    "path": scope.get("path", ""),
                    "query": query,
                    "who": _who(headers.get("authorization", ""), headers.get("cookie", ""), query),
                    "status": seen.get("status"),
                    "location": seen.get("location"),
                    "body": _text(bytes(request_body)),
                    "answer": "" if method in READS else _text(bytes(answer), ANSWER_LIMIT),
                    **_replay_fields(
                        _asgi_target(scope),
                        [[k.decode("latin-1").lower(), v.decode("latin-1")] for k, v in scope.get("headers", [])],
                        bytes(request_body),
                    ),
                }
            )

    return logged
