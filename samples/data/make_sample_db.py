#!/usr/bin/env python3
"""Create the deterministic sample SQLite database used by the datasync quickstart.

    python3 samples/data/make_sample_db.py samples/data/shop.db [--rows N] [--seed S]

N is the number of rows of the largest table (`orders`, default 60000); the
other tables scale with it (order_items N/2, events N/6, customers N/12,
products N/30, stock_levels N/60), so the default database holds 108,000 rows.
The same N and S always produce the same data.  An existing OUT file is
replaced.  Python standard library only.  See samples/data/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import sys
import time

INT64_MAX = 9223372036854775807
INT64_MIN = -9223372036854775808

SCHEMA = """
CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,          -- rowid alias
    email           TEXT    NOT NULL UNIQUE,
    first_name      TEXT    NOT NULL,
    last_name       TEXT    NOT NULL,
    city            TEXT,                         -- ~10% NULL
    country_code    TEXT,                         -- ~10% NULL
    is_active       BOOLEAN NOT NULL,             -- 0/1
    birth_date      DATE,                         -- 'YYYY-MM-DD', ~10% NULL
    created_at      DATETIME NOT NULL,            -- 'YYYY-MM-DD HH:MM:SS'
    credit_limit    REAL,                         -- ~10% NULL
    loyalty_points  INTEGER NOT NULL,             -- may be negative
    avatar          BLOB,                         -- ~10% NULL, some empty
    notes           TEXT                          -- mostly NULL; '', quotes, newlines, emoji
);

CREATE TABLE products (
    id              INTEGER PRIMARY KEY,
    sku             TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    category        TEXT,                         -- ~10% NULL
    price           REAL    NOT NULL,
    weight_kg       DOUBLE,                       -- ~10% NULL
    stock           INTEGER NOT NULL,             -- negative = backorder
    is_discontinued BOOLEAN NOT NULL,
    released_on     DATE,                         -- ~10% NULL
    thumbnail       BLOB                          -- ~10% NULL, some empty
);

CREATE TABLE orders (
    id              INTEGER PRIMARY KEY,
    customer_id     INTEGER NOT NULL REFERENCES customers(id),
    status          TEXT    NOT NULL,
    ordered_at      DATETIME NOT NULL,
    shipped_on      DATE,                         -- NULL unless shipped/delivered
    total           REAL    NOT NULL,
    discount        REAL,                         -- ~70% NULL
    is_gift         BOOLEAN NOT NULL,
    external_ref    BIGINT,                       -- ~10% NULL; int64 extremes
    note            TEXT                          -- mostly NULL
);

CREATE TABLE order_items (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    product_id      INTEGER NOT NULL REFERENCES products(id),
    quantity        INTEGER NOT NULL,             -- negative = return
    unit_price      REAL    NOT NULL,
    line_total      DOUBLE  NOT NULL
);

CREATE TABLE events (
    id              INTEGER PRIMARY KEY,
    occurred_at     DATETIME NOT NULL,
    kind            TEXT    NOT NULL,
    customer_id     INTEGER REFERENCES customers(id),  -- ~10% NULL (anonymous)
    seq             BIGINT  NOT NULL,             -- int64 extremes and boundaries
    value           DOUBLE,                       -- ~10% NULL; REAL extremes
    payload         TEXT,                         -- JSON text, ~10% NULL
    raw             BLOB                          -- ~10% NULL, some empty, zero bytes
);

CREATE TABLE stock_levels (
    warehouse       TEXT    NOT NULL,
    product_id      INTEGER NOT NULL REFERENCES products(id),
    quantity        INTEGER NOT NULL,
    reorder_level   INTEGER,                      -- ~10% NULL
    last_counted    DATETIME,                     -- ~10% NULL
    PRIMARY KEY (warehouse, product_id)
) WITHOUT ROWID;

CREATE INDEX orders_customer_id_idx     ON orders(customer_id);
CREATE INDEX order_items_order_id_idx   ON order_items(order_id);
CREATE INDEX events_occurred_at_idx     ON events(occurred_at);
"""

# Storage classes each declared type may hold (besides NULL).  DATE/DATETIME
# have NUMERIC affinity in SQLite but are stored as ISO-8601 TEXT by design.
EXPECTED_STORAGE = {
    "INTEGER": {"integer"}, "BIGINT": {"integer"}, "BOOLEAN": {"integer"},
    "REAL": {"real"}, "DOUBLE": {"real"},
    "TEXT": {"text"}, "DATE": {"text"}, "DATETIME": {"text"},
    "BLOB": {"blob"},
}

FIRST_NAMES = [
    "Zoë", "José", "Ørjan", "Đorđe", "Renée", "Łukasz", "Ana", "John", "Mary", "Wei",
    "Søren", "Ömer", "Siobhán", "Nguyễn", "Yūko", "Aleksandr", "Chloé", "Émile", "Björk",
    "Илья", "Δημήτρης", "Ahmed", "Priya", "Kofi", "Mia", "Liam", "Noah", "Emma",
    "太郎", "花子", "민준", "David", "Sarah", "Fatima",
]
LAST_NAMES = [
    "Müller", "García", "O'Brien", "Smith", "Kowalski", "Dvořák", "Nguyen", "Østergaard",
    "Johnson", "Brown", "Rossi", "Dubois", "Schäfer", "Yılmaz", "Иванов", "Παπαδόπουλος",
    "山田", "佐藤", "김", "כהן", "عبدالله", "Van der Berg", "de la Cruz", "D'Angelo",
    "Łęcki", "Jones", "Williams", "Taylor", "Lee", "Patel",
]
CITIES = [
    ("Zürich", "CH"), ("東京", "JP"), ("São Paulo", "BR"), ("Kraków", "PL"),
    ("Reykjavík", "IS"), ("New York", "US"), ("תל אביב", "IL"), ("München", "DE"),
    ("Москва", "RU"), ("القاهرة", "EG"), ("Seoul", "KR"), ("Montréal", "CA"),
    ("London", "GB"), ("Paris", "FR"), ("Amsterdam", "NL"), ("Mumbai", "IN"),
]
NOTES = [
    "", "VIP 🚀", "שלום", "He said \"hi\", then left", "line one\nline two",
    "tab\tseparated", "O'Reilly, Inc.", "backslash \\ and percent %", "Zoë 東京 🚀 שלום",
    "   leading and trailing spaces   ", "semi;colon", "Ünïcödé ✓", "NULL", "null",
]
ADJECTIVES = ["Classic", "Deluxe", "Eco", "Smart", "Mini", "Ultra", "Vintage",
              "Crème", "Größe", "Café", "東京", "Nordic", "Rocket 🚀", "Señor"]
NOUNS = ["Mug", "Lamp", "Chair", "Backpack", "Notebook", "Kettle", "Headphones",
         "Sneakers", "Teapot", "Blanket", "Ramen Bowl", "Brûlée Torch", "Umbrella"]
CATEGORIES = ["Kitchen", "Home", "Office", "Outdoor", "Audio", "Apparel", "Café & Tee"]
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
EVENT_KINDS = ["page_view", "click", "signup", "add_to_cart", "purchase", "error"]
WAREHOUSES = ["AMS-1", "BER-2", "東京-3", "São Paulo", "Zürich-Süd"]

# Values every run includes, so consumers can test their edge-case handling.
BIGINT_EDGES = [INT64_MAX, INT64_MIN, 0, -1, 1, 2**31 - 1, -2**31, 2**32,
                2**53 + 1, -(2**53 + 1), INT64_MAX - 1, INT64_MIN + 1]
REAL_EDGES = [1e308, -1e308, -0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
              1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1 / 3,
              3.141592653589793, 1e-10, 123456789.123456789]

BASE_TIME = dt.datetime(2022, 1, 1)
SPAN_SECONDS = 3 * 365 * 24 * 3600  # timestamps 2022-01-01 .. 2024-12-31


class Gen:
    """All randomness flows through one seeded generator: same seed, same data."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def maybe(self, value, null_ratio: float = 0.1):
        return None if self.r.random() < null_ratio else value

    def datetime(self) -> dt.datetime:
        return BASE_TIME + dt.timedelta(seconds=self.r.randrange(SPAN_SECONDS))

    def ts(self) -> str:
        return self.datetime().strftime("%Y-%m-%d %H:%M:%S")

    def date(self, start_year=1940, years=65) -> str:
        d = dt.date(start_year, 1, 1) + dt.timedelta(days=self.r.randrange(years * 365))
        return d.isoformat()

    def blob(self, max_len: int = 48) -> bytes:
        """Random bytes, ~10% empty, most with at least one embedded zero byte."""
        if self.r.random() < 0.1:
            return b""
        b = bytearray(self.r.randbytes(self.r.randint(1, max_len)))
        if self.r.random() < 0.8:
            b[self.r.randrange(len(b))] = 0
        return bytes(b)

    def money(self, lo: float, hi: float) -> float:
        return round(self.r.uniform(lo, hi), 2)


def gen_customers(g: Gen, n: int):
    r = g.r
    for i in range(1, n + 1):
        city, country = r.choice(CITIES)
        # Row 1 is a fixed showcase row; the rest are random.
        if i == 1:
            yield (1, "zoe.muller@example.com", "Zoë", "Müller", "東京", "JP", 1,
                   "1990-02-28", "2022-01-01 00:00:00", 1e6, -42, b"\x00\x01\x02\x00", "VIP 🚀 שלום")
            continue
        null_city = r.random() < 0.1
        yield (
            i,
            f"customer{i:06d}@example.com",
            r.choice(FIRST_NAMES),
            r.choice(LAST_NAMES),
            None if null_city else city,
            g.maybe(country),
            1 if r.random() < 0.85 else 0,
            g.maybe(g.date()),
            g.ts(),
            g.maybe(g.money(-500, 20000)),
            r.randint(-1000, 100000),
            g.maybe(g.blob(64)),
            r.choice(NOTES) if r.random() < 0.2 else None,
        )


def gen_products(g: Gen, n: int):
    r = g.r
    for i in range(1, n + 1):
        yield (
            i,
            f"SKU-{i:06d}",
            f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)}",
            g.maybe(r.choice(CATEGORIES)),
            g.money(0.5, 999.99) if i != 1 else 0.0,
            g.maybe(round(r.uniform(0.01, 50.0), 3)),
            r.randint(-20, 500),
            1 if r.random() < 0.1 else 0,
            g.maybe(g.date(2015, 10)),
            g.maybe(g.blob(96)),
        )


def gen_orders(g: Gen, n: int, n_customers: int):
    r = g.r
    for i in range(1, n + 1):
        status = r.choice(STATUSES)
        ordered = g.datetime()
        shipped = None
        if status in ("shipped", "delivered"):
            shipped = (ordered + dt.timedelta(days=r.randint(0, 14))).date().isoformat()
        if i <= len(BIGINT_EDGES):
            ext = BIGINT_EDGES[i - 1]
        else:
            ext = g.maybe(r.randint(INT64_MIN, INT64_MAX))
        total = g.money(-200, 5000) if status == "refunded" else g.money(0, 5000)
        yield (
            i,
            r.randint(1, n_customers),
            status,
            ordered.strftime("%Y-%m-%d %H:%M:%S"),
            shipped,
            total,
            g.money(0, 50) if r.random() < 0.3 else None,
            1 if r.random() < 0.05 else 0,
            ext,
            r.choice(NOTES) if r.random() < 0.05 else None,
        )


def gen_order_items(g: Gen, n: int, n_orders: int, prices: list[float]):
    r = g.r
    for i in range(1, n + 1):
        product = r.randint(1, len(prices))
        qty = r.randint(1, 10) if r.random() < 0.97 else -r.randint(1, 3)
        unit = prices[product - 1]
        yield (i, r.randint(1, n_orders), product, qty, unit, round(qty * unit, 2))


def gen_events(g: Gen, n: int, n_customers: int):
    r = g.r
    for i in range(1, n + 1):
        kind = r.choice(EVENT_KINDS)
        seq = BIGINT_EDGES[i - 1] if i <= len(BIGINT_EDGES) else r.randint(-2**62, 2**62)
        if i <= len(REAL_EDGES):
            value = REAL_EDGES[i - 1]
        else:
            value = g.maybe(r.gauss(100.0, 250.0))
        payload = g.maybe(json.dumps(
            {"kind": kind, "n": i, "tags": r.sample(["a", "ß", "東京", "🚀", "שלום"], 2),
             "ok": r.random() < 0.5, "score": round(r.random(), 4)},
            ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        if i == 1:
            raw = b"\x00" * 16          # all zero bytes
        elif i == 2:
            raw = b""                   # empty, not NULL
        else:
            raw = g.maybe(g.blob(128))
        yield (i, g.ts(), kind, g.maybe(r.randint(1, n_customers)), seq, value, payload, raw)


def gen_stock_levels(g: Gen, per_warehouse: int):
    r = g.r
    for wh in WAREHOUSES:
        for p in range(1, per_warehouse + 1):
            yield (wh, p, r.randint(-5, 1000), g.maybe(r.randint(0, 50)), g.maybe(g.ts()))


def check_storage_classes(con: sqlite3.Connection) -> None:
    """Assert every non-NULL value's storage class matches its declared type."""
    tables = [t for (t,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        for _, col, decl, *_ in con.execute(f'PRAGMA table_info("{table}")'):
            base = decl.split("(")[0].strip().upper()
            allowed = EXPECTED_STORAGE[base]
            placeholders = ",".join("?" * len(allowed))
            bad = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{col}" IS NOT NULL '
                f'AND typeof("{col}") NOT IN ({placeholders})', sorted(allowed)).fetchone()[0]
            if bad:
                raise SystemExit(f"internal error: {table}.{col} ({decl}) has {bad} values "
                                 f"not stored as {sorted(allowed)}")


def build(path: str, rows: int, seed: int) -> dict[str, int]:
    g = Gen(seed)
    n_orders = rows
    n_items = max(10, rows // 2)
    n_events = max(len(REAL_EDGES), rows // 6)
    n_customers = max(10, rows // 12)
    n_products = max(10, rows // 30)
    per_warehouse = min(n_products, max(1, rows // 300))

    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = OFF")   # fresh temp file: no journal needed
        con.execute("PRAGMA synchronous = OFF")
        con.executescript(SCHEMA)
        con.execute("BEGIN")
        ins = lambda table, ncols, data: con.executemany(  # noqa: E731
            f"INSERT INTO {table} VALUES ({','.join('?' * ncols)})", data)
        ins("customers", 13, gen_customers(g, n_customers))
        products = list(gen_products(g, n_products))
        ins("products", 10, products)
        ins("orders", 10, gen_orders(g, n_orders, n_customers))
        ins("order_items", 6, gen_order_items(g, n_items, n_orders, [p[4] for p in products]))
        ins("events", 8, gen_events(g, n_events, n_customers))
        ins("stock_levels", 5, gen_stock_levels(g, per_warehouse))
        con.execute("PRAGMA user_version = 1")
        con.execute("COMMIT")
        con.execute("ANALYZE")
        check_storage_classes(con)
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in
                  ("customers", "products", "orders", "order_items", "events", "stock_levels")}
        fk = con.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            raise SystemExit(f"internal error: foreign key violations: {fk[:5]}")
    finally:
        con.close()
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", metavar="OUT.db", help="database file to create (replaced if present)")
    ap.add_argument("--rows", type=int, default=60000, metavar="N",
                    help="rows in the largest table, orders (default 60000 -> 108,000 rows total)")
    ap.add_argument("--seed", type=int, default=42, metavar="S", help="random seed (default 42)")
    args = ap.parse_args(argv)
    if args.rows < 20:
        ap.error("--rows must be at least 20")

    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = f"{out}.tmp-{os.getpid()}"
    started = time.monotonic()
    try:
        counts = build(tmp, args.rows, args.seed)
        # A leftover journal/WAL of the old file would be applied to the new one.
        for suffix in ("-journal", "-wal", "-shm"):
            try:
                os.remove(out + suffix)
            except FileNotFoundError:
                pass
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    size = os.path.getsize(out)
    total = sum(counts.values())
    detail = ", ".join(f"{t} {n:,}" for t, n in counts.items())
    print(f"{args.out}: {len(counts)} tables, {total:,} rows, {size:,} bytes "
          f"(seed {args.seed}; {detail}; {time.monotonic() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
