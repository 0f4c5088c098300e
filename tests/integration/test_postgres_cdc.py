"""Change data capture from PostgreSQL (pgoutput) through the installed
`datasync` command, against the real server of scripts/db: snapshot then
stream without gap or duplicate, key changes, multi-table transactions, DDL
under the evolution policy, SIGKILL under continuous writes and resume, a
killed walsender reconnected, MariaDB and SQLite sinks, cleanup, and the
error for a role without REPLICATION."""
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CLI = str(Path(sys.executable).parent / "datasync")
SRC, DST, MY_DST = "ds_cdc_src", "ds_cdc_dst", "ds_cdc_dst"


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run `eval \"$(scripts/db env)\"` after `scripts/db up`")
    return value


def psql(sql: str, database: str = "datasync", user: str = "", password: str = "") -> str:
    result = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", env("DS_PG_HOST"), "-p", env("DS_PG_PORT"),
         "-U", user or env("DS_PG_USER"), "-d", database, "-c", sql],
        capture_output=True, text=True, env={**os.environ, "PGPASSWORD": password or env("DS_PG_PASSWORD")},
        timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def maria(sql: str, database: str = "datasync") -> str:
    result = subprocess.run(
        ["mariadb", "--no-defaults", "-h", env("DS_MARIADB_HOST"), "-P", env("DS_MARIADB_PORT"),
         "-u", env("DS_MARIADB_USER"), f"-p{env('DS_MARIADB_PASSWORD')}", "--batch", "--skip-column-names", database],
        input=sql, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


def drop_all():
    # A stopped pipeline's walsender may take a moment to exit and free its slot.
    for _ in range(50):
        psql(f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{SRC}' "
             "AND active_pid IS NOT NULL")
        if psql(f"SELECT count(*) FROM pg_replication_slots WHERE database = '{SRC}' AND active") == "0":
            break
        time.sleep(0.1)
    psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database IN ('{SRC}')")
    for db in (SRC, DST):
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    maria(f"DROP DATABASE IF EXISTS {MY_DST}")


@pytest.fixture()
def databases():
    drop_all()
    for db in (SRC, DST):
        psql(f"CREATE DATABASE {db}")
    maria(f"CREATE DATABASE {MY_DST} CHARACTER SET utf8mb4")
    psql("CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2), note text);"
         "CREATE TABLE moves (id bigserial PRIMARY KEY, account int, amount numeric(12,2), at timestamptz);"
         "INSERT INTO accounts SELECT i, 'owner ' || i, i * 10, repeat('n', i % 50) FROM generate_series(1, 2000) i;",
         SRC)
    yield
    drop_all()


def pg_conn(database: str) -> str:
    return (f"  host: ${{DS_PG_HOST}}\n  port: ${{DS_PG_PORT}}\n  user: ${{DS_PG_USER}}\n"
            f"  password: ${{DS_PG_PASSWORD}}\n  database: {database}\n")


def pipeline(tmp_path: Path, sink: str = "postgres", mode: str = "snapshot+cdc", extra: str = "",
             name: str = "cdc_it") -> Path:
    if sink == "postgres":
        sink_block = "sink:\n  type: postgres\n" + pg_conn(DST)
    elif sink == "mariadb":
        sink_block = ("sink:\n  type: mariadb\n  host: ${DS_MARIADB_HOST}\n  port: ${DS_MARIADB_PORT}\n"
                      f"  user: ${{DS_MARIADB_USER}}\n  password: ${{DS_MARIADB_PASSWORD}}\n  database: {MY_DST}\n")
    else:
        sink_block = f"sink:\n  type: sqlite\n  path: {tmp_path / 'cdc.db'}\n"
    path = tmp_path / f"{name}.yaml"
    path.write_text("source:\n  type: postgres\n" + pg_conn(SRC) + sink_block + extra +
                    f"pipeline:\n  name: {name}\n  mode: {mode}\n")
    return path


def start(path: Path) -> subprocess.Popen:
    return subprocess.Popen([CLI, "run", "--quiet", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


DIGEST = ("SELECT count(*), coalesce(sum(id), 0), coalesce(sum(balance), 0), "
          "coalesce(sum(length(owner)), 0), coalesce(sum(length(note)), 0) FROM accounts")


def pg_digest(database: str) -> str:
    return psql(DIGEST, database)


def wait_for(check, timeout: float = 90.0, proc: subprocess.Popen = None) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the pipeline exited ({proc.returncode}): {proc.stderr.read()}")
        time.sleep(0.2)
    return check()


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    return err


def test_snapshot_then_stream_without_gap_or_duplicate(databases, tmp_path):
    yaml = pipeline(tmp_path, extra="schema:\n  evolution: evolve\n")
    proc = start(yaml)
    try:
        assert wait_for(lambda: psql("SELECT to_regclass('public.accounts') IS NOT NULL", DST) == "t"
                        and pg_digest(DST) == pg_digest(SRC), proc=proc)
        psql("BEGIN; INSERT INTO accounts VALUES (5000, 'new', 1.25, NULL);"
             "UPDATE accounts SET balance = balance + 1 WHERE id <= 100;"
             "DELETE FROM accounts WHERE id BETWEEN 101 AND 150;"
             "UPDATE accounts SET id = id + 10000 WHERE id BETWEEN 151 AND 160;"  # key changes
             "INSERT INTO moves (account, amount, at) VALUES (1, 5, now()), (2, -5, now()); COMMIT;", SRC)
        psql("UPDATE accounts SET note = repeat('toast', 2000) WHERE id = 1", SRC)
        psql("UPDATE accounts SET owner = 'renamed' WHERE id = 1", SRC)  # the TOASTed note is not sent again
        psql("ALTER TABLE accounts ADD COLUMN tier smallint; UPDATE accounts SET tier = 2 WHERE id < 20", SRC)
        assert wait_for(lambda: pg_digest(DST) == pg_digest(SRC)
                        and psql("SELECT count(tier), sum(tier) FROM accounts", DST) == "19|38"
                        and psql("SELECT count(*) FROM moves", DST) == "2")
        assert psql("SELECT owner, length(note) FROM accounts WHERE id = 1", DST) == "renamed|10000"
        psql("TRUNCATE moves", SRC)
        assert wait_for(lambda: psql("SELECT count(*) FROM moves", DST) == "0")
    finally:
        stop(proc)
    # Every row is where it should be, value by value.
    rows = "SELECT id, owner, balance, note, tier FROM accounts ORDER BY id"
    assert psql(rows, SRC) == psql(rows, DST)
    assert "dropped replication slot datasync_cdc_it" in subprocess.run(
        [CLI, "cleanup", str(yaml)], capture_output=True, text=True, timeout=60).stdout
    assert psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_it'") == "0"


def test_sigkill_under_continuous_writes_loses_and_doubles_nothing(databases, tmp_path):
    yaml = pipeline(tmp_path)
    stop_writing = threading.Event()
    written = []

    def writer():
        i = 0
        while not stop_writing.is_set():
            i += 1
            psql(f"BEGIN; INSERT INTO moves (account, amount, at) VALUES ({i % 2000 + 1}, {i}, now());"
                 f"UPDATE accounts SET balance = balance + {i} WHERE id = {i % 2000 + 1};"
                 f"DELETE FROM accounts WHERE id = {3000 + i - 1}; INSERT INTO accounts VALUES ({3000 + i}, 'w', 0, '');"
                 "COMMIT;", SRC)
            written.append(i)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for delay in (2.0, 1.3, 2.6):
            proc = start(yaml)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        stop_writing.set()
        thread.join(timeout=60)
    assert len(written) > 10
    proc = start(yaml)
    try:
        moves = "SELECT count(*), sum(amount), count(DISTINCT amount) FROM moves"
        assert wait_for(lambda: psql("SELECT to_regclass('public.moves') IS NOT NULL", DST) == "t"
                        and pg_digest(DST) == pg_digest(SRC) and psql(moves, DST) == psql(moves, SRC), 60)
    finally:
        stop(proc)
    # No move applied twice (each amount is unique) and none lost.
    assert psql("SELECT count(*) FROM moves", DST) == str(len(written))


def test_killed_walsender_is_reconnected(databases, tmp_path):
    yaml = pipeline(tmp_path, mode="cdc")
    proc = start(yaml)
    try:
        assert wait_for(lambda: psql("SELECT count(*) FROM pg_stat_replication WHERE application_name LIKE "
                                     "'datasync cdc_it%'") == "1")
        psql("INSERT INTO moves (account, amount, at) VALUES (1, 1, now())", SRC)
        assert wait_for(lambda: psql("SELECT to_regclass('public.moves') IS NOT NULL", DST) == "t"
                        and psql("SELECT count(*) FROM moves", DST) == "1")
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name LIKE 'datasync cdc_it%'")
        psql("INSERT INTO moves (account, amount, at) SELECT 2, i, now() FROM generate_series(2, 100) i", SRC)
        assert wait_for(lambda: psql("SELECT count(*), sum(amount) FROM moves", DST) == "100|5050.00", 40)
    finally:
        err = stop(proc)
    assert "retry" in err


@pytest.mark.parametrize("sink", ["mariadb", "sqlite"])
def test_changes_reach_mariadb_and_sqlite(databases, tmp_path, sink):
    yaml = pipeline(tmp_path, sink=sink, name=f"cdc_{sink}")

    def target(sql: str) -> str:
        if sink == "mariadb":
            return maria(sql, MY_DST).replace("\t", "|")
        with sqlite3.connect(tmp_path / "cdc.db") as db:
            row = db.execute(sql).fetchone()
            return "|".join(str(v) for v in row)

    proc = start(yaml)
    try:
        assert wait_for(lambda: (tmp_path / "cdc.db").exists() or sink == "mariadb")
        count = "SELECT count(*), sum(id) FROM accounts"
        assert wait_for(lambda: _safe(target, count) == "2000|2001000", 40)
        psql("BEGIN; DELETE FROM accounts WHERE id > 1000; UPDATE accounts SET id = id + 5000 WHERE id <= 10;"
             "INSERT INTO accounts VALUES (9999, 'z', 1, 'z'); COMMIT;", SRC)
        assert wait_for(lambda: _safe(target, count) == psql(count, SRC), 40)
    finally:
        stop(proc)
    subprocess.run([CLI, "cleanup", str(yaml)], capture_output=True, timeout=60)


def _safe(fn, sql):
    try:
        return fn(sql)
    except Exception:  # the table may not exist yet
        return None


def test_role_without_replication_is_a_clear_error(databases, tmp_path):
    psql("DROP ROLE IF EXISTS ds_norepl; CREATE ROLE ds_norepl LOGIN PASSWORD 'pw' NOREPLICATION;"
         f"GRANT ALL ON DATABASE {SRC} TO ds_norepl")
    try:
        yaml = pipeline(tmp_path, mode="cdc")
        yaml.write_text(yaml.read_text().replace("user: ${DS_PG_USER}\n  password: ${DS_PG_PASSWORD}\n  database: "
                                                 f"{SRC}", f"user: ds_norepl\n  password: pw\n  database: {SRC}", 1))
        result = subprocess.run([CLI, "run", str(yaml)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1
        assert "DS_ERR_AUTH" in result.stderr and "REPLICATION" in result.stderr and "ALTER ROLE" in result.stderr
    finally:
        psql(f"REVOKE ALL ON DATABASE {SRC} FROM ds_norepl; DROP ROLE IF EXISTS ds_norepl")
