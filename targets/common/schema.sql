-- Schema shared by both shop targets. Lengths and CHECKs are real constraints: the secure apps
-- validate before the database has to refuse anything.

CREATE TABLE users (
    id            serial PRIMARY KEY,
    username      varchar(32)  NOT NULL UNIQUE,
    email         varchar(254) NOT NULL,
    full_name     varchar(100) NOT NULL DEFAULT '',
    password_hash text         NOT NULL,
    role          varchar(16)  NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at    timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id          serial PRIMARY KEY,
    sku         varchar(32)   NOT NULL UNIQUE,
    name        varchar(120)  NOT NULL,
    description text          NOT NULL DEFAULT '',
    price       numeric(10,2) NOT NULL CHECK (price >= 0),
    stock       integer       NOT NULL CHECK (stock >= 0),
    search      tsvector GENERATED ALWAYS AS (to_tsvector('english', name || ' ' || description)) STORED
);

CREATE TABLE orders (
    id         serial PRIMARY KEY,
    user_id    integer       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id integer       NOT NULL REFERENCES products (id),
    quantity   integer       NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    unit_price numeric(10,2) NOT NULL,
    total      numeric(10,2) NOT NULL,
    status     varchar(16)   NOT NULL DEFAULT 'placed',
    created_at timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_id ON orders (user_id);

CREATE TABLE notes (
    id         serial PRIMARY KEY,
    user_id    integer      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      varchar(200) NOT NULL,
    body       text         NOT NULL DEFAULT '',
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX notes_user_id ON notes (user_id);

-- Per-user preferences (newsletter opt-in, a note for the courier); a row appears on first save.
CREATE TABLE preferences (
    user_id       integer      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    newsletter    boolean      NOT NULL DEFAULT false,
    delivery_note varchar(200) NOT NULL DEFAULT ''
);

-- Saved delivery addresses: private to their owner.
CREATE TABLE addresses (
    id         serial PRIMARY KEY,
    user_id    integer      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label      varchar(40)  NOT NULL,
    recipient  varchar(100) NOT NULL,
    street     varchar(200) NOT NULL,
    city       varchar(100) NOT NULL,
    postcode   varchar(16)  NOT NULL,
    country    char(2)      NOT NULL DEFAULT 'GB',
    phone      varchar(32)  NOT NULL DEFAULT '',
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX addresses_user_id ON addresses (user_id);

-- Shop locations: every signed-in customer may read every store (shared by design).
CREATE TABLE stores (
    id            serial PRIMARY KEY,
    name          varchar(120) NOT NULL,
    street        varchar(200) NOT NULL,
    city          varchar(100) NOT NULL,
    postcode      varchar(16)  NOT NULL,
    phone         varchar(32)  NOT NULL,
    opening_hours varchar(120) NOT NULL
);

-- Wallet: transfers out of the account (with an idempotency key) and welcome coupons that add
-- credit. The unique index is what the secure builds rely on; the vulnerable ones never fill the
-- key in, and NULLs never collide.
CREATE TABLE wallets (
    user_id integer       PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    credit  numeric(10,2) NOT NULL DEFAULT 0
);
CREATE TABLE transfers (
    id              serial PRIMARY KEY,
    user_id         integer       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount          numeric(10,2) NOT NULL,
    recipient       varchar(100)  NOT NULL,
    reference       varchar(140)  NOT NULL DEFAULT '',
    idempotency_key varchar(100),
    created_at      timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE TABLE coupons (
    code     varchar(40)   PRIMARY KEY,
    user_id  integer       NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount   numeric(10,2) NOT NULL,
    redeemed boolean       NOT NULL DEFAULT false
);

-- Authentication state (issue 3). Kept in the database, not in process memory, because the secure
-- Flask build runs two gunicorn workers and every worker must see the same sessions and counters.

-- Server-side browser sessions of the cookie sign-in (`sid` cookie). A row with no user is the
-- anonymous session a visitor gets before signing in.
CREATE TABLE web_sessions (
    sid        varchar(64) PRIMARY KEY,
    user_id    integer     REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Failed sign-in (and reset-code) attempts, for the limiters: one row per failure, keyed by what
-- the limiter counts (`user:<name>`, `ip:<addr>`, `reset:<name>` ...).
CREATE TABLE auth_failures (
    id         bigserial   PRIMARY KEY,
    key        varchar(300) NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_failures_key ON auth_failures (key, failed_at);

-- Tokens revoked by sign-out (the `jti` claim), until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        varchar(64) PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- Password-reset codes. `code_hash` is what the secure build stores; the vulnerable one stores
-- the code itself there.
CREATE TABLE password_resets (
    id         serial      PRIMARY KEY,
    user_id    integer     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  varchar(128) NOT NULL,
    used       boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Saved payment cards, under their account's path (/api/users/{user_id}/cards): a nickname and the
-- holder's name only; card numbers never reach the shop.
CREATE TABLE cards (
    id         serial       PRIMARY KEY,
    user_id    integer      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    nickname   varchar(60)  NOT NULL,
    holder     varchar(100) NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX cards_user_id ON cards (user_id);

-- Shopping lists. The single-page front end sends the owner's id with every new list.
CREATE TABLE shopping_lists (
    id         serial       PRIMARY KEY,
    user_id    integer      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       varchar(80)  NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX shopping_lists_user_id ON shopping_lists (user_id);

-- Bookmarked products: the caller's own, listed a page at a time (issue 20's page-size cap).
CREATE TABLE bookmarks (
    id         serial PRIMARY KEY,
    user_id    integer      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id integer      NOT NULL REFERENCES products (id),
    note       varchar(200) NOT NULL DEFAULT '',
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX bookmarks_user_id ON bookmarks (user_id);
