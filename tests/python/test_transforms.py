"""Python transforms: pyarrow batches, the fallback Batch, failures."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import threading

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import datasync
from helpers import ITEMS_ROWS, ORDERS_COLUMNS, ORDERS_ROWS, column_names, sqlite_yaml, table_names, table_rows


def test_arrow_transform_adds_computed_column(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    seen = []
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:

        @p.transform(r"main\.orders")
        def add_total(batch):
            assert isinstance(batch, pa.RecordBatch)
            seen.append(batch.num_rows)
            total = pc.add(pc.cast(batch.column("qty"), pa.float64(), safe=False), batch.column("price"))
            return batch.append_column("total", total)

        p.run()
    assert sum(seen) == len(ORDERS_ROWS)
    assert column_names(dst, "orders") == [*ORDERS_COLUMNS, "total"]
    got = table_rows(dst, "orders", ["id", "total"])
    expected = [(r[0], None if r[2] is None or r[3] is None else float(r[2]) + r[3]) for r in sorted(ORDERS_ROWS)]
    assert got == expected
    # The transform's pattern did not touch items.
    assert column_names(dst, "items") == ["order_id", "line", "sku", "amount"]


def test_arrow_transform_filters_and_returns_table(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:

        @p.transform(r"main\.items", serial=True)
        def only_first_lines(batch):
            return pa.Table.from_batches([batch.filter(pc.equal(batch.column("line"), 1))])

        p.run()
    assert table_rows(dst, "items", order_by="1, 2") == sorted(r for r in ITEMS_ROWS if r[1] == 1)
    assert table_rows(dst, "orders", ORDERS_COLUMNS) == sorted(ORDERS_ROWS)


def test_transform_returning_none_passes_through_and_sees_every_table(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    tables = set()
    lock = threading.Lock()
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:

        @p.transform
        def spy(batch):
            with lock:
                tables.add(batch.num_columns)
            return None

        p.run()
    assert tables == {len(ORDERS_COLUMNS), 4}
    assert table_rows(dst, "orders", ORDERS_COLUMNS) == sorted(ORDERS_ROWS)


def test_fallback_batch_reads_values_and_adds_a_column(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    captured = {}
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:

        @p.transform(r"main\.orders", arrow=False)
        def upper(batch):
            assert isinstance(batch, datasync.Batch)
            assert batch.table == "main.orders"
            assert batch.column_names == list(ORDERS_COLUMNS)
            assert dict(batch.schema) == {
                "id": "int64",
                "customer": "string",
                "qty": "int64",
                "price": "float64",
                "note": "string",
                "payload": "binary",
            }
            captured.setdefault("rows", []).extend(batch.to_pylist())
            captured["batch"] = batch
            names = batch.column("customer")
            return batch.with_column("shout", [None if n is None else n.upper() for n in names], type="string")

        p.run()
    rows = sorted(captured["rows"], key=lambda r: r["id"])
    assert [tuple(r[c] for c in ORDERS_COLUMNS) for r in rows] == sorted(ORDERS_ROWS)
    got = table_rows(dst, "orders", ["id", "shout"])
    assert got == [(r[0], None if r[1] is None else r[1].upper()) for r in sorted(ORDERS_ROWS)]
    # The borrowed batch is invalid after the call: access raises, never crashes.
    batch = captured["batch"]
    assert not batch.valid
    with pytest.raises(datasync.StateError, match="no longer valid"):
        batch.num_rows
    with pytest.raises(datasync.StateError):
        batch.__arrow_c_array__()
    assert "no longer valid" in repr(batch)


def test_fallback_batch_decodes_generator_types(tmp_path):
    """decimal, timestamp, bool and NULLs through the plain-C accessors."""
    seen = {}
    yaml = """
source: {type: generator, rows: 50, seed: 7, null_fraction: 50}
sink: {type: discard}
pipeline: {name: gen-fallback}
"""
    with datasync.Pipeline.from_yaml(yaml) as p:

        @p.transform(arrow=False, serial=True)
        def look(batch):
            seen.setdefault("rows", []).extend(batch.to_pylist())
            seen["schema"] = dict(batch.schema)

        metrics = p.run()
    assert metrics["rows_written"] == 50
    schema = seen["schema"]
    assert schema == {
        "id": "int64",
        "qty": "int32",
        "price": "decimal",
        "score": "float64",
        "name": "string",
        "active": "bool",
        "created_at": "timestamp",
        "note": "string",
    }
    rows = seen["rows"]
    assert sorted(r["id"] for r in rows) == list(range(1, 51))
    assert all(isinstance(r["price"], decimal.Decimal) for r in rows)
    assert all(r["price"].as_tuple().exponent == -2 for r in rows)
    assert all(isinstance(r["created_at"], dt.datetime) and r["created_at"].tzinfo is None for r in rows)
    assert all(isinstance(r["active"], bool) for r in rows)
    nulls = sum(r["note"] is None for r in rows)
    assert 0 < nulls < 50


def test_fallback_and_arrow_agree_on_generator_values(tmp_path):
    yaml = "source: {type: generator, rows: 30, seed: 3}\nsink: {type: discard}\n"
    plain, arrow = [], []
    with datasync.Pipeline.from_yaml(yaml) as p:
        p.transform(arrow=False, serial=True)(lambda b: plain.extend(b.to_pylist()))
        p.transform(arrow=True, serial=True)(lambda b: arrow.extend(b.to_pylist()))
        p.run()
    key = lambda r: r["id"]  # noqa: E731
    assert sorted(plain, key=key) == sorted(arrow, key=key)
    assert len(plain) == 30


def test_transform_raising_value_error_reraises_original(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    boom = ValueError("bad total for order")
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst, name="failing")) as p:

        @p.transform(r"main\.orders")
        def explode(batch):
            raise boom

        with pytest.raises(ValueError) as info:
            p.run()
        metrics = p.metrics()
    assert info.value is boom  # the very same object
    # Its traceback goes through the transform function.
    tb = info.value.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "explode" in frames
    # The library's view is attached.
    err = info.value.datasync_error
    assert isinstance(err, datasync.CallbackError)
    assert "explode raised ValueError: bad total for order" in err.message
    assert "table=main.orders" in err.context
    if hasattr(info.value, "__notes__"):
        assert any("DS_ERR_CALLBACK" in n for n in info.value.__notes__)
    # Nothing half-written is reported as done: orders is not finished, and
    # the target holds no orders rows.
    assert metrics["tables"].get("main.orders", {}).get("rows_written", 0) == 0
    assert metrics["tables_done"] < metrics["tables_total"]
    if "orders" in table_names(dst):
        assert table_rows(dst, "orders") == []


def test_failed_transform_then_rerun_completes_exactly(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    yaml = sqlite_yaml(source_db, dst)
    with datasync.Pipeline.from_yaml(yaml) as p:
        p.transform(r"main\.orders")(lambda b: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            p.run()
    with datasync.Pipeline.from_yaml(yaml) as p:
        p.run()
    assert table_rows(dst, "orders", ORDERS_COLUMNS) == sorted(ORDERS_ROWS)
    assert table_rows(dst, "items", order_by="1, 2") == sorted(ITEMS_ROWS)


def test_transform_returning_wrong_type_raises_type_error(source_db, tmp_path):
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db")) as p:
        p.transform(r"main\.items")(lambda b: "not a batch")
        with pytest.raises(TypeError, match="returned str"):
            p.run()


def test_transform_returning_unimportable_arrow_raises_datasync_error(source_db, tmp_path):
    """A returned batch the library refuses (a non-struct array) fails the run with its error."""
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db")) as p:
        p.transform(r"main\.items")(lambda b: pa.array([1, 2, 3]))
        with pytest.raises(datasync.Error) as info:
            p.run()
    assert isinstance(info.value, datasync.Error)
    assert isinstance(info.value.datasync_error, datasync.CallbackError)


def test_transforms_only_before_run(source_db, tmp_path):
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db")) as p:
        p.run()
        with pytest.raises(datasync.StateError):
            p.transform()(lambda b: None)
        with pytest.raises(datasync.StateError):
            p.on_event(lambda e: None)


def test_stop_from_inside_a_transform_cancels(tmp_path):
    yaml = "source: {type: generator, rows: 200000}\nsink: {type: discard}\npipeline: {batch_rows: 1000}\n"
    with datasync.Pipeline.from_yaml(yaml) as p:
        calls = []

        @p.transform(serial=True)
        def stopper(batch):
            calls.append(batch.num_rows)
            if len(calls) == 3:
                p.stop()
                assert p.metrics()["rows_read"] >= 0  # metrics are safe inside callbacks

        with pytest.raises(datasync.CancelledError):
            p.run()
    assert len(calls) >= 3


def test_run_and_close_refused_inside_callbacks(tmp_path):
    yaml = "source: {type: generator, rows: 100}\nsink: {type: discard}\n"
    errors = []
    with datasync.Pipeline.from_yaml(yaml) as p:
        native = p._native

        @p.transform(serial=True)
        def misuse(batch):
            for call in (p.close, native.close, lambda: native.run(False)):
                try:
                    call()
                except datasync.StateError as exc:
                    errors.append(exc)

        p.run()
    assert len(errors) >= 3
    assert all("inside a datasync callback" in e.message for e in errors)


def test_batch_export_is_ref_counted_beyond_the_call(source_db, tmp_path):
    kept = []
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db")) as p:
        p.transform(r"main\.orders", serial=True)(lambda b: kept.append(b))
        p.run()
    # The pipeline is gone; the exported arrays are still readable.
    rows = [r for b in kept for r in b.to_pylist()]
    assert sorted(tuple(r[c] for c in ORDERS_COLUMNS) for r in rows) == sorted(ORDERS_ROWS)


def test_sqlite_target_after_pyarrow_transform_is_valid_sqlite(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:
        p.transform(r"main\.orders")(lambda b: b.append_column("flag", pa.array([True] * b.num_rows)))
        p.run()
    con = sqlite3.connect(dst)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT count(*), sum(flag) FROM orders").fetchone() == (len(ORDERS_ROWS), len(ORDERS_ROWS))
    finally:
        con.close()
