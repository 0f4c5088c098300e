"""Shared helpers of the Python binding tests (imported as `helpers`).

The tests import the *installed* datasync package (``pip install .[test]``
first); they never import bindings/python/datasync from the source tree.
"""

from __future__ import annotations

import sqlite3
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

# Rows of the reference "orders" table: several types, NULLs, non-ASCII text,
# blobs (including bytes that are not UTF-8 and an empty blob), extremes.
ORDERS_COLUMNS = ("id", "customer", "qty", "price", "note", "payload")
ORDERS_ROWS: List[Tuple[Any, ...]] = [
    (1, "Zoë Ångström", 3, 9.99, "first", b"\x00\x01\x02"),
    (2, "José Müller", 0, 0.0, None, None),
    (3, "北京市 客户", -7, -1.5, "emoji \U0001F680 ok", b"\xff\xfe\xfd"),
    (4, "O'Brien \"quoted\"", 2**62, 1e300, "", b""),
    (5, None, None, None, None, b"x" * 1000),
    (6, "tab\tand\nnewline", -(2**63), 3.141592653589793, "ünïcödé", bytes(range(256))),
]
ITEMS_COLUMNS = ("order_id", "line", "sku", "amount")
ITEMS_ROWS: List[Tuple[Any, ...]] = [(o, line, f"SKU-{o}-{line}", o * 10 + line * 0.25) for o in range(1, 7) for line in range(1, 4)]


def make_source_db(path: Path, extra_orders: int = 0) -> Path:
    """Creates the reference source database (tables orders and items)."""
    con = sqlite3.connect(path)
    try:
        con.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, qty INTEGER, price REAL, note TEXT, payload BLOB)"
        )
        con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)", ORDERS_ROWS)
        if extra_orders:
            con.executemany(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)",
                (
                    (i, f"customer {i} é", i % 17, i / 4, None if i % 5 == 0 else f"note {i}", i.to_bytes(4, "little"))
                    for i in range(100, 100 + extra_orders)
                ),
            )
        con.execute(
            "CREATE TABLE items (order_id INTEGER NOT NULL, line INTEGER NOT NULL, sku TEXT, amount REAL, "
            "PRIMARY KEY (order_id, line))"
        )
        con.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", ITEMS_ROWS)
        con.commit()
    finally:
        con.close()
    return path


def make_big_source_db(path: Path, rows: int) -> Path:
    """One table `big` with `rows` rows (id, label, value)."""
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, label TEXT NOT NULL, value REAL)")
        con.executemany(
            "INSERT INTO big VALUES (?, ?, ?)", ((i, f"label-{i}-ä", i * 0.5) for i in range(1, rows + 1))
        )
        con.commit()
    finally:
        con.close()
    return path


def table_rows(db: Path, table: str, columns: Optional[Sequence[str]] = None, order_by: str = "1") -> List[Tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return list(con.execute(f'SELECT {cols} FROM "{table}" ORDER BY {order_by}'))
    finally:
        con.close()


def table_names(db: Path) -> List[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    finally:
        con.close()


def column_names(db: Path, table: str) -> List[str]:
    con = sqlite3.connect(db)
    try:
        return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
    finally:
        con.close()


def sqlite_yaml(
    src: Path,
    dst: Path,
    name: str = "t1",
    parallelism: int = 2,
    routes: Iterable[Tuple[str, str]] = (),
    pipeline_extra: Optional[Dict[str, Any]] = None,
    sink_extra: Optional[Dict[str, Any]] = None,
) -> str:
    lines = [
        "source:",
        "  type: sqlite",
        f"  path: '{src}'",
        "sink:",
        "  type: sqlite",
        f"  path: '{dst}'",
        *(f"  {key}: {value}" for key, value in (sink_extra or {}).items()),
        "pipeline:",
        f"  name: {name}",
        f"  parallelism: {parallelism}",
    ]
    for key, value in (pipeline_extra or {}).items():
        lines.append(f"  {key}: {value}")
    routes = list(routes)
    if routes:
        lines.append("route:")
        for source_table, sink_table in routes:
            lines.append(f"  - source-table: '{source_table}'")
            lines.append(f"    sink-table: '{sink_table}'")
    return "\n".join(lines) + "\n"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")
