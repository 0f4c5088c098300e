"""Source DDL while changes stream from PostgreSQL, under each
schema.evolution policy, through the installed `datasync` command against the
real server of scripts/db: a column added, retyped and dropped right after the
snapshot (before the stream has seen the table) and while the pipeline is
stopped (the checkpoint knows the columns the target has)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "datasync")
SRC, DST = "ds_cdc_ddl_src", "ds_cdc_ddl_dst"


def psql(sql: str, database: str = "datasync") -> str:
    for name in ("DS_PG_HOST", "DS_PG_PORT", "DS_PG_USER", "DS_PG_PASSWORD"):
        if not os.environ.get(name):
            pytest.fail(f"{name} is not set: run `eval \"$(scripts/db env)\"` after `scripts/db up`")
    result = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", os.environ["DS_PG_HOST"], "-p",
         os.environ["DS_PG_PORT"], "-U", os.environ["DS_PG_USER"], "-d", database, "-c", sql],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": os.environ["DS_PG_PASSWORD"]}, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def drop_all():
    for _ in range(50):
        psql(f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{SRC}' "
             "AND active_pid IS NOT NULL")
        if psql(f"SELECT count(*) FROM pg_replication_slots WHERE database = '{SRC}' AND active") == "0":
            break
        time.sleep(0.1)
    psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{SRC}'")
    for db in (SRC, DST):
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


@pytest.fixture()
def databases():
    drop_all()
    for db in (SRC, DST):
        psql(f"CREATE DATABASE {db}")
    psql("CREATE TABLE items (id int PRIMARY KEY, name varchar(20), qty int, price numeric(10,2), gone text,"
         " tags text[], at timestamptz, doc jsonb);"
         "INSERT INTO items SELECT i, 'n' || i, i, i * 1.5, 'g', ARRAY['a'], now(), '{}' FROM generate_series(1, 3) i",
         SRC)
    yield
    drop_all()


def pipeline(tmp_path: Path, policy: str) -> Path:
    conn = ("  host: ${DS_PG_HOST}\n  port: ${DS_PG_PORT}\n  user: ${DS_PG_USER}\n"
            "  password: ${DS_PG_PASSWORD}\n  database: %s\n")
    path = tmp_path / f"ddl_{policy}.yaml"
    path.write_text("source:\n  type: postgres\n" + conn % SRC + "sink:\n  type: postgres\n" + conn % DST +
                    f"schema:\n  evolution: {policy}\npipeline:\n  name: ddl_{policy}\n  mode: snapshot+cdc\n")
    return path


def start(path: Path) -> subprocess.Popen:
    return subprocess.Popen([CLI, "run", "--quiet", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for(check, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return
        except AssertionError:
            pass  # the target table may not exist yet
        if proc.poll() is not None:
            pytest.fail(f"the pipeline exited ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.2)
    pytest.fail("timed out waiting for the target")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err


def target_columns() -> str:
    return psql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
                "FROM information_schema.columns WHERE table_name = 'items'", DST)


def rows() -> str:
    return psql("SELECT string_agg(id::text, ',' ORDER BY id) FROM items", DST)


@pytest.mark.parametrize("policy", ["evolve", "try_evolve", "lenient", "ignore"])
def test_ddl_right_after_the_snapshot_and_while_stopped(databases, tmp_path, policy):
    yaml = pipeline(tmp_path, policy)
    proc = start(yaml)
    try:
        wait_for(lambda: rows() == "1,2,3", proc)
        # The stream has not seen the table yet: it learns of these from the snapshot's columns.
        psql("ALTER TABLE items ADD COLUMN color text; INSERT INTO items (id, name, qty, color) VALUES (10, 'x', 1, 'red')",
             SRC)
        psql("ALTER TABLE items ALTER COLUMN qty TYPE bigint; INSERT INTO items (id, qty, color) VALUES (11, 5, 'blue')",
             SRC)
        psql("ALTER TABLE items DROP COLUMN gone; INSERT INTO items (id, qty, color) VALUES (12, 3, 'green')", SRC)
        wait_for(lambda: rows() == "1,2,3,10,11,12", proc)
    finally:
        stop(proc)
    # While stopped: the restarted stream knows the target's columns from the checkpoint.
    psql("ALTER TABLE items ADD COLUMN size int; INSERT INTO items (id, qty, size) VALUES (13, 1, 42)", SRC)
    proc = start(yaml)
    try:
        wait_for(lambda: rows() == "1,2,3,10,11,12,13", proc)
    finally:
        stop(proc)
    cols = target_columns()
    base = "id:integer,name:character varying,qty:"
    if policy in ("evolve", "try_evolve"):
        assert cols == base + "bigint,price:numeric,tags:ARRAY,at:timestamp with time zone,doc:jsonb,color:text," \
                              "size:integer", cols
        assert psql("SELECT color, size FROM items WHERE id = 13", DST) == "|42"
        assert psql("SELECT color FROM items WHERE id = 12", DST) == "green"
    elif policy == "lenient":  # nothing dropped: gone stays, nullable
        assert cols == base + "bigint,price:numeric,gone:text,tags:ARRAY,at:timestamp with time zone,doc:jsonb," \
                              "color:text,size:integer", cols
        assert psql("SELECT gone IS NULL, color FROM items WHERE id = 12", DST) == "t|green"
        assert psql("SELECT gone FROM items WHERE id = 1", DST) == "g"
    else:  # ignore: the target keeps its columns; values of added ones are left out
        assert cols == base + "integer,price:numeric,gone:text,tags:ARRAY,at:timestamp with time zone,doc:jsonb", cols
        assert psql("SELECT qty FROM items WHERE id = 11", DST) == "5"
    subprocess.run([CLI, "cleanup", str(yaml)], capture_output=True, timeout=60)


def test_exception_policy_stops_at_the_change_and_loses_nothing(databases, tmp_path):
    yaml = pipeline(tmp_path, "exception")
    proc = start(yaml)
    try:
        wait_for(lambda: rows() == "1,2,3", proc)
        psql("INSERT INTO items (id, qty) VALUES (9, 9)", SRC)
        wait_for(lambda: rows() == "1,2,3,9", proc)
        psql("ALTER TABLE items ADD COLUMN color text; INSERT INTO items (id, qty, color) VALUES (10, 1, 'red')", SRC)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "DS_ERR_SCHEMA" in err and "add_column" in err and "color" in err and "evolve" in err, err
    assert rows() == "1,2,3,9"
    # Run again: the change is still there to be decided (not skipped), the rows before it stay.
    again = subprocess.run([CLI, "run", "--quiet", str(yaml)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "add_column" in again.stderr, again.stderr
    assert rows() == "1,2,3,9"
    # With the policy changed, the stream goes on from there: nothing lost.
    yaml.write_text(yaml.read_text().replace("evolution: exception", "evolution: evolve"))
    proc = start(yaml)
    try:
        wait_for(lambda: rows() == "1,2,3,9,10", proc)
    finally:
        stop(proc)
    assert psql("SELECT color FROM items WHERE id = 10", DST) == "red"
    subprocess.run([CLI, "cleanup", str(yaml)], capture_output=True, timeout=60)
