"""Change data capture from PostgreSQL (pgoutput) through the installed
`datasync` command, against the real server of scripts/db: snapshot then
stream without gap or duplicate, key changes, multi-table transactions, DDL
under the evolution policy, SIGKILL under continuous writes and resume (with
a change-log sink showing every event exactly once), a killed walsender and
a restarted server reconnected, MariaDB and SQLite sinks, cleanup, and the
errors for a role without REPLICATION, a dropped slot and a missing
publication."""
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from dbutil import CLI, cleanup, connection, create_pg_databases, drop_pg_databases, drop_slots, maria, psql, start, stop

SRC, DST, MY_DST = "ds_cdc_src", "ds_cdc_dst", "ds_cdc_dst"


def drop_all():
    drop_slots(SRC)
    drop_pg_databases(SRC, DST)
    maria(f"DROP DATABASE IF EXISTS {MY_DST}")


@pytest.fixture()
def databases():
    drop_all()
    create_pg_databases(SRC, DST)
    maria(f"CREATE DATABASE {MY_DST} CHARACTER SET utf8mb4")
    psql("CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2), note text);"
         "CREATE TABLE moves (id bigserial PRIMARY KEY, account int, amount numeric(12,2), at timestamptz);"
         "INSERT INTO accounts SELECT i, 'owner ' || i, i * 10, repeat('n', i % 50) FROM generate_series(1, 2000) i;",
         SRC)
    yield
    drop_all()


def pipeline(tmp_path: Path, sink: str = "postgres", mode: str = "snapshot+cdc", extra: str = "",
             name: str = "cdc_it") -> Path:
    if sink == "postgres":
        sink_block = "sink:\n" + connection("postgres", DST)
    elif sink == "mariadb":
        sink_block = "sink:\n" + connection("mariadb", MY_DST)
    else:
        sink_block = f"sink:\n  type: sqlite\n  path: {tmp_path / 'cdc.db'}\n"
    path = tmp_path / f"{name}.yaml"
    path.write_text("source:\n" + connection("postgres", SRC) + sink_block + extra +
                    f"pipeline:\n  name: {name}\n  mode: {mode}\n")
    return path


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
    assert "dropped replication slot datasync_cdc_it" in cleanup(yaml).stdout
    assert psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_it'") == "0"


def test_sigkill_under_continuous_writes_loses_and_doubles_nothing(databases, tmp_path):
    yaml = pipeline(tmp_path)
    # A second pipeline logs every change (sink write_mode changelog) into
    # schema "log" of the target: there a change applied twice is a second
    # row, not an overwrite. It streams from before the first write, so each
    # writer transaction is in its log.
    log_yaml = pipeline(tmp_path, mode="cdc", name="cdc_log",
                        extra="").read_text().replace("sink:\n  type: postgres\n",
                                                      "sink:\n  type: postgres\n  schema: log\n"
                                                      "  write_mode: changelog\n", 1)
    log_yaml_path = tmp_path / "cdc_log.yaml"
    log_yaml_path.write_text(log_yaml)
    proc = start(log_yaml_path)
    try:
        assert wait_for(lambda: psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_log' "
                                     "AND active") == "1", proc=proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
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
            procs = [start(yaml), start(log_yaml_path)]
            time.sleep(delay)
            for p in procs:
                p.send_signal(signal.SIGKILL)
            for p in procs:
                p.wait(timeout=30)
    finally:
        stop_writing.set()
        thread.join(timeout=60)
    assert len(written) > 10
    n = len(written)
    procs = [start(yaml), start(log_yaml_path)]
    try:
        moves = "SELECT count(*), sum(amount), count(DISTINCT amount) FROM moves"
        assert wait_for(lambda: psql("SELECT to_regclass('public.moves') IS NOT NULL", DST) == "t"
                        and pg_digest(DST) == pg_digest(SRC) and psql(moves, DST) == psql(moves, SRC), 60)
        assert wait_for(lambda: psql("SELECT to_regclass('log.moves') IS NOT NULL", DST) == "t"
                        and psql("SELECT count(*) FROM log.moves", DST) == str(n)
                        and psql("SELECT count(*) FROM log.accounts", DST) == str(3 * n - 1), 60)
    finally:
        for p in procs:
            stop(p)
    # No move applied twice (each amount is unique) and none lost; every row
    # of the target as in the source.
    assert psql("SELECT count(*) FROM moves", DST) == str(n)
    for rows in ("SELECT id, owner, balance, note FROM accounts ORDER BY id",
                 "SELECT id, account, amount, at FROM moves ORDER BY id"):
        assert psql(rows, SRC) == psql(rows, DST)

    # The change log holds each writer transaction's events exactly once: a
    # +I of the move, a +U of the account, a -D of the previous transaction's
    # account (none for the first) and a +I of its own.
    expected = []
    for i in written:
        expected.append(f"moves|+I|{i}")
        expected.append(f"accounts|+U|{i % 2000 + 1}")
        if i > 1:
            expected.append(f"accounts|-D|{3000 + i - 1}")
        expected.append(f"accounts|+I|{3000 + i}")
    events = psql("SELECT 'moves|' || _ds_op || '|' || amount::int FROM log.moves UNION ALL "
                  "SELECT 'accounts|' || _ds_op || '|' || id FROM log.accounts", DST).splitlines()
    assert sorted(events) == sorted(expected)
    # Each update is told apart by the balance it leaves (it only grows).
    assert psql("SELECT count(*) FROM (SELECT DISTINCT id, balance FROM log.accounts WHERE _ds_op = '+U') u",
                DST) == str(n)
    # Positions and sequences: unique, and in the writer's commit order; the
    # events of one transaction share its position: none is committed in
    # parts (a table first seen inside a transaction was prepared before the
    # stream started, schema/changelog.hpp).
    positioned = "_ds_position <> ''"
    for table in ("moves", "accounts"):
        assert psql(f"SELECT count(*) FROM log.{table} WHERE NOT {positioned}", DST) == "0"
        assert psql(f"SELECT count(*) FROM (SELECT _ds_position, _ds_seq FROM log.{table} WHERE {positioned} "
                    "GROUP BY 1, 2 HAVING count(*) > 1) d", DST) == "0"
        assert psql(f"SELECT count(*) FROM log.{table} WHERE _ds_position IS NULL", DST) == "0"
    order = psql(f"SELECT amount::int FROM log.moves WHERE {positioned} ORDER BY _ds_position::pg_lsn, _ds_seq",
                 DST).splitlines()
    assert order == sorted(order, key=int)
    assert psql("SELECT count(*) FROM log.moves m JOIN log.accounts a ON a.id = 3000 + m.amount::int "
                f"AND a._ds_op = '+I' WHERE m.{positioned} AND (a._ds_position::pg_lsn < m._ds_position::pg_lsn "
                "OR (a._ds_position = m._ds_position AND a._ds_seq <= m._ds_seq))", DST) == "0"
    assert psql("SELECT count(*) FROM log.moves m JOIN log.accounts a ON a.id = 3000 + m.amount::int "
                "AND a._ds_op = '+I' WHERE a._ds_position <> m._ds_position", DST) == "0"
    cleanup(log_yaml_path)


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
    cleanup(yaml)


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


def pg_ctl(*args: str) -> subprocess.CompletedProcess:
    """Runs pg_ctl on the scripts/db server (as its owner when we are root)."""
    base = Path(os.environ.get("DS_DB_DIR") or Path(__file__).resolve().parents[2] / ".local" / "db") / "pg"
    data = (base / "data").resolve()
    if not (data / "postmaster.pid").exists():
        pytest.skip(f"the PostgreSQL server is not run by scripts/db from {data}")
    bindir = os.environ.get("DS_PG_BINDIR", "/usr/lib/postgresql/15/bin")
    cmd = [f"{bindir}/pg_ctl", "-D", str(data), "-l", str((base / "log").resolve() / "postgresql.log"), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    # The server must not inherit our pipes: a reader would wait for it to exit.
    return subprocess.run(cmd, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=120)


@pytest.mark.parametrize("sink", ["sqlite", "postgres"])
def test_source_server_restart_is_reconnected(databases, tmp_path, sink):
    yaml = pipeline(tmp_path, sink=sink, mode="cdc", name=f"cdc_restart_{sink}")
    if sink == "sqlite":
        def target(sql):
            with sqlite3.connect(tmp_path / "cdc.db") as db:
                return "|".join(str(v) for v in db.execute(sql).fetchone())
    else:
        def target(sql):
            return psql(sql, DST)
    count = "SELECT count(*), sum(CAST(amount AS integer)) FROM moves"
    proc = start(yaml)
    try:
        assert wait_for(lambda: psql("SELECT count(*) FROM pg_stat_replication WHERE application_name LIKE "
                                     "'datasync cdc_restart%'") == "1", proc=proc)
        # Changes committed just before the restart, some likely not yet streamed.
        for i in range(1, 51):
            psql(f"INSERT INTO moves (account, amount, at) VALUES (1, {i}, now())", SRC)
        try:
            assert pg_ctl("-m", "fast", "-w", "-t", "60", "restart").returncode == 0
        finally:
            if pg_ctl("status").returncode != 0:
                pg_ctl("-w", "-t", "60", "start")
        psql("INSERT INTO moves (account, amount, at) SELECT 2, i, now() FROM generate_series(51, 100) i", SRC)
        assert wait_for(lambda: _safe(target, count) == "100|5050", 90, proc=proc)
    finally:
        err = stop(proc)
    assert "retry" in err
    assert _safe(target, count) == "100|5050"
    cleanup(yaml)


def run_to_not_found(yaml: Path) -> None:
    """The next run fails at once, naming the slot and the way out (--fresh)."""
    try:
        result = subprocess.run([CLI, "run", "--quiet", str(yaml)], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the pipeline ran on instead of failing: {e.stderr}")
    assert result.returncode == 1, result.stderr
    assert "DS_ERR_NOT_FOUND" in result.stderr, result.stderr
    assert "datasync_cdc_fault" in result.stderr and "--fresh" in result.stderr, result.stderr


def stream_first_change(proc: subprocess.Popen) -> None:
    """Waits until the pipeline streams, then until a change made after that has reached the target."""
    # Mode cdc streams from the slot's creation: a change made before it is not seen.
    assert wait_for(lambda: psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_fault' "
                                 "AND active") == "1", proc=proc)
    psql("INSERT INTO moves (account, amount, at) VALUES (1, 1, now())", SRC)
    assert wait_for(lambda: psql("SELECT to_regclass('public.moves') IS NOT NULL", DST) == "t"
                    and psql("SELECT count(*) FROM moves", DST) == "1", proc=proc)


def stream_once(yaml: Path):
    """Runs the pipeline until one change has reached the target, then stops it."""
    proc = start(yaml)
    try:
        stream_first_change(proc)
    finally:
        stop(proc)
    # The stopped walsender frees the slot.
    assert wait_for(lambda: psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_fault' "
                                 "AND active") == "0", 30)


def test_slot_dropped_while_stopped_is_a_clear_error(databases, tmp_path):
    yaml = pipeline(tmp_path, mode="cdc", name="cdc_fault")
    stream_once(yaml)
    psql("SELECT pg_drop_replication_slot('datasync_cdc_fault')")
    psql("INSERT INTO moves (account, amount, at) VALUES (1, 2, now())", SRC)  # would be lost by a new slot
    run_to_not_found(yaml)
    cleanup(yaml)


def test_slot_dropped_while_running_is_a_clear_error(databases, tmp_path):
    yaml = pipeline(tmp_path, mode="cdc", name="cdc_fault")
    proc = start(yaml)
    try:
        stream_first_change(proc)
        # An active slot cannot be dropped: end its walsender first (the
        # pipeline reconnects within moments, so try until the drop wins).
        for _ in range(100):
            psql("DO $$ BEGIN PERFORM pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots "
                 "WHERE slot_name = 'datasync_cdc_fault' AND active_pid IS NOT NULL; "
                 "PERFORM pg_drop_replication_slot('datasync_cdc_fault'); "
                 "EXCEPTION WHEN object_in_use THEN NULL; END $$")
            if psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_fault'") == "0":
                break
        assert psql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'datasync_cdc_fault'") == "0"
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert "DS_ERR_NOT_FOUND" in err and "datasync_cdc_fault" in err and "--fresh" in err, err


def test_publication_missing_is_a_clear_error(databases, tmp_path):
    yaml = pipeline(tmp_path, mode="cdc", name="cdc_fault")
    stream_once(yaml)
    psql("DROP PUBLICATION datasync_cdc_fault", SRC)
    psql("INSERT INTO moves (account, amount, at) VALUES (1, 2, now())", SRC)
    run_to_not_found(yaml)
    cleanup(yaml)
