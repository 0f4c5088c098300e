"""Pipeline.changes() (ds_change_stream) against the real PostgreSQL server of
scripts/db: change batches pulled by host code with the right ops and
positions, a transaction's position only on its last batch, commits that
reach the checkpoint and the slot (and nothing before them), a reopen that
resumes right after the last commit, the snapshot delivered as inserts
before the changes, schema changes in order, a killed walsender retried,
and bad credentials reported from next()."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Tuple

import pytest

import datasync
import dbutil
from dbutil import connection, create_pg_databases, drop_pg_databases, drop_slots

SRC = "ds_hstream_src"


def psql(sql: str, database: str = SRC) -> str:
    """dbutil.psql, in the source database unless told otherwise."""
    return dbutil.psql(sql, database)


def drop_all() -> None:
    drop_slots(SRC)
    drop_pg_databases(SRC)


@pytest.fixture()
def database():
    drop_all()
    create_pg_databases(SRC)
    psql("CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance int)")
    yield
    drop_all()


def make(tmp_path: Path, mode: str = "cdc", name: str = "hs_it", password: str = "${DS_PG_PASSWORD}",
         extra: str = "") -> datasync.Pipeline:
    return datasync.Pipeline.from_yaml(
        "source:\n" + connection("postgres", SRC, password) +
        f"sink:\n  type: host\n  checkpoint_path: {tmp_path / 'host.checkpoint.db'}\n"
        f"pipeline:\n  name: {name}\n  mode: {mode}\n{extra}")


def wait_for(check, timeout: float = 60.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def slot_active(name: str = "hs_it") -> bool:
    return psql(f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_{name}' AND active",
                "datasync") == "1"


Row = Tuple[str, int]


def take(stream: datasync.ChangeStream, count: int, timeout: float = 60.0) -> Tuple[List[Row], List[str], list]:
    """Rows (op, id) until `count` rows came and a batch carried a position
    after the last of them (batches may hold several whole transactions, so
    positions are not counted); the positions seen and every batch too."""
    rows: List[Row] = []
    seen: List[str] = []
    batches = []
    deadline = time.time() + timeout
    while len(rows) < count or not batches[-1].position:
        assert time.time() < deadline, f"only {rows} and positions {seen} after {timeout}s"
        batch = stream.next(timeout=1)
        if batch is None:
            continue
        batches.append(batch)
        if batch.kind == "rows":
            rows += [(op, row["id"]) for op, row in batch.changes()]
        if batch.position:
            seen.append(batch.position)
    return rows, seen, batches


def nothing_more(stream: datasync.ChangeStream, wait: float = 2.0) -> None:
    deadline = time.time() + wait
    while time.time() < deadline:
        batch = stream.next(timeout=0.2)
        assert batch is None or batch.num_rows == 0, batch.changes()


def confirmed_at_least(position: str) -> bool:
    return psql("SELECT confirmed_flush_lsn >= '" + position + "'::pg_lsn FROM pg_replication_slots "
                "WHERE slot_name = 'datasync_hs_it'", "datasync") == "t"


def test_ops_positions_commit_and_resume(database, tmp_path):
    with make(tmp_path) as p, p.changes() as stream:
        assert wait_for(slot_active)
        psql("INSERT INTO accounts VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)")
        rows, positions, _ = take(stream, 3)
        assert rows == [("+I", 1), ("+I", 2), ("+I", 3)]
        first = positions[0]
        stream.commit(first)
        assert wait_for(lambda: confirmed_at_least(first), 30)

        psql("UPDATE accounts SET balance = 11 WHERE id = 1")
        psql("DELETE FROM accounts WHERE id = 2")
        rows, positions, _ = take(stream, 2)
        assert rows == [("+U", 1), ("-D", 2)]
        # Not committed: the slot must not have been told (it would free the WAL).
        time.sleep(2.5)
        assert not confirmed_at_least(positions[0])
    # Reopened: the uncommitted transactions come again, the committed one not.
    with make(tmp_path) as p, p.changes() as stream:
        rows, positions, _ = take(stream, 2)
        assert rows == [("+U", 1), ("-D", 2)]
        stream.commit(positions[-1])
        stream.commit(positions[-1])  # twice: harmless
        with pytest.raises(datasync.InvalidArgumentError, match="not pending"):
            stream.commit("0/1")  # never delivered by this stream
    with make(tmp_path) as p, p.changes() as stream:
        psql("INSERT INTO accounts VALUES (4, 'd', 40)")
        rows, _, _ = take(stream, 1)
        assert rows == [("+I", 4)]


def test_a_large_transaction_has_one_position_on_its_last_batch(database, tmp_path):
    with make(tmp_path, extra="  batch_rows: 500\n  queue_batches: 2\n") as p, p.changes() as stream:
        assert wait_for(slot_active)
        psql("INSERT INTO accounts SELECT i, 'o' || i, i FROM generate_series(1, 5000) i")
        time.sleep(1)  # the queue is full meanwhile: the engine waits (backpressure)
        rows, positions, batches = take(stream, 5000)
        assert sorted(i for _, i in rows) == list(range(1, 5001))
        assert {op for op, _ in rows} == {"+I"}
        assert len(batches) >= 10
        assert [b.position for b in batches[:-1]] == [""] * (len(batches) - 1)
        with pytest.raises(datasync.InvalidArgumentError):
            stream.commit("")  # a batch inside the transaction has nothing to commit
        stream.commit(positions[0])


def test_snapshot_then_changes(database, tmp_path):
    psql("INSERT INTO accounts SELECT i, 'o' || i, i FROM generate_series(1, 10) i")
    with make(tmp_path, mode="snapshot+cdc") as p, p.changes() as stream:
        rows, positions, _ = take(stream, 10)
        assert sorted(rows) == [("+I", i) for i in range(1, 11)]
        assert all("@" in position for position in positions)
        stream.commit(positions[-1])
        psql("UPDATE accounts SET owner = 'x' WHERE id = 3")
        rows, positions, _ = take(stream, 1)
        assert rows == [("+U", 3)] and "/" in positions[-1]
        stream.commit(positions[-1])
    # The snapshot is not copied again, and the change not redelivered.
    with make(tmp_path, mode="snapshot+cdc") as p, p.changes() as stream:
        nothing_more(stream)
        psql("DELETE FROM accounts WHERE id = 4")
        rows, _, _ = take(stream, 1)
        assert rows == [("-D", 4)]


def test_schema_changes_come_in_order(database, tmp_path):
    with make(tmp_path, extra="schema:\n  evolution: evolve\n") as p, p.changes() as stream:
        assert wait_for(slot_active)
        psql("INSERT INTO accounts VALUES (1, 'a', 1)")
        psql("ALTER TABLE accounts ADD COLUMN tier smallint; INSERT INTO accounts VALUES (2, 'b', 2, 7)")
        rows, positions, batches = take(stream, 2)
        assert rows == [("+I", 1), ("+I", 2)]
        kinds = [(b.kind, b.schema_change) for b in batches if b.kind == "schema_change"]
        assert kinds == [("schema_change", "add_column tier")]
        change = next(i for i, b in enumerate(batches) if b.kind == "schema_change")
        assert "tier" in [name for name, _ in batches[change].schema]
        after = [b for b in batches[change:] if b.num_rows]
        assert after and after[0].to_pylist()[0]["tier"] == 7


def test_a_killed_walsender_is_retried_without_duplicates(database, tmp_path):
    with make(tmp_path) as p:
        retries = []
        p.on_event(lambda e: retries.append(e) if e.kind == "retry" else None)
        with p.changes() as stream:
            assert wait_for(slot_active)
            psql("INSERT INTO accounts VALUES (1, 'a', 1)")
            assert take(stream, 1)[0] == [("+I", 1)]
            psql("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                 "WHERE slot_name = 'datasync_hs_it'", "datasync")
            psql("INSERT INTO accounts VALUES (2, 'b', 2)")
            rows, positions, _ = take(stream, 1, timeout=90)
            assert rows == [("+I", 2)]
            stream.commit(positions[0])
            assert retries


def test_bad_credentials_come_out_of_next(database, tmp_path):
    with make(tmp_path, password="wrong-password") as p, p.changes() as stream:
        with pytest.raises(datasync.Error) as failure:
            while stream.next(timeout=30) is not None:
                pass
        assert isinstance(failure.value, (datasync.AuthError, datasync.ConnectionFailedError))
        assert "wrong-password" not in str(failure.value)
        with pytest.raises(type(failure.value)):  # the same error again
            stream.next(timeout=0)
