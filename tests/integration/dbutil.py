"""Shared helpers of the integration tests (imported as `dbutil`): the SQL
clients of the scripts/db servers, database and replication-slot resets,
pipeline YAML connection blocks and the installed `datasync` command.

Everything goes through the `psql` and `mariadb` command-line clients, as in
test_servers.py: the tests need no Python database drivers, and a failing
statement fails the test with the server's own message."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The console script installed beside this interpreter: the tests run what users run.
CLI = str(Path(sys.executable).parent / "datasync")


def env(name: str) -> str:
    """A `scripts/db env` setting; a clear failure, not a KeyError, when the shell lacks it."""
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run `eval \"$(scripts/db env)\"` after `scripts/db up`")
    return value


# ------------------------------------------------------------------ the clients


def _psql_run(database: str, args: list, *, input: Optional[str] = None, timeout: float = 120) -> str:
    result = subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", env("DS_PG_HOST"), "-p", env("DS_PG_PORT"),
         "-U", env("DS_PG_USER"), "-d", database, *args],
        input=input, capture_output=True, text=True,
        env={**os.environ, "PGPASSWORD": env("DS_PG_PASSWORD")}, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout


def psql(sql: str, database: str = "datasync", *, timeout: float = 120) -> str:
    """Runs SQL as one `psql -c` string (so several statements share one
    implicit transaction); returns unaligned rows, columns split by `|`,
    without surrounding white space."""
    return _psql_run(database, ["-c", sql], timeout=timeout).strip()


def psql_script(sql: str, database: str, *, timeout: float = 120) -> str:
    """Runs SQL fed to psql on stdin, statement by statement (a SET holds for
    the statements after it); returns unaligned rows with the values'
    own leading and trailing spaces kept."""
    return _psql_run(database, [], input=sql, timeout=timeout).strip("\n")


def maria(sql: str, database: str = "datasync", *, raw: bool = False, canonical: bool = False,
          timeout: float = 120) -> str:
    """Runs SQL through the mariadb client; returns tab-separated rows.

    raw: values unescaped (a tab or newline in a value is itself, not `\\t`).
    canonical: utf8mb4 on the connection and a UTC session, so that values read
    the same as the other servers'."""
    options = ["--default-character-set=utf8mb4"] if canonical else []
    options += ["--batch", *(["--raw"] if raw else []), "--skip-column-names"]
    options += ["--init-command=SET time_zone = '+00:00'"] if canonical else []
    result = subprocess.run(
        ["mariadb", "--no-defaults", "-h", env("DS_MARIADB_HOST"), "-P", env("DS_MARIADB_PORT"),
         "-u", env("DS_MARIADB_USER"), f"-p{env('DS_MARIADB_PASSWORD')}", *options, database],
        input=sql, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout.rstrip("\n")


# ------------------------------------------------------------ resets


def drop_pg_databases(*names: str) -> None:
    """Drops PostgreSQL databases, ending their sessions (WITH FORCE)."""
    for name in names:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def create_pg_databases(*names: str) -> None:
    """Creates empty PostgreSQL databases, dropping any left by an earlier run."""
    for name in names:
        drop_pg_databases(name)
        psql(f"CREATE DATABASE {name}")


def drop_slots(database: str) -> None:
    """Drops every replication slot of a PostgreSQL database. An active slot
    cannot be dropped, and a stopped pipeline's walsender may take a moment to
    exit and free its slot: the walsenders are ended first, until none is left."""
    for _ in range(50):
        psql(f"SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{database}' "
             "AND active_pid IS NOT NULL")
        if psql(f"SELECT count(*) FROM pg_replication_slots WHERE database = '{database}' AND active") == "0":
            break
        time.sleep(0.1)
    psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{database}'")


# ------------------------------------------------------------ pipelines


def connection(kind: str, database: str, password: str = "") -> str:
    """The YAML lines of a `source:` or `sink:` of the postgres or mariadb
    server, its settings as ${VAR}s of `scripts/db env` (so no secret is
    written to the file); `password` replaces the server's own."""
    prefix = "DS_MARIADB" if kind == "mariadb" else "DS_PG"
    return (f"  type: {kind}\n  host: ${{{prefix}_HOST}}\n  port: ${{{prefix}_PORT}}\n  user: ${{{prefix}_USER}}\n"
            f"  password: {password or '${' + prefix + '_PASSWORD}'}\n  database: {database}\n")


def start(path: Path) -> subprocess.Popen:
    """Starts `datasync run --quiet` on a pipeline, its output read at the end."""
    return subprocess.Popen([CLI, "run", "--quiet", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop(proc: subprocess.Popen) -> str:
    """Stops a running pipeline with SIGTERM, which must end it cleanly (exit 143); returns its stderr."""
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    return err


def cleanup(path: Path) -> subprocess.CompletedProcess:
    """`datasync cleanup`: drops what a CDC pipeline left on its source (slot, publication)."""
    return subprocess.run([CLI, "cleanup", str(path)], capture_output=True, text=True, timeout=60)


# Small splits and batches in parallel: a copy of 1.5 million rows lasts long
# enough for sigkill_runs() to catch it mid-way, with checkpoints behind it.
KILLABLE = "  parallelism: 2\n  split_rows: 100000\n  batch_rows: 2000\n"


def sigkill_runs(path: Path, delays: Iterable[float], progress: Optional[Callable[[], int]] = None) -> None:
    """Starts the pipeline once per delay and SIGKILLs it that many seconds
    later; at least one run must have been killed before it finished. With
    `progress` (rows in the target so far), a run is killed as soon as it has
    committed rows beyond what the runs before it left, so a fast machine
    cannot finish the copy before the kill."""
    killed = 0
    seen = progress() if progress else 0
    for delay in delays:
        proc = subprocess.Popen([CLI, "run", "--quiet", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + delay
        while proc.poll() is None and time.monotonic() < deadline:
            if progress and progress() > seen:
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        if progress:
            seen = progress()
    assert killed >= 1, "the copy finished before it could be killed; make the table larger"
