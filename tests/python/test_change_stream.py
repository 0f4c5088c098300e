"""Pipeline.changes() without a server: a SQLite snapshot pulled by host code
(sink type host), commits kept in the checkpoint file, a reopen after a
commit, and the errors for a pipeline that cannot be read this way. The same
API against PostgreSQL change capture: tests/integration/test_postgres_pull_stream.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import datasync
from helpers import ORDERS_ROWS


def host_pipeline(source_db: Path, tmp_path: Path, **pipeline: object) -> datasync.Pipeline:
    return datasync.Pipeline.from_dict({
        "source": {"type": "sqlite", "path": str(source_db), "tables": "main\\.orders"},
        "sink": {"type": "host", "checkpoint_path": str(tmp_path / "host.checkpoint.db")},
        "pipeline": {"name": "host_snapshot", "batch_rows": 2, **pipeline},
    })


def test_snapshot_rows_arrive_as_inserts_and_a_commit_survives_a_reopen(source_db: Path, tmp_path: Path) -> None:
    with host_pipeline(source_db, tmp_path, queue_batches=1) as p, p.changes() as stream:
        batches = list(stream)
        assert stream.finished
    ids = [row["id"] for b in batches for row in b.to_pylist()]
    assert sorted(ids) == [r[0] for r in ORDERS_ROWS]
    assert all(op == "+I" for b in batches for op in b.ops())
    assert all(b.kind == "rows" and b.table == "main.orders" and b.position for b in batches if b.num_rows)
    assert batches[0].column("customer")[0] == ORDERS_ROWS[0][1]  # owned: valid after the stream closed

    # Commit up to the second batch; nothing was committed yet, so a reopen
    # delivers everything again, and after the commit only the rest.
    with host_pipeline(source_db, tmp_path) as p, p.changes() as stream:
        again = [b for b in stream if b.num_rows]
        assert [r["id"] for b in again for r in b.to_pylist()] == ids
        stream.commit(again[1])
        stream.commit(again[1].position)  # the same position twice: harmless
        with pytest.raises(datasync.InvalidArgumentError, match="not pending"):
            stream.commit(again[0].position)  # covered by the later commit
        with pytest.raises(datasync.InvalidArgumentError):
            stream.commit("no such position")
    with host_pipeline(source_db, tmp_path) as p, p.changes() as stream:
        rest = [r["id"] for b in stream for r in b.to_pylist()]
    assert rest == ids[4:]


def test_fresh_forgets_the_commits(source_db: Path, tmp_path: Path) -> None:
    with host_pipeline(source_db, tmp_path) as p, p.changes() as stream:
        batches = list(stream)
        stream.commit(batches[-1])
    with host_pipeline(source_db, tmp_path) as p, p.changes() as stream:
        assert [b for b in stream if b.num_rows] == []
    with host_pipeline(source_db, tmp_path) as p, p.changes(fresh=True) as stream:
        assert sum(b.num_rows for b in stream) == len(ORDERS_ROWS)


def test_arrow_export_of_a_streamed_batch(source_db: Path, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    with host_pipeline(source_db, tmp_path) as p, p.changes() as stream:
        batch = stream.next(timeout=30)
        assert batch is not None
        rb = batch.to_arrow()
        assert isinstance(rb, pa.RecordBatch)
        assert rb.num_rows == batch.num_rows and "customer" in rb.schema.names


def test_a_sink_that_is_not_the_host_is_refused(source_db: Path, tmp_path: Path) -> None:
    p = datasync.Pipeline.from_dict({
        "source": {"type": "sqlite", "path": str(source_db)},
        "sink": {"type": "sqlite", "path": str(tmp_path / "out.db")},
    })
    with p, pytest.raises(datasync.ConfigError, match="sink is the host"):
        p.changes()


def test_run_of_a_host_pipeline_is_refused(source_db: Path, tmp_path: Path) -> None:
    with host_pipeline(source_db, tmp_path) as p, pytest.raises(datasync.ConfigError, match="ds_change_stream_open"):
        p.run()


def test_a_checkpoint_store_other_than_sink_is_refused(source_db: Path, tmp_path: Path) -> None:
    with host_pipeline(source_db, tmp_path, checkpoint_store="file") as p:
        with pytest.raises(datasync.ConfigError, match="checkpoint_store must be sink"):
            p.changes()


def test_a_stream_opens_once_and_stop_ends_it(source_db: Path, tmp_path: Path) -> None:
    with host_pipeline(source_db, tmp_path, queue_batches=1) as p:
        stream = p.changes()
        with pytest.raises(datasync.StateError):
            p.changes()
        p.stop()
        with pytest.raises(datasync.CancelledError):
            while stream.next(timeout=30) is not None or not stream.finished:
                pass
        stream.close()
        with pytest.raises(datasync.StateError):
            stream.next(timeout=0)
