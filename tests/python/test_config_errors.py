"""Configuration and connector errors surface as precise datasync.Error subclasses."""

from __future__ import annotations

import re

import pytest

import datasync
from helpers import dedent, sqlite_yaml


def test_malformed_yaml_is_config_error_with_line_and_column():
    text = dedent(
        """
        source:
          type: sqlite
          path: [unclosed
        sink: {type: discard}
        """
    )
    with pytest.raises(datasync.ConfigError) as info:
        datasync.Pipeline.from_yaml(text)
    err = info.value
    assert err.status_name == "DS_ERR_CONFIG"
    assert err.code == datasync.ConfigError.code
    assert re.search(r"<string>:\d+:\d+", err.context), err.context
    assert str(err) == f"{err.message} ({err.context})"


def test_unknown_key_suggests_the_nearest_one(tmp_path):
    text = dedent(
        f"""
        source:
          type: sqlite
          pth: '{tmp_path / "src.db"}'
        sink: {{type: discard}}
        """
    )
    with pytest.raises(datasync.ConfigError) as info:
        datasync.Pipeline.from_yaml(text)
    err = info.value
    assert "'pth'" in err.message
    assert "did you mean 'path'" in err.message
    assert re.fullmatch(r"<string>:3:3", err.context), err.context


def test_unknown_key_in_file_names_the_file(tmp_path):
    f = tmp_path / "pipeline.yaml"
    f.write_text("source:\n  type: generator\n  rowz: 10\nsink: {type: discard}\n")
    with pytest.raises(datasync.ConfigError) as info:
        datasync.Pipeline.from_file(f)
    assert "did you mean 'rows'" in info.value.message
    assert info.value.context.endswith("pipeline.yaml:3:3"), info.value.context


def test_unknown_connector_type():
    with pytest.raises(datasync.ConfigError) as info:
        datasync.Pipeline.from_yaml("source: {type: sqlit, path: /x.db}\nsink: {type: discard}\n")
    assert "sqlit" in info.value.message and "sqlite" in info.value.message


def test_from_dict_rejects_non_mappings_and_unserializable_values():
    with pytest.raises(TypeError):
        datasync.Pipeline.from_dict(["source"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="object"):
        datasync.Pipeline.from_dict({"source": {"type": "generator", "rows": object()}})


def test_missing_pipeline_file():
    with pytest.raises(datasync.Error) as info:
        datasync.Pipeline.from_file("/nonexistent/dir/pipeline.yaml")
    assert isinstance(info.value, (datasync.NotFoundError, datasync.ConfigError))
    assert "/nonexistent/dir/pipeline.yaml" in str(info.value)


def test_missing_source_database_is_not_found(tmp_path):
    missing = tmp_path / "missing.db"
    with datasync.Pipeline.from_yaml(sqlite_yaml(missing, tmp_path / "dst.db")) as p:
        with pytest.raises(datasync.NotFoundError) as info:
            p.run()
    assert str(missing) in str(info.value)
    assert not missing.exists()  # a read-only source is never created


def test_non_sqlite_source_file_is_data_error(tmp_path):
    bogus = tmp_path / "not-a-db.db"
    bogus.write_bytes(b"this is definitely not a SQLite database file\n" * 100)
    with datasync.Pipeline.from_yaml(sqlite_yaml(bogus, tmp_path / "dst.db")) as p:
        with pytest.raises(datasync.DataError) as info:
            p.run()
    err = info.value
    assert err.status_name == "DS_ERR_DATA"
    assert str(bogus) in str(err)
    assert err.retriable is False


def test_sink_write_failure_is_io_error_and_counts_as_failed():
    yaml = "source: {type: generator, rows: 20000}\nsink: {type: discard, fail_after_rows: 5000}\npipeline: {batch_rows: 1000}\n"
    events = []
    with datasync.Pipeline.from_yaml(yaml) as p:
        p.on_event(events.append)
        with pytest.raises(datasync.IOFailureError):
            p.run()
    kinds = [e.kind for e in events]
    assert "pipeline_failed" in kinds
    assert "pipeline_finished" not in kinds
