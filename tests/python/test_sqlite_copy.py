"""Real SQLite -> SQLite copies through every way of creating a pipeline."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import datasync
from helpers import (
    ITEMS_ROWS,
    ORDERS_COLUMNS,
    ORDERS_ROWS,
    column_names,
    make_source_db,
    sqlite_yaml,
    table_names,
    table_rows,
)


def assert_full_copy(src: Path, dst: Path, orders_table: str = "orders") -> None:
    assert table_rows(dst, orders_table, ORDERS_COLUMNS) == sorted(ORDERS_ROWS)
    assert table_rows(dst, orders_table, ORDERS_COLUMNS) == table_rows(src, "orders", ORDERS_COLUMNS)
    assert table_rows(dst, "items", order_by="1, 2") == sorted(ITEMS_ROWS)
    # Types survive exactly: blobs stay blobs, reals stay reals, NULLs stay NULL.
    con = sqlite3.connect(dst)
    try:
        types = list(con.execute(f'SELECT typeof(qty), typeof(price), typeof(payload) FROM "{orders_table}" ORDER BY id'))
    finally:
        con.close()
    assert types == [
        ("integer", "real", "blob"),
        ("integer", "real", "null"),
        ("integer", "real", "blob"),
        ("integer", "real", "blob"),
        ("null", "null", "blob"),
        ("integer", "real", "blob"),
    ]


def test_from_yaml_copies_every_row(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst, name="yaml-copy")) as p:
        assert p.name == "yaml-copy"
        metrics = p.run()
    assert_full_copy(source_db, dst)
    assert metrics["rows_written"] == len(ORDERS_ROWS) + len(ITEMS_ROWS)
    assert metrics["tables_done"] == metrics["tables_total"] == 2


def test_from_file_resolves_relative_paths_against_the_file(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    make_source_db(project / "src.db")
    (project / "pipeline.yaml").write_text(sqlite_yaml(Path("src.db"), Path("out.db"), name="file-copy"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with datasync.Pipeline.from_file(project / "pipeline.yaml") as p:
        p.run()
    assert_full_copy(project / "src.db", project / "out.db")
    assert os.listdir(elsewhere) == []


def test_from_yaml_resolves_relative_paths_against_cwd(tmp_path, monkeypatch):
    make_source_db(tmp_path / "src.db")
    monkeypatch.chdir(tmp_path)
    with datasync.Pipeline.from_yaml(sqlite_yaml(Path("src.db"), Path("rel.db"))) as p:
        p.run()
    assert_full_copy(tmp_path / "src.db", tmp_path / "rel.db")


def test_from_dict_with_route(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    config = {
        "source": {"type": "sqlite", "path": str(source_db)},
        "sink": {"type": "sqlite", "path": dst},  # PathLike values are accepted
        "pipeline": {"name": "dict-copy", "parallelism": 2},
        "route": [{"source-table": r"main\.orders", "sink-table": "main.orders_copy"}],
    }
    with datasync.Pipeline.from_dict(config) as p:
        assert p.name == "dict-copy"
        metrics = p.run()
    assert "orders_copy" in table_names(dst)
    assert "orders" not in table_names(dst)
    assert_full_copy(source_db, dst, orders_table="orders_copy")
    assert column_names(dst, "orders_copy") == list(ORDERS_COLUMNS)
    # Metrics are kept per source table.
    assert set(metrics["tables"]) == {"main.orders", "main.items"}


def test_pipeline_constructor_takes_a_dict(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline(
        {"source": {"type": "sqlite", "path": str(source_db)}, "sink": {"type": "sqlite", "path": str(dst)}}
    ) as p:
        p.run()
    assert_full_copy(source_db, dst)


def test_from_settings_builds_a_ds_config(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    settings = {
        "source.type": "sqlite",
        "source.path": source_db,
        "sink.type": "sqlite",
        "sink.path": str(dst),
        "pipeline.name": "settings-copy",
        "pipeline.parallelism": 2,
    }
    with datasync.Pipeline.from_settings(settings, routes=[(r"main\.items", "main.items_copy")]) as p:
        assert p.name == "settings-copy"
        p.run()
    assert table_rows(dst, "items_copy", order_by="1, 2") == sorted(ITEMS_ROWS)
    assert table_rows(dst, "orders", ORDERS_COLUMNS) == sorted(ORDERS_ROWS)


def test_from_settings_list_values_and_booleans(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    settings = {
        "source.type": "sqlite",
        "source.path": source_db,
        "source.tables": [r"main\.orders", "nothing_else_.*"],
        "sink.type": "sqlite",
        "sink.path": dst,
        "sink.create_tables": True,
    }
    with datasync.Pipeline.from_settings(settings) as p:
        metrics = p.run()
    assert set(metrics["tables"]) == {"main.orders"}
    assert table_names(dst) == ["_datasync_checkpoint", "orders"]
    assert table_rows(dst, "orders", ORDERS_COLUMNS) == sorted(ORDERS_ROWS)


def test_from_settings_unknown_key_is_refused_with_suggestion():
    with pytest.raises(datasync.ConfigError) as info:
        datasync.Pipeline.from_settings({"source.type": "sqlite", "source.pth": "/x.db"})
    assert "pth" in info.value.message and "path" in info.value.message


def test_second_run_of_same_pipeline_is_refused_and_resume_adds_nothing(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    yaml = sqlite_yaml(source_db, dst)
    with datasync.Pipeline.from_yaml(yaml) as p:
        p.run()
        with pytest.raises(datasync.StateError):
            p.run()
    # A new pipeline from the same definition resumes from the checkpoint:
    # everything is done, nothing is written twice.
    with datasync.Pipeline.from_yaml(yaml) as p:
        metrics = p.run()
    assert metrics["rows_written"] == 0
    assert_full_copy(source_db, dst)


def test_fresh_run_rewrites_from_the_beginning(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:
        p.run()
    # write_mode insert (the default): starting again hits the existing keys,
    # fails, and leaves the target as it was.
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst)) as p:
        with pytest.raises(datasync.DataError, match="UNIQUE constraint failed"):
            p.run(fresh=True)
    assert_full_copy(source_db, dst)
    # write_mode upsert: the fresh run rewrites every row, and the target still
    # holds exactly the source rows.
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, dst, sink_extra={"write_mode": "upsert"})) as p:
        metrics = p.run(fresh=True)
    assert metrics["rows_written"] == len(ORDERS_ROWS) + len(ITEMS_ROWS)
    assert_full_copy(source_db, dst)


def test_closed_pipeline_refuses_use(source_db, tmp_path):
    p = datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db"))
    p.close()
    p.close()  # idempotent
    assert p.closed
    with pytest.raises(datasync.StateError):
        p.run()
    with pytest.raises(datasync.StateError):
        p.metrics()
    with pytest.raises(datasync.StateError):
        p.transform()(lambda b: None)
    p.stop()  # a no-op, never an error
    assert not (tmp_path / "dst.db").exists()  # nothing is opened before run()
