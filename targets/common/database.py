"""Create, seed and drop a target's own PostgreSQL database.

Each server gets a database named after app, variant and port, so parallel test runs never share
state. The ids of seeded rows are fixed (documented in targets/README.md) because tests rely on them.
"""

import os
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from common.passwords import hash_password

SCHEMA = Path(__file__).with_name("schema.sql")

USERS = [
    # (username, password, email, full name, role)
    ("alice", "Alice-pass-1234", "alice@example.com", "Alice Anderson", "customer"),
    ("bob", "Bob-pass-1234", "bob@example.com", "Bob Brown", "customer"),
    ("admin", "Admin-pass-1234", "admin@example.com", "Shop Admin", "admin"),
]

PRODUCTS = [
    # (sku, name, description, price, stock)
    ("MUG-001", "Ceramic coffee mug", "Stoneware mug, 350 ml, dishwasher safe.", "12.50", 120),
    ("TEE-002", "Organic cotton t-shirt", "Unisex crew neck tee in organic cotton.", "24.00", 80),
    ("BAG-003", "Canvas tote bag", "Heavy canvas tote with an inner pocket.", "18.00", 60),
    ("BTL-004", "Insulated water bottle", "Steel bottle that keeps drinks cold for 24 hours.", "29.90", 45),
    ("NBK-005", "Dotted notebook", "A5 notebook, 160 dotted pages.", "9.75", 200),
    ("PEN-006", "Gel pen set", "Five gel pens in assorted colours.", "6.40", 150),
]

ORDERS = [
    # (username, product sku, quantity, status) -> ids 1..4 in this order
    ("alice", "MUG-001", 2, "shipped"),
    ("alice", "NBK-005", 1, "placed"),
    ("bob", "TEE-002", 1, "shipped"),
    ("bob", "BTL-004", 3, "placed"),
]

NOTES = [
    # (username, title, body) -> ids 1..4 in this order
    ("alice", "Gift ideas", "Mug for Dad, dotted notebook for Sam."),
    ("alice", "Return label", "Tote bag return: label printed, drop off by Friday."),
    ("bob", "Sizes", "T-shirt: M fits, L is too big."),
    ("bob", "Office order", "Ask the team about a bulk order of water bottles."),
]

ADDRESSES = [
    # (username, label, recipient, street, city, postcode, phone) -> ids 1..4 in this order
    ("alice", "Home", "Alice Anderson", "12 Rosemary Lane", "Bristol", "BS1 4QA", "+44 117 496 0123"),
    ("alice", "Work", "Alice Anderson", "Unit 5, Harbourside Studios", "Bath", "BA1 1LT", "+44 118 496 0555"),
    ("bob", "Home", "Bob Brown", "48 Kingfisher Road", "Leeds", "LS6 2BX", "+44 113 496 0456"),
    ("bob", "Parents", "Margaret Brown", "3 Old Mill Cottages", "Harrogate", "HG1 2RT", "+44 114 496 0789"),
]

STORES = [
    # (name, street, city, postcode, phone, opening hours) -> ids 1..3; shared with every customer
    ("Shop Central", "1 Market Street", "Manchester", "M1 1AA", "+44 161 496 0000", "Mon-Sat 09:00-18:00"),
    ("Shop Riverside", "22 Quayside", "Newcastle", "NE1 3DX", "+44 191 498 0101", "Mon-Sun 10:00-17:00"),
    ("Shop Outlet", "Unit 9, Fairfield Park", "Cardiff", "CF10 4AB", "+44 29 2018 0202", "Thu-Sun 10:00-16:00"),
]


def _server() -> dict:
    server = {
        "host": os.environ.get("MB_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("MB_PG_PORT", "5432")),
        "user": os.environ.get("MB_PG_USER", "postgres"),
    }
    if os.environ.get("MB_PG_PASSWORD"):  # e.g. a CI service container; locally trust auth is used
        server["password"] = os.environ["MB_PG_PASSWORD"]
    return server


def database_name(app: str, variant: str, port: int) -> str:
    return f"mb_{app}_{variant}_{port}"


def dsn(dbname: str) -> str:
    s = _server()
    credentials = quote(s["user"], safe="") + (f":{quote(s['password'], safe='')}" if "password" in s else "")
    return f"postgresql://{credentials}@{s['host']}:{s['port']}/{dbname}"


def _admin_connect() -> psycopg.Connection:
    return psycopg.connect(dbname="postgres", autocommit=True, **_server())


def drop(dbname: str) -> None:
    with _admin_connect() as conn:
        # FORCE ends connections a killed worker may have left behind (PostgreSQL 13+).
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def create(dbname: str, schema: Path = SCHEMA, seed=None) -> None:
    """Recreate `dbname` from scratch, apply `schema` and seed it.

    The defaults are the shops' schema and data; another app passes its own schema file and a
    `seed(conn)` function (connexion_clinic does).
    """
    drop(dbname)
    with _admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    with psycopg.connect(dsn(dbname)) as conn:
        conn.execute(schema.read_text())
        (seed or _seed)(conn)


def reseed(conn: psycopg.Connection) -> None:
    """Empty every table of the shops' schema and seed it again (the demo reset of
    flask_shop/maintenance.py and fastapi_shop/maintenance.py): every row anyone added is gone,
    the seeded rows come back with their fixed ids."""
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [r[0] for r in cur.fetchall()]
        cur.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
        )
        _seed(conn)


def reseed_dsn(url: str) -> None:
    """`reseed` on its own connection to `url` (for the asyncpg app)."""
    with psycopg.connect(url) as conn:
        reseed(conn)


def _seed(conn: psycopg.Connection) -> None:
    with conn.cursor() as cur:
        for username, password, email, full_name, role in USERS:
            cur.execute(
                "INSERT INTO users (username, email, full_name, password_hash, role)"
                " VALUES (%s, %s, %s, %s, %s)",
                (username, email, full_name, hash_password(password), role),
            )
        cur.executemany(
            "INSERT INTO products (sku, name, description, price, stock) VALUES (%s, %s, %s, %s, %s)",
            PRODUCTS,
        )
        for username, sku, quantity, status in ORDERS:
            cur.execute(
                "INSERT INTO orders (user_id, product_id, quantity, unit_price, total, status)"
                " SELECT u.id, p.id, %s, p.price, p.price * %s, %s"
                " FROM users u, products p WHERE u.username = %s AND p.sku = %s",
                (quantity, quantity, status, username, sku),
            )
        for username, title, body in NOTES:
            cur.execute(
                "INSERT INTO notes (user_id, title, body) SELECT id, %s, %s FROM users WHERE username = %s",
                (title, body, username),
            )
        for username, label, recipient, street, city, postcode, phone in ADDRESSES:
            cur.execute(
                "INSERT INTO addresses (user_id, label, recipient, street, city, postcode, phone)"
                " SELECT id, %s, %s, %s, %s, %s, %s FROM users WHERE username = %s",
                (label, recipient, street, city, postcode, phone, username),
            )
        cur.executemany(
            "INSERT INTO stores (name, street, city, postcode, phone, opening_hours)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            STORES,
        )
