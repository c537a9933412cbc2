"""A hostile HTTP server for middlebrick's own tests (issue 16): it misbehaves on purpose, one way
per case, so the tests can show that every scan of it ends within its limits with an honest report.

    python3 targets/hostile/server.py <case> --port N [--die-after N] [--token T] [--canary C]

Loopback only, standard library only (no database: what is hostile here is the transport, not
the application). Each case serves its own OpenAPI description at /openapi.json and answers
GET /health. Cases:

  redirects  redirects to the cloud metadata address, to another host, and in a loop
  bodies     a 64 MB answer, a gzip bomb, 0.7 MB of JSON with 100,000 keys, JSON nested 100,000 deep
  slow       an answer dripped one byte a second, a request never answered, a connection reset
  dies       answers normally, then exits after --die-after requests (later connections refused)
  regex      single-threaded; GET /names/{name} checks the name with a catastrophically
             backtracking pattern, so one long name freezes the whole server for seconds
  regex-secure  the secure twin: the same server and pattern, the length checked first
  catchall   a single-page app's server: every path it does not know (/metrics, /admin, /api/v1/…,
             random ones) answers 200 with the same HTML page naming the path; only /api/items and
             /api/orders answer JSON. The inventory checks must find nothing there
  canary     sign-in issues --token; every answer echoes the secrets it was sent (bodies,
             headers, a redirect URL, a stack trace, cut by long padding) so the test can grep
             every artifact for them
"""

import argparse
import gzip
import json
import os
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# FLAW (regex case): nested quantifiers; a run of letters without the final digit takes
# exponential time to reject. The name's length is checked only afterwards.
NAME_PATTERN = re.compile(r"^([a-z]+)+[0-9]$")
NAME_MAX = 26


def _op(summary, params=None, responses=None, security=None, body=None):
    op = {"summary": summary, "responses": responses or {"200": {"description": "ok"}}}
    if params:
        op["parameters"] = params
    if security is not None:
        op["security"] = security
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _spec(case):
    paths = {
        "/health": {"get": _op("Liveness")},
        "/items": {"get": _op("List items", params=[{"name": "q", "in": "query", "schema": {"type": "string"}}])},
    }
    if case == "redirects":
        paths["/go"] = {"get": _op("Redirects to the metadata address")}
        paths["/away"] = {"get": _op("Redirects to another host")}
        paths["/loop"] = {"get": _op("Redirects to itself")}
    elif case == "bodies":
        for p in ("/huge", "/gzip", "/json-huge", "/json-deep"):
            paths[p] = {"get": _op("Hostile body " + p)}
    elif case == "slow":
        for p in ("/drip", "/hang", "/reset"):
            paths[p] = {"get": _op("Hostile transport " + p)}
    elif case in ("regex", "regex-secure"):
        name = {"type": "string", "maxLength": NAME_MAX, "example": "alice1"}
        paths["/names/{name}"] = {
            "get": _op("Checks a name", params=[{"name": "name", "in": "path", "required": True, "schema": name}])
        }
    elif case == "catchall":
        paths["/api/items"] = {"get": _op("List items (JSON)")}
        paths["/api/orders"] = {"get": _op("List orders (JSON)")}
    elif case == "canary":
        creds = {
            "type": "object",
            "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        }
        paths["/login"] = {"post": _op("Sign in", body=creds, security=[])}
        bearer = [{"bearer": []}]
        paths["/me"] = {"get": _op("Who am I (echoes what it was sent)", security=bearer)}
        paths["/bounce"] = {"get": _op("Redirects with the token in the URL", security=bearer)}
        paths["/landing"] = {"get": _op("Where /bounce lands", security=bearer)}
        paths["/orders/{id}"] = {
            "get": _op(
                "An order (a malformed id answers a stack trace)",
                params=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                security=bearer,
            )
        }
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "hostile " + case, "version": "1"},
        "paths": paths,
    }
    if case == "canary":
        spec["components"] = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    return spec


def _gzip_bomb():
    # 64 MB of zeros compress to about 64 KB; a client that inflated it would hold all of it.
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


def _json_huge():
    return ("{" + ",".join(f'"k{i:05d}":1' for i in range(100_000)) + "}").encode()


def _json_deep():
    return ("[" * 100_000 + "]" * 100_000).encode()


class Handler(BaseHTTPRequestHandler):
    server_version = "hostile/1"
    case = "redirects"
    token = "tok"
    canary = "canary"
    die_after = 0
    served = 0
    lock = threading.Lock()
    bodies = {}

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.command, self.path))

    def _send(self, status, body=b"", ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, value, headers=()):
        self._send(status, json.dumps(value).encode(), headers=headers)

    def _count(self):
        with Handler.lock:
            Handler.served += 1
            return Handler.served

    def do_GET(self):
        n = self._count()
        path = urlsplit(self.path).path
        if path == "/openapi.json":
            self._json(200, _spec(self.case))
        elif path == "/health":
            self._json(200, {"status": "ok"})
        elif path == "/items":
            self._json(200, [{"id": 1, "name": "one1"}, {"id": 2, "name": "two2"}])
        else:
            getattr(self, "_" + self.case.split("-")[0])(path)
        if self.die_after and n >= self.die_after:
            self.wfile.flush()
            os._exit(0)

    def do_POST(self):
        self._count()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.case == "canary" and urlsplit(self.path).path == "/login":
            try:
                creds = json.loads(raw or b"{}")
            except ValueError:
                creds = {}
            if creds.get("password") == self.canary_password:
                self._json(200, {"token": self.token})
            else:
                self._json(401, {"error": "bad credentials"})
            return
        self._json(404, {"error": "not found"})

    # --- cases -------------------------------------------------------------------------------

    def _redirects(self, path):
        where = {
            "/go": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "/away": "http://example.com/",
            "/loop": "/loop",
        }.get(path)
        if where:
            self._send(302, b"", headers=[("Location", where)])
        else:
            self._json(404, {"error": "not found"})

    def _bodies(self, path):
        if path == "/huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(64 * 1024 * 1024))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(1024):
                    self.wfile.write(chunk)
            except OSError:
                pass
        elif path == "/gzip":
            self._send(200, self.bodies["gzip"], headers=[("Content-Encoding", "gzip")])
        elif path == "/json-huge":
            self._send(200, self.bodies["json-huge"])
        elif path == "/json-deep":
            self._send(200, self.bodies["json-deep"])
        else:
            self._json(404, {"error": "not found"})

    def _slow(self, path):
        if path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100_000):
                    self.wfile.write(b".")
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif path == "/hang":
            time.sleep(3600)
        elif path == "/reset":
            # SO_LINGER with a zero timeout: close() sends a RST instead of a FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        else:
            self._json(404, {"error": "not found"})

    def _dies(self, path):
        self._json(404, {"error": "not found"})

    def _regex(self, path):
        if path.startswith("/names/"):
            name = path[len("/names/"):]
            if self.case == "regex-secure" and len(name) > NAME_MAX:
                # The fix: the length is checked before the pattern sees the input.
                self._json(400, {"error": "too long"})
            elif not NAME_PATTERN.match(name):
                self._json(400, {"error": "a name is letters and one digit"})
            elif len(name) > NAME_MAX:
                self._json(400, {"error": "too long"})
            else:
                self._json(200, {"name": name})
        else:
            self._json(404, {"error": "not found"})

    def _catchall(self, path):
        if path in ("/api/items", "/api/orders"):
            self._json(200, [{"id": 1, "name": "one1"}, {"id": 2, "name": "two2"}])
            return
        page = (
            "<!DOCTYPE html><html><head><title>Shop</title><script src=\"/static/app.js\"></script>"
            f"</head><body><div id=\"app\" data-route=\"{path}\"></div></body></html>"
        )
        self._send(200, page.encode(), ctype="text/html; charset=utf-8")

    def _canary(self, path):
        auth = self.headers.get("Authorization", "")
        if auth != "Bearer " + self.token:
            self._json(401, {"error": "sign in"})
            return
        sent = {k: v for k, v in self.headers.items()}
        echo = [("X-Echo-Authorization", auth), ("X-Echo-Cookie", self.headers.get("Cookie", ""))]
        if path == "/me":
            # The secrets it was sent, whole, then cut by padding that ends inside each.
            pad = "p" * (8 * 1024 - 7)
            cut = {k: pad + v[: len(v) // 2] for k, v in sent.items()}
            self._json(200, {"user": "alice", "sent": sent, "padded": cut}, headers=echo)
        elif path == "/bounce":
            self._send(302, b"", headers=[("Location", "/landing?token=" + self.token + "&c=" + self.canary)])
        elif path == "/landing":
            self._json(200, {"landed": urlsplit(self.path).query}, headers=echo)
        elif path.startswith("/orders/"):
            raw = path[len("/orders/"):]
            if raw.isdigit():
                self._json(200, {"id": int(raw), "owner": "alice"})
                return
            trace = (
                "Traceback (most recent call last):\n"
                '  File "/srv/app/orders.py", line 12, in get_order\n'
                f"    cur.execute(\"SELECT * FROM orders WHERE id = %s AND token = '{self.token}'\", (raw,))\n"
                f"psycopg.errors.InvalidTextRepresentation: invalid input syntax for type integer: \"{raw}\" "
                f"(session {self.token}, cookie {self.headers.get('Cookie', '')})\n"
            )
            self._send(500, trace.encode(), ctype="text/plain", headers=echo)
        else:
            self._json(404, {"error": "not found"})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=("redirects", "bodies", "slow", "dies", "regex", "regex-secure", "canary", "catchall"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--die-after", type=int, default=0)
    parser.add_argument("--token", default="hostile-token-0123456789abcdef")
    parser.add_argument("--canary", default="hostile-canary-0123456789")
    parser.add_argument("--password", default="hostile-password-0123456789")
    args = parser.parse_args()
    Handler.case = args.case
    Handler.token = args.token
    Handler.canary = args.canary
    Handler.canary_password = args.password
    Handler.die_after = args.die_after if args.case == "dies" else 0
    if args.case == "bodies":
        Handler.bodies = {"gzip": _gzip_bomb(), "json-huge": _json_huge(), "json-deep": _json_deep()}
    # The regex case is one process, one thread: one stuck request stops every other.
    server_class = HTTPServer if args.case.startswith("regex") else ThreadingHTTPServer
    server_class.daemon_threads = True
    server = server_class(("127.0.0.1", args.port), Handler)
    server.request_queue_size = 64
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
