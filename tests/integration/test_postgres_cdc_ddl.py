"""Source DDL while changes stream from PostgreSQL, under each
schema.evolution policy, through the installed `datasync` command against the
real server of scripts/db: a column added, retyped and dropped right after the
snapshot (before the stream has seen the table) and while the pipeline is
stopped (the checkpoint knows the columns the target has)."""
import subprocess
import time
from pathlib import Path

import pytest

from dbutil import CLI, cleanup, connection, create_pg_databases, drop_pg_databases, drop_slots, psql, start, stop

SRC, DST = "ds_cdc_ddl_src", "ds_cdc_ddl_dst"


def drop_all():
    drop_slots(SRC)
    drop_pg_databases(SRC, DST)


@pytest.fixture()
def databases():
    drop_all()
    create_pg_databases(SRC, DST)
    psql("CREATE TABLE items (id int PRIMARY KEY, name varchar(20), qty int, price numeric(10,2), gone text,"
         " tags text[], at timestamptz, doc jsonb);"
         "INSERT INTO items SELECT i, 'n' || i, i, i * 1.5, 'g', ARRAY['a'], now(), '{}' FROM generate_series(1, 3) i",
         SRC)
    yield
    drop_all()


def pipeline(tmp_path: Path, policy: str) -> Path:
    path = tmp_path / f"ddl_{policy}.yaml"
    path.write_text("source:\n" + connection("postgres", SRC) + "sink:\n" + connection("postgres", DST) +
                    f"schema:\n  evolution: {policy}\npipeline:\n  name: ddl_{policy}\n  mode: snapshot+cdc\n")
    return path


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
    cleanup(yaml)


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
    cleanup(yaml)
