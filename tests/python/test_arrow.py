"""The Arrow PyCapsule interface: exported schemas seen from pyarrow, and imports."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import uuid

import pyarrow as pa
import pytest

import datasync
from helpers import ITEMS_ROWS, ORDERS_COLUMNS, ORDERS_ROWS, sqlite_yaml, table_names, table_rows


def typed_source(path):
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE typed (id INTEGER PRIMARY KEY, name TEXT, data BLOB, ratio REAL, flag BOOLEAN, "
        "day DATE, at DATETIME, doc JSON, uid UUID, amount DECIMAL(10,2))"
    )
    con.executemany(
        "INSERT INTO typed VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, "ä", b"\x00\xff", 0.5, 1, "2024-02-29", "2024-02-29 13:14:15.123456", '{"a": 1}',
             "12345678-1234-5678-1234-567812345678", "12.34"),
            (2, None, None, None, None, None, None, None, None, None),
        ],
    )  # fmt: skip
    con.commit()
    con.close()
    return path


def capture_schema(src, dst, arrow=True):
    seen = {}
    with datasync.Pipeline.from_yaml(sqlite_yaml(src, dst)) as p:

        @p.transform(r"main\.typed", arrow=arrow)
        def grab(batch):
            seen["batch"] = batch if arrow else None
            seen["schema"] = batch.schema
            seen["rows"] = batch.to_pylist()

        p.run()
    return seen


def test_exported_schema_types_and_metadata(tmp_path):
    src = typed_source(tmp_path / "typed.db")
    seen = capture_schema(src, tmp_path / "dst.db")
    schema = seen["schema"]
    assert isinstance(schema, pa.Schema)
    assert schema.names == ["id", "name", "data", "ratio", "flag", "day", "at", "doc", "uid", "amount"]
    assert schema.field("id").type == pa.int64()
    assert schema.field("name").type == pa.string()
    assert schema.field("data").type == pa.binary()
    assert schema.field("ratio").type == pa.float64()
    assert schema.field("flag").type == pa.bool_()
    assert schema.field("day").type == pa.date32()
    assert schema.field("at").type == pa.timestamp("us")
    assert schema.field("amount").type == pa.decimal128(10, 2)
    for name, ext in (("doc", "arrow.json"), ("uid", "arrow.uuid")):
        t = schema.field(name).type
        meta = schema.field(name).metadata or {}
        assert getattr(t, "extension_name", None) == ext or meta.get(b"ARROW:extension:name") == ext.encode()
    # The source's declared type travels in the field metadata.
    assert schema.field("name").metadata[b"datasync.source_type"] == b"TEXT"
    assert schema.field("amount").metadata[b"datasync.source_type"] == b"DECIMAL(10,2)"
    # Nullable source columns are nullable fields.
    assert schema.field("name").nullable
    row1, row2 = sorted(seen["rows"], key=lambda r: r["id"])
    assert row1["name"] == "ä" and row1["data"] == b"\x00\xff" and row1["ratio"] == 0.5
    assert row1["flag"] is True
    assert row1["day"] == dt.date(2024, 2, 29)
    assert row1["at"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    assert row1["amount"] == decimal.Decimal("12.34")
    assert all(v is None for k, v in row2.items() if k != "id")


def test_fallback_batch_sees_the_same_values(tmp_path):
    src = typed_source(tmp_path / "typed.db")
    arrow_rows = capture_schema(src, tmp_path / "a.db")["rows"]
    plain = capture_schema(src, tmp_path / "b.db", arrow=False)
    schema = dict(plain["schema"])
    assert schema == {
        "id": "int64", "name": "string", "data": "binary", "ratio": "float64", "flag": "bool",
        "day": "date", "at": "timestamp", "doc": "json", "uid": "uuid", "amount": "decimal",
    }  # fmt: skip
    rows = sorted(plain["rows"], key=lambda r: r["id"])
    expected = sorted(arrow_rows, key=lambda r: r["id"])
    assert rows[0]["uid"] == uuid.UUID("12345678-1234-5678-1234-567812345678")
    for got, want in zip(rows, expected):
        for key in ("id", "name", "data", "ratio", "flag", "day", "at", "amount"):
            assert got[key] == want[key], key
    assert rows[0]["doc"] == '{"a": 1}' or rows[0]["doc"].replace(" ", "") == '{"a":1}'


def test_record_batch_capsules_roundtrip_outside_a_pipeline(tmp_path):
    """The capsules datasync produces are what pyarrow expects, and release once."""
    kept = {}
    with datasync.Pipeline.from_yaml(sqlite_yaml(typed_source(tmp_path / "t.db"), tmp_path / "d.db")) as p:

        @p.transform(r"main\.typed", arrow=False)
        def grab(batch):
            schema_capsule, array_capsule = batch.__arrow_c_array__()
            kept["rb"] = pa.RecordBatch._import_from_c_capsule(schema_capsule, array_capsule)
            # Capsules that were never consumed are released by their destructors.
            batch.__arrow_c_array__()
            kept["via_protocol"] = pa.record_batch(batch)

        p.run()
    assert kept["rb"].equals(kept["via_protocol"])
    assert kept["rb"].schema.metadata[b"datasync.table"] == b"main.typed"


def test_returned_record_batch_is_imported(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:

        @p.transform(r"main\.orders")
        def rebuild(batch):
            # A batch built from scratch by pyarrow (not the exported buffers).
            data = batch.to_pydict()
            data["note"] = [None if n is None else n + "!" for n in data["note"]]
            return pa.RecordBatch.from_pydict(data, schema=batch.schema)

        p.run()
    expected = [r[:4] + (None if r[4] is None else r[4] + "!",) + r[5:] for r in sorted(ORDERS_ROWS)]
    assert table_rows(dst, "orders", ORDERS_COLUMNS) == expected


def test_empty_batch_drops_rows(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:
        p.transform(r"main\.orders")(lambda b: b.slice(0, 0))
        metrics = p.run()
    assert metrics["tables"]["main.orders"]["rows_written"] == 0
    assert metrics["tables"]["main.orders"]["rows_read"] == len(ORDERS_ROWS)
    assert metrics["tables_done"] == 2
    # No row reached the target (the table may not even be created).
    assert "orders" not in table_names(dst) or table_rows(dst, "orders") == []
    assert table_rows(dst, "items", order_by="1, 2") == sorted(ITEMS_ROWS)


def test_arrow_true_without_pyarrow_is_refused(monkeypatch, source_db, tmp_path):
    from datasync import _pipeline

    monkeypatch.setattr(_pipeline, "_pyarrow", None)
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db")) as p:
        with pytest.raises(ImportError, match="pyarrow"):
            p.transform(arrow=True)(lambda b: None)
        # Without pyarrow, transforms get datasync.Batch.
        kinds = []
        p.transform(r"main\.items", serial=True)(lambda b: kinds.append(type(b)))
        p.run()
    assert set(kinds) == {datasync.Batch}
