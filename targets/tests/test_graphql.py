"""The FastAPI shop's GraphQL API, both ways: every planted flaw shows on the vulnerable build and
is fixed on the secure one (the ground truth's `graphql.*` and GraphQL entries, by hand).

Starts both builds with serve.py on free loopback ports (PostgreSQL from targets/setup.sh):

    targets/.venv/bin/python -m unittest discover -s targets/tests
"""

import json
import signal
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

TARGETS = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shop:
    """One build of the FastAPI shop, served by serve.py until `stop`."""

    def __init__(self, variant: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(TARGETS / "serve.py"), "fastapi", variant, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"fastapi {variant} did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body text); GraphQL and HTTP errors are answers too."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers, answer.read().decode()

    def token(self, username: str, password: str) -> str:
        form = urllib.parse.urlencode({"username": username, "password": password}).encode()
        status, _, text = self.request("POST", "/api/auth/token", form)
        assert status == 200, text
        return json.loads(text)["access_token"]

    def cookies(self, username: str, password: str) -> dict[str, str]:
        """The cookies the REST token sign-in sets (session JWT and csrf_token)."""
        form = urllib.parse.urlencode({"username": username, "password": password}).encode()
        _, headers, _ = self.request("POST", "/api/auth/token", form)
        jar = {}
        for header in headers.get_all("set-cookie"):
            name, _, rest = header.partition("=")
            jar[name] = rest.split(";")[0]
        return jar

    def graphql(self, query, token=None, headers=None):
        """(status, parsed JSON or text) of a JSON POST to /graphql."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        status, _, text = self.request("POST", "/graphql", json.dumps(query).encode(), sent)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text


def q(text: str) -> dict:
    return {"query": text}


def codes(answer: dict) -> list[str]:
    return [e.get("extensions", {}).get("code", e["message"]) for e in answer.get("errors", [])]


def deep_query(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = "orders { owner { " + inner + " } }"
    return "{ me { " + inner + " } }"


def count_ids(value) -> int:
    if isinstance(value, dict):
        return sum(count_ids(v) for v in value.values()) + ("id" in value)
    if isinstance(value, list):
        return sum(count_ids(v) for v in value)
    return 0


def aliased_logins(username: str, passwords: list[str]) -> str:
    fields = [f'a{i}: login(username: "{username}", password: "{p}") {{ token }}' for i, p in enumerate(passwords)]
    return "mutation { " + " ".join(fields) + " }"


class GraphQLBothWays(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vulnerable = Shop("vulnerable")
        try:
            cls.secure = Shop("secure")
        except Exception:
            cls.vulnerable.stop()
            raise
        cls.shops = {"vulnerable": cls.vulnerable, "secure": cls.secure}

    @classmethod
    def tearDownClass(cls):
        for shop in cls.shops.values():
            shop.stop()

    def test_not_in_the_openapi_document(self):
        for shop in self.shops.values():
            _, _, text = shop.request("GET", "/openapi.json")
            self.assertNotIn("graphql", text.lower())
            self.assertIn("/api/orders/{order_id}", text)

    def test_introspection(self):
        query = q("{ __schema { mutationType { fields { name } } } }")
        _, answer = self.vulnerable.graphql(query)
        names = [f["name"] for f in answer["data"]["__schema"]["mutationType"]["fields"]]
        self.assertIn("setUserRole", names)
        _, answer = self.secure.graphql(query)
        self.assertIsNone(answer["data"])
        self.assertIn("introspection has been disabled", answer["errors"][0]["message"])

    def test_field_suggestions_stay_on_in_both(self):
        for shop in self.shops.values():
            _, answer = shop.graphql(q("{ prodcts { id } }"))
            self.assertIn("Did you mean 'products'", answer["errors"][0]["message"])

    def test_console(self):
        status, headers, text = self.vulnerable.request("GET", "/graphql", headers={"Accept": "text/html"})
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn("graphiql", text.lower())
        status, _, _ = self.secure.request("GET", "/graphql", headers={"Accept": "text/html"})
        self.assertEqual(status, 404)

    def test_public_catalogue_in_both(self):
        for shop in self.shops.values():
            _, answer = shop.graphql(q('{ products(limit: 3) { id name } product(id: "1") { sku } }'))
            self.assertEqual(len(answer["data"]["products"]), 3)
            self.assertEqual(answer["data"]["product"]["sku"], "MUG-001")

    def test_bola_read(self):
        for field in ("order", "note"):
            query = q(f'{{ {field}(id: "1") {{ id owner {{ username email }} }} }}')
            for variant, shop in self.shops.items():
                with self.subTest(field=field, variant=variant):
                    _, own = shop.graphql(query, shop.token("alice", "Alice-pass-1234"))
                    self.assertEqual(own["data"][field]["owner"]["username"], "alice")
                    _, other = shop.graphql(query, shop.token("bob", "Bob-pass-1234"))
                    if variant == "vulnerable":
                        self.assertEqual(other["data"][field], own["data"][field])
                    else:
                        self.assertIsNone(other["data"][field])
                        self.assertEqual(codes(other), ["NOT_FOUND"])
                    _, anonymous = shop.graphql(query)
                    self.assertEqual(codes(anonymous), ["UNAUTHENTICATED"])

    def test_bfla(self):
        sku = f"GQL-{uuid.uuid4().hex[:8]}"
        create = q(f'mutation {{ createProduct(sku: "{sku}", name: "Test", price: 1.5, stock: 3) {{ id sku }} }}')
        role = q('mutation { setUserRole(userId: "2", role: "customer") { id role } }')
        for variant, shop in self.shops.items():
            bob = shop.token("bob", "Bob-pass-1234")
            _, created = shop.graphql(create, bob)
            _, changed = shop.graphql(role, bob)
            if variant == "vulnerable":
                product_id = created["data"]["createProduct"]["id"]
                _, read = shop.graphql(q(f'{{ product(id: "{product_id}") {{ sku }} }}'))
                self.assertEqual(read["data"]["product"]["sku"], sku)
                self.assertEqual(changed["data"]["setUserRole"]["role"], "customer")
            else:
                self.assertEqual(codes(created), ["FORBIDDEN"])
                self.assertEqual(codes(changed), ["FORBIDDEN"])
                _, by_admin = shop.graphql(create, shop.token("admin", "Admin-pass-1234"))
                self.assertEqual(by_admin["data"]["createProduct"]["sku"], sku)

    def test_missing_authentication(self):
        query = q("{ users { username email } }")
        _, answer = self.vulnerable.graphql(query)
        self.assertIn("alice@example.com", [u["email"] for u in answer["data"]["users"]])
        _, answer = self.secure.graphql(query)
        self.assertEqual((answer["data"]["users"], codes(answer)), (None, ["UNAUTHENTICATED"]))
        _, answer = self.secure.graphql(query, self.secure.token("bob", "Bob-pass-1234"))
        self.assertEqual(codes(answer), ["FORBIDDEN"])

    def test_sql_injection_and_verbose_error(self):
        quote = q("{ searchProducts(term: \"mug'\") { id } }")
        always = q("{ searchProducts(term: \"zzz%' OR '1'='1' OR name ILIKE 'zzz\") { id } }")
        _, answer = self.vulnerable.graphql(quote)
        error = answer["errors"][0]
        self.assertTrue(error["extensions"]["exception"]["type"].startswith("asyncpg.exceptions."))
        self.assertIn("Traceback (most recent call last):", error["extensions"]["exception"]["stacktrace"])
        _, answer = self.vulnerable.graphql(always)
        self.assertGreater(len(answer["data"]["searchProducts"]), 1)
        for query in (quote, always):
            _, answer = self.secure.graphql(query)
            self.assertEqual(answer, {"data": {"searchProducts": []}})

    def test_verbose_error_on_ids(self):
        query = q('{ order(id: "abc") { id } }')
        _, answer = self.vulnerable.graphql(query, self.vulnerable.token("bob", "Bob-pass-1234"))
        self.assertEqual(answer["errors"][0]["extensions"]["exception"]["type"], "builtins.ValueError")
        _, answer = self.secure.graphql(query, self.secure.token("bob", "Bob-pass-1234"))
        self.assertEqual(codes(answer), ["NOT_FOUND"])
        self.assertNotIn("exception", json.dumps(answer))

    def test_depth_limit(self):
        for variant, shop in self.shops.items():
            alice = shop.token("alice", "Alice-pass-1234")
            _, shallow = shop.graphql(q(deep_query(2)), alice)
            self.assertEqual(count_ids(shallow["data"]), 4, variant)
            _, deep = shop.graphql(q(deep_query(8)), alice)
            if variant == "vulnerable":
                # alice has two orders: each orders/owner level doubles the objects (and queries)
                self.assertEqual(count_ids(deep["data"]), 2**8)
            else:
                self.assertIsNone(deep["data"])
                self.assertIn("exceeds maximum operation depth of 6", deep["errors"][0]["message"])

    def test_alias_brute_force(self):
        guesses = [f"guess-{i}" for i in range(11)]
        for variant, shop in self.shops.items():
            with self.subTest(variant=variant):
                nobody = f"nobody{uuid.uuid4().hex[:8]}"
                _, fifty = shop.graphql(q(aliased_logins(nobody, [f"guess-{i}" for i in range(50)])))
                _, eleven = shop.graphql(q(aliased_logins(nobody, guesses)))
                batch = [q(aliased_logins(nobody, [p])) for p in ("a", "b")]
                status, batched = shop.graphql(batch)
                if variant == "vulnerable":
                    self.assertEqual(codes(fifty), ["BAD_CREDENTIALS"] * 50)
                    self.assertEqual(codes(eleven), ["BAD_CREDENTIALS"] * 11)
                    self.assertEqual((status, [codes(a) for a in batched]), (200, [["BAD_CREDENTIALS"]] * 2))
                    right = guesses[:-1] + ["Bob-pass-1234"]
                    _, found = shop.graphql(q(aliased_logins("bob", right)))
                    self.assertTrue(found["data"][f"a{len(right) - 1}"]["token"])
                else:
                    self.assertIn("50 aliases found. Allowed: 15", fifty["errors"][0]["message"])
                    self.assertEqual(codes(eleven), ["BAD_CREDENTIALS"] * 5 + ["TOO_MANY_ATTEMPTS"] * 6)
                    self.assertEqual((status, batched), (400, "Batching is not enabled"))

    def test_csrf(self):
        mutation = 'mutation { addNote(title: "from another site") { id } }'
        for variant, shop in self.shops.items():
            jar = shop.cookies("alice", "Alice-pass-1234")
            cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}
            attempts = {
                "get": ("GET", "/graphql?" + urllib.parse.urlencode({"query": mutation}), None, {}),
                "form": (
                    "POST",
                    "/graphql",
                    urllib.parse.urlencode({"query": mutation}).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"},
                ),
                "text": ("POST", "/graphql", json.dumps(q(mutation)).encode(), {"Content-Type": "text/plain"}),
            }
            for name, (method, path, body, headers) in attempts.items():
                with self.subTest(variant=variant, attempt=name):
                    status, _, text = shop.request(method, path, body, {**headers, **cookie})
                    if variant == "vulnerable":
                        self.assertEqual(status, 200, text)
                        self.assertTrue(json.loads(text)["data"]["addNote"]["id"])
                    else:
                        self.assertIn(status, (400, 403), text)
                        self.assertNotIn("addNote", text)
            if variant == "secure":
                # The shop's own front end: JSON with the double-submit header.
                _, answer = shop.graphql(q(mutation), headers={**cookie, "X-CSRF-Token": jar["csrf_token"]})
                self.assertTrue(answer["data"]["addNote"]["id"])


if __name__ == "__main__":
    unittest.main()
