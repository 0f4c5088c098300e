"""Integration checks for the private database servers started by `scripts/db`.

Runs against the PostgreSQL 15 and MariaDB 10.11 instances managed by
`scripts/db up` (called by the session fixture below; it is idempotent, so it
is fine if the test runner already started them).  Everything goes over TCP
to 127.0.0.1 through the `psql` and `mariadb` command-line clients; no Python
database drivers are needed.

    scripts/db up && python3 -m pytest tests/integration/test_servers.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DB_SCRIPT = REPO_ROOT / "scripts" / "db"
TIMEOUT = 120  # seconds for any single subprocess


def _run(args, *, env=None, input=None, check=False):
    return subprocess.run(
        [str(a) for a in args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=check,
    )


def _db(*args):
    return _run([DB_SCRIPT, *args])


def _parse_env(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"export ([A-Z_][A-Z0-9_]*)=(.*)", line.strip())
        if m:
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[m.group(1)] = value
    return out


# --------------------------------------------------------------- fixtures --
@pytest.fixture(scope="session")
def servers() -> dict[str, str]:
    """Start (or confirm) both servers; return the `scripts/db env` settings."""
    assert DB_SCRIPT.is_file(), f"{DB_SCRIPT} missing"
    assert os.access(DB_SCRIPT, os.X_OK), f"{DB_SCRIPT} is not executable"
    up = _db("up")
    assert up.returncode == 0, f"scripts/db up failed:\n{up.stdout}\n{up.stderr}"
    env = _db("env")
    assert env.returncode == 0, env.stderr
    settings = _parse_env(env.stdout)
    for key in (
        "DS_PG_HOST", "DS_PG_PORT", "DS_PG_USER", "DS_PG_PASSWORD", "DS_PG_DATABASE",
        "DS_MARIADB_HOST", "DS_MARIADB_PORT", "DS_MARIADB_USER",
        "DS_MARIADB_PASSWORD", "DS_MARIADB_DATABASE",
    ):
        assert settings.get(key), f"`scripts/db env` does not export {key}:\n{env.stdout}"
    for tool in ("psql", "mariadb"):
        assert shutil.which(tool), f"{tool} client not on PATH"
    return settings


def _pg_env(password: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD=password, PGPASSFILE=os.devnull, PGCONNECT_TIMEOUT="10",
               PGSSLMODE="disable", PGAPPNAME="datasync-test")
    return env


def _pg_conninfo(s, extra: str = "") -> str:
    info = (f"host={s['DS_PG_HOST']} port={s['DS_PG_PORT']} "
            f"user={s['DS_PG_USER']} dbname={s['DS_PG_DATABASE']}")
    return f"{info} {extra}".strip()


def psql(s, sql: str, *, password: str | None = None, extra: str = ""):
    """Run SQL through psql over TCP; returns CompletedProcess (unchecked)."""
    return _run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
         "-d", _pg_conninfo(s, extra), "-c", sql],
        env=_pg_env(s["DS_PG_PASSWORD"] if password is None else password),
    )


def pg_value(s, sql: str, **kw) -> str:
    r = psql(s, sql, **kw)
    assert r.returncode == 0, f"psql failed ({r.returncode}): {sql}\n{r.stderr}"
    return r.stdout.strip()


def mariadb(s, sql: str, *, password: str | None = None, extra=()):
    """Run SQL through the mariadb client over TCP; returns CompletedProcess."""
    pw = s["DS_MARIADB_PASSWORD"] if password is None else password
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL")}
    env["MYSQL_PWD"] = pw  # keeps the password off the command line
    return _run(
        ["mariadb", "--no-defaults", "--protocol=TCP",
         "-h", s["DS_MARIADB_HOST"], "-P", s["DS_MARIADB_PORT"],
         "-u", s["DS_MARIADB_USER"], "--connect-timeout=10",
         "-N", "-B", *extra, "-e", sql, s["DS_MARIADB_DATABASE"]],
        env=env,
    )


def my_value(s, sql: str, **kw) -> str:
    r = mariadb(s, sql, **kw)
    assert r.returncode == 0, f"mariadb failed ({r.returncode}): {sql}\n{r.stderr}"
    return r.stdout.strip()


def my_variable(s, name: str) -> str:
    out = my_value(s, f"SHOW GLOBAL VARIABLES LIKE '{name}'")
    assert out, f"variable {name} not found"
    key, _, value = out.partition("\t")
    assert key == name
    return value


# ------------------------------------------------------------- scripts/db --
def test_status_exits_zero(servers):
    r = _db("status")
    assert r.returncode == 0, f"status rc={r.returncode}\n{r.stdout}\n{r.stderr}"
    assert re.search(r"postgresql:\s+running", r.stdout), r.stdout
    assert re.search(r"mariadb:\s+running", r.stdout), r.stdout
    assert servers["DS_PG_PORT"] in r.stdout and servers["DS_MARIADB_PORT"] in r.stdout


def test_up_is_idempotent(servers):
    for _ in range(2):
        r = _db("up")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert "already running" in r.stdout, r.stdout
    assert _db("status").returncode == 0


def test_env_output_is_shell_exports(servers):
    r = _db("env")
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("export DS_") for ln in lines), r.stdout
    assert servers["DS_PG_HOST"] == "127.0.0.1"
    assert servers["DS_MARIADB_HOST"] == "127.0.0.1"
    assert servers["DS_PG_USER"] == servers["DS_MARIADB_USER"] == "datasync"
    assert servers["DS_PG_DATABASE"] == servers["DS_MARIADB_DATABASE"] == "datasync"


def test_bad_usage_fails():
    assert _db("frobnicate").returncode != 0


# ------------------------------------------------------------- PostgreSQL --
def test_pg_version_15(servers):
    assert pg_value(servers, "SHOW server_version_num").startswith("15")
    assert pg_value(servers, "SELECT version()").startswith("PostgreSQL 15.")


def test_pg_settings(servers):
    assert pg_value(servers, "SHOW wal_level") == "logical"
    assert int(pg_value(servers, "SHOW max_replication_slots")) >= 20
    assert int(pg_value(servers, "SHOW max_wal_senders")) >= 20
    assert pg_value(servers, "SHOW listen_addresses") == "127.0.0.1"
    assert pg_value(servers, "SHOW port") == servers["DS_PG_PORT"]
    assert pg_value(servers, "SHOW server_encoding") == "UTF8"


def test_pg_user_is_superuser_with_replication(servers):
    row = pg_value(servers, "SELECT current_user, rolsuper, rolreplication "
                            "FROM pg_roles WHERE rolname = current_user")
    assert row == "datasync|t|t"
    assert pg_value(servers, "SELECT current_database()") == "datasync"


def test_pg_wrong_password_refused(servers):
    r = psql(servers, "SELECT 1", password="definitely-wrong")
    assert r.returncode != 0
    assert "password authentication failed" in r.stderr, r.stderr


def test_pg_logical_slot_pgoutput(servers):
    slot = f"ds_test_{uuid.uuid4().hex[:12]}"
    try:
        created = pg_value(servers, f"SELECT slot_name FROM "
                                    f"pg_create_logical_replication_slot('{slot}', 'pgoutput')")
        assert created == slot
        out = pg_value(servers, f"SELECT slot_name, plugin, slot_type, database FROM "
                                f"pg_replication_slots WHERE slot_name = '{slot}'")
        assert out == f"{slot}|pgoutput|logical|datasync"
        dropped = psql(servers, f"SELECT pg_drop_replication_slot('{slot}')")
        assert dropped.returncode == 0, dropped.stderr
    finally:
        psql(servers, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                      f"WHERE slot_name = '{slot}'")
    assert pg_value(servers, f"SELECT count(*) FROM pg_replication_slots "
                             f"WHERE slot_name = '{slot}'") == "0"


def test_pg_logical_decoding_sees_changes(servers):
    """End-to-end: a change is decoded from WAL (test_decoding ships with PG)."""
    slot = f"ds_dec_{uuid.uuid4().hex[:12]}"
    table = f"ds_dec_{uuid.uuid4().hex[:8]}"
    try:
        pg_value(servers, f"SELECT 1 FROM pg_create_logical_replication_slot('{slot}', 'test_decoding')")
        pg_value(servers, f"CREATE TABLE {table} (id int PRIMARY KEY, v text); "
                          f"INSERT INTO {table} VALUES (1, 'Zoë');")
        changes = pg_value(servers, f"SELECT data FROM pg_logical_slot_get_changes('{slot}', NULL, NULL)")
        assert f"table public.{table}: INSERT: id[integer]:1 v[text]:'Zoë'" in changes, changes
    finally:
        psql(servers, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                      f"WHERE slot_name = '{slot}'")
        psql(servers, f"DROP TABLE IF EXISTS {table}")


def test_pg_replication_connections_allowed(servers):
    # Physical replication protocol: matched by the `replication` pg_hba entry.
    r = psql(servers, "IDENTIFY_SYSTEM", extra="replication=true")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().split("|")[1] == "1"  # timeline
    # Logical walsender (what a CDC client uses): temporary pgoutput slot.
    slot = f"ds_ws_{uuid.uuid4().hex[:12]}"
    r = psql(servers, f"CREATE_REPLICATION_SLOT {slot} TEMPORARY LOGICAL pgoutput",
             extra="replication=database")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().split("|")[0] == slot
    assert r.stdout.strip().split("|")[-1] == "pgoutput"


# ---------------------------------------------------------------- MariaDB --
def test_mariadb_version_10_11(servers):
    version = my_value(servers, "SELECT VERSION()")
    assert version.startswith("10.11."), version
    assert "MariaDB" in version


@pytest.mark.parametrize(
    "name,expected",
    [
        ("binlog_format", "ROW"),
        ("log_bin", "ON"),
        ("binlog_row_metadata", "FULL"),
        ("binlog_row_image", "FULL"),
        ("gtid_strict_mode", "ON"),
        ("local_infile", "ON"),
        ("server_id", "1"),
        ("bind_address", "127.0.0.1"),
        ("character_set_server", "utf8mb4"),
        ("skip_name_resolve", "ON"),
    ],
)
def test_mariadb_variable(servers, name, expected):
    assert my_variable(servers, name) == expected


def test_mariadb_port(servers):
    assert my_variable(servers, "port") == servers["DS_MARIADB_PORT"]


def test_mariadb_user_can_connect(servers):
    user = my_value(servers, "SELECT CURRENT_USER(), DATABASE()")
    assert user == "datasync@127.0.0.1\tdatasync"


def test_mariadb_user_has_replication_privileges(servers):
    grants = my_value(servers, "SHOW GRANTS")
    assert "GRANT ALL PRIVILEGES ON *.* TO `datasync`@`127.0.0.1`" in grants, grants
    # A CDC reader needs these; they work only with REPLICATION SLAVE/CLIENT
    # (BINLOG MONITOR / REPLICATION SLAVE in MariaDB 10.5+ terms).
    status = my_value(servers, "SHOW MASTER STATUS")
    assert status.startswith("mariadb-bin."), status
    assert my_value(servers, "SELECT @@gtid_binlog_pos") is not None
    logs = mariadb(servers, "SHOW BINARY LOGS")
    assert logs.returncode == 0, logs.stderr


def test_mariadb_wrong_password_refused(servers):
    r = mariadb(servers, "SELECT 1", password="definitely-wrong")
    assert r.returncode != 0
    assert "Access denied" in r.stderr, r.stderr


def test_mariadb_load_data_local_infile(servers, tmp_path):
    data = tmp_path / "rows.tsv"
    data.write_text("1\tZoë\n2\t東京\n3\t🚀\n", encoding="utf-8")
    table = f"ds_lli_{uuid.uuid4().hex[:8]}"
    try:
        out = my_value(
            servers,
            f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(20)) "
            f"CHARACTER SET utf8mb4; "
            f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE {table} CHARACTER SET utf8mb4; "
            f"SELECT COUNT(*), SUM(CHAR_LENGTH(name)) FROM {table};",
            extra=("--local-infile=1", "--default-character-set=utf8mb4"),
        )
        assert out == "3\t6"  # Zoë + 東京 + 🚀
    finally:
        mariadb(servers, f"DROP TABLE IF EXISTS {table}")


def test_mariadb_binlog_has_row_events(servers):
    table = f"ds_bin_{uuid.uuid4().hex[:8]}"
    try:
        before = my_value(servers, "SHOW MASTER STATUS").split("\t")
        my_value(servers, f"CREATE TABLE {table} (id INT PRIMARY KEY); "
                          f"INSERT INTO {table} VALUES (1);")
        events = my_value(servers, f"SHOW BINLOG EVENTS IN '{before[0]}' FROM {before[1]}")
        kinds = {line.split("\t")[2] for line in events.splitlines()}
        assert {"Gtid", "Table_map", "Write_rows_v1"} <= kinds, kinds
    finally:
        mariadb(servers, f"DROP TABLE IF EXISTS {table}")
