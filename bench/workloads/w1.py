"""W1: MariaDB -> PostgreSQL, one table of mixed types (issue 4).

The source database `w1_src` of the MariaDB server holds one table `w1_rows`
(bigint key, int, varchar(40), decimal(12,2), double, datetime(6), ~100-byte
text, a nullable varchar ~10 % NULL). It is generated inside MariaDB from the
SEQUENCE engine with deterministic expressions of the row number, made once
and kept (a table comment carries the generator version, the size and the
source checksum). Some texts hold a tab, a newline, CR LF, backslashes, the
literal strings `NULL` and `\\N` and 4-byte UTF-8; the nullable column holds
NULL, `''`, `'NULL'` and `'\\N'`, so a pipe that confuses them is caught.

Every run of every contender starts from an empty PostgreSQL database `w1_dst`
(dropped, created, CHECKPOINT, untimed). After each run the row count and an
order-independent checksum of every value are compared with the source's
(untimed).

Contenders: datasync (mariadb source -> postgres sink) with parallelism 1 and
2, the pipe `mariadb --quick --batch --raw -e "SELECT <escaped> ..." | psql -c
"COPY .. FROM STDIN"` into a pre-created table (the practical ceiling), and
pgloader (when installed).

Size: `--rows N` or `--set w1.rows=N` (default 200,000: a smoke run).
`--set w1.verify=count` checks row counts only (skips the checksums).
The W1b workload (w1b.py) runs the other direction with the pieces below.
"""

from __future__ import annotations

import copy
import os
import shlex
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import Contender, Goal, VerifyError, Workload, at_least_ratio, at_most_rss, read_summary, write_pipeline
from .w2 import Server as PgServer
from .w2 import at_most_cpu_per_mrows, server_cpu_s

DEFAULT_ROWS = 200_000
DESCRIPTION = ("MariaDB -> PostgreSQL, one table of mixed types (~190 B/row); goals >= 4x pgloader, >= 0.9x the "
               "mariadb|psql COPY pipe, <= 1 CPU s/M rows, RSS <= 256 MiB")
GEN_VERSION = "w1-gen-v1"
TABLE = "w1_rows"
SRC_DB = "w1_src"
DST_DB = "w1_dst"
CHUNK_ROWS = 500_000  # rows per INSERT .. SELECT statement, each committed on its own
GOAL_PGLOADER_RATIO = 4.0
GOAL_PIPE_RATIO = 0.9
GOAL_CPU_PER_MROWS = 1.0
GOAL_RSS_MIB = 256

PIPE = "mariadb|psql COPY pipe"
PGLOADER = "pgloader"


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Column:
    name: str
    mariadb: str
    postgres: str
    text: bool  # a string: needs COPY text escaping in a pipe
    nullable: bool


COLUMNS = (
    Column("id", "bigint", "bigint", False, False),
    Column("c_int", "int", "integer", False, False),
    Column("c_varchar", "varchar(40)", "varchar(40)", True, False),
    Column("c_decimal", "decimal(12,2)", "numeric(12,2)", False, False),
    Column("c_double", "double", "double precision", False, False),
    Column("c_datetime", "datetime(6)", "timestamp(6)", False, False),
    Column("c_text", "text", "text", True, False),
    Column("c_nullable", "varchar(40)", "varchar(40)", True, True),
)


def mariadb_ddl(table: str = TABLE) -> str:
    cols = ",\n  ".join(f"{c.name} {c.mariadb}{'' if c.nullable else ' NOT NULL'}" for c in COLUMNS)
    return f"CREATE TABLE {table} (\n  {cols},\n  PRIMARY KEY (id)\n) ENGINE=InnoDB"


def postgres_ddl(table: str = f"public.{TABLE}") -> str:
    cols = ",\n  ".join(f"{c.name} {c.postgres}{'' if c.nullable else ' NOT NULL'}" for c in COLUMNS)
    return f"CREATE TABLE {table} (\n  {cols},\n  PRIMARY KEY (id)\n)"


# The values, as one list of SQL expressions of the row number `i` per dialect.
# Both dialects must give the same values: the checksums below compare them.
# Special characters are written as CHAR()/chr() so that no literal depends on
# the session's backslash handling.
def _text_cases(d: Dict[str, str]) -> str:
    base = ("LEFT({concat}(MD5({i}), ' ', MD5({i} * 31), ' ', MD5({i} * 97), ' ', MD5({i} * 7)), {n})"
            if d["name"] == "mariadb" else
            "left(md5(i::text) || ' ' || md5((i * 31)::text) || ' ' || md5((i * 97)::text) || ' ' || "
            "md5((i * 7)::text), ({n})::int)")
    tab, lf, cr, bs = d["tab"], d["lf"], d["cr"], d["bs"]
    cat = d["cat"]
    short = base.format(concat="CONCAT", i="i", n="80 + i % 31")
    return (
        "CASE i % 50\n"
        f"    WHEN 0 THEN {cat(short, tab, repr_sql('tab'))}\n"
        f"    WHEN 1 THEN {cat(short, lf, repr_sql('new line'))}\n"
        f"    WHEN 2 THEN {cat(short, repr_sql(' back'), bs, repr_sql('slash'), bs)}\n"
        f"    WHEN 3 THEN {cat(short, cr, lf, repr_sql('crlf'))}\n"
        f"    WHEN 4 THEN {cat(short, repr_sql(' '), bs, repr_sql('N'))}\n"
        f"    WHEN 5 THEN {cat(short, repr_sql(' é € 😀 ñ'))}\n"
        "    WHEN 6 THEN 'NULL'\n"
        f"    WHEN 7 THEN {cat(bs, repr_sql('N'))}\n"
        f"    WHEN 8 THEN {cat(short, repr_sql(' '), bs, repr_sql('t is no tab'))}\n"
        f"    ELSE {base.format(concat='CONCAT', i='i', n='80 + i % 41')}\n"
        "  END")


def repr_sql(text: str) -> str:
    assert "'" not in text and "\\" not in text
    return f"'{text}'"


MARIADB_DIALECT = {
    "name": "mariadb",
    "tab": "CHAR(9 USING utf8mb4)", "lf": "CHAR(10 USING utf8mb4)", "cr": "CHAR(13 USING utf8mb4)",
    "bs": "CHAR(92 USING utf8mb4)",
    "cat": lambda *parts: "CONCAT(" + ", ".join(parts) + ")",
}
POSTGRES_DIALECT = {
    "name": "postgres",
    "tab": "chr(9)", "lf": "chr(10)", "cr": "chr(13)", "bs": "chr(92)",
    "cat": lambda *parts: "(" + " || ".join(parts) + ")",
}


def mariadb_fill(lo: int, hi: int) -> str:
    d = MARIADB_DIALECT
    return f"""INSERT INTO {TABLE}
SELECT i,
  (i * 7919) % 2000000011 - 1000000000,
  CONCAT('name-', i, '-', i % 977),
  ((i * 37) % 1000000000 - 500000000) / 100,
  CAST((i * 31) % 1000003 - 500000 AS DOUBLE) / 64,
  TIMESTAMP'2000-01-01 00:00:00' + INTERVAL i * 61 SECOND + INTERVAL (i * 7) % 1000000 MICROSECOND,
  {_text_cases(d)},
  CASE WHEN i % 10 = 3 THEN NULL WHEN i % 1000 = 7 THEN 'NULL' WHEN i % 1000 = 17 THEN {d['cat'](d['bs'], "'N'")}
       WHEN i % 1000 = 27 THEN '' ELSE CONCAT('v', i % 100000) END
FROM (SELECT CAST(seq AS SIGNED) AS i FROM seq_{lo}_to_{hi}) AS s"""


def postgres_fill(lo: int, hi: int) -> str:
    d = POSTGRES_DIALECT
    return f"""INSERT INTO public.{TABLE}
SELECT i,
  ((i * 7919) % 2000000011 - 1000000000)::int,
  'name-' || i || '-' || i % 977,
  (((i * 37) % 1000000000 - 500000000) / 100.0)::numeric(12,2),
  ((i * 31) % 1000003 - 500000)::float8 / 64,
  timestamp '2000-01-01 00:00:00' + (i * 61) * interval '1 second' + ((i * 7) % 1000000) * interval '1 microsecond',
  {_text_cases(d)},
  CASE WHEN i % 10 = 3 THEN NULL WHEN i % 1000 = 7 THEN 'NULL' WHEN i % 1000 = 17 THEN {d['cat'](d['bs'], "'N'")}
       WHEN i % 1000 = 27 THEN '' ELSE 'v' || i % 100000 END
FROM generate_series({lo}::bigint, {hi}::bigint) AS i"""


# An order-independent checksum of every value: the sum over the rows of 60
# bits of the MD5 of the row's canonical text. Numbers print alike in both
# dialects for these values (decimals keep their scale, the doubles are
# multiples of 1/64); datetimes are formatted explicitly (a timestamptz made
# by a peer is read in UTC: the checks run with TimeZone UTC).
def mariadb_checksum_sql(table: str) -> str:
    row = ("CONCAT_WS('|', id, c_int, c_varchar, c_decimal, c_double, "
           "DATE_FORMAT(c_datetime, '%Y-%m-%d %H:%i:%s.%f'), c_text, IFNULL(c_nullable, '<NULL>'))")
    return (f"SELECT COUNT(*), COALESCE(SUM(CAST(CONV(LEFT(MD5({row}), 15), 16, 10) AS UNSIGNED)), 0) "
            f"FROM {table}")


def postgres_checksum_sql(table: str) -> str:
    row = ("concat_ws('|', id, c_int, c_varchar, c_decimal, c_double, "
           "to_char(c_datetime, 'YYYY-MM-DD HH24:MI:SS.US'), c_text, coalesce(c_nullable, '<NULL>'))")
    return f"SELECT count(*), coalesce(sum(('x' || left(md5({row}), 15))::bit(60)::bigint), 0) FROM {table}"


Checksum = Tuple[int, int]  # (rows, sum)


def parse_checksum(text: str) -> Checksum:
    parts = text.replace("|", "\t").split("\t")
    return int(parts[0]), int(parts[1])


# ------------------------------------------------------------------ MariaDB access
class Mariadb:
    """The MariaDB server through its command-line client. The password goes
    through MYSQL_PWD, never a command line; --no-defaults keeps option files
    of the machine out of the measurement."""

    def __init__(self, repo: str) -> None:
        env = os.environ
        self.host = env.get("DS_MARIADB_HOST", "127.0.0.1")
        self.port = int(env.get("DS_MARIADB_PORT", "53306"))
        self.user = env.get("DS_MARIADB_USER", "datasync")
        self.password = env.get("DS_MARIADB_PASSWORD", "datasync")
        self.client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
        self.repo = repo

    def env(self) -> Dict[str, str]:
        return {"MYSQL_PWD": self.password}

    def args(self, db: str = "", *extra: str) -> List[str]:
        out = [self.client, "--no-defaults", "-h", self.host, "-P", str(self.port), "-u", self.user,
               "--default-character-set=utf8mb4", *extra]
        return out + ([db] if db else [])

    def sql(self, db: str, text: str, check: bool = True) -> str:
        r = subprocess.run(self.args(db, "--batch", "--skip-column-names"), input=text, capture_output=True,
                           text=True, env=dict(os.environ, **self.env()))
        if check and r.returncode != 0:
            raise RuntimeError(f"mariadb on {db or '-'}: {text[:120]!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def db_exists(self, db: str) -> bool:
        return self.sql("", f"SELECT 1 FROM information_schema.schemata WHERE schema_name = '{db}'") == "1"

    def recreate(self, db: str) -> None:
        self.sql("", f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db} CHARACTER SET utf8mb4")

    def table_comment(self, db: str, table: str) -> Optional[str]:
        out = self.sql("", f"SELECT table_comment FROM information_schema.tables "
                           f"WHERE table_schema = '{db}' AND table_name = '{table}'")
        return out if out else None

    def variables(self, names: List[str]) -> Dict[str, str]:
        quoted = ", ".join(f"'{n}'" for n in names)
        out = self.sql("", f"SHOW GLOBAL VARIABLES WHERE variable_name IN ({quoted})")
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def settle(self, timeout: float = 60.0) -> None:
        """Flushes the buffer pool's dirty pages (left by the previous run's
        load) before the next run, as the PostgreSQL side's CHECKPOINT does:
        otherwise a run pays for its predecessor's writes. The global setting
        is restored at once."""
        old = self.sql("", "SELECT @@GLOBAL.innodb_max_dirty_pages_pct")
        try:
            self.sql("", "SET GLOBAL innodb_max_dirty_pages_pct = 0")
            deadline = time.time() + timeout
            while time.time() < deadline:
                dirty = self.sql("", "SELECT variable_value FROM information_schema.global_status "
                                     "WHERE variable_name = 'INNODB_BUFFER_POOL_PAGES_DIRTY'")
                if dirty.isdigit() and int(dirty) < 64:
                    break
                time.sleep(0.2)
        finally:
            self.sql("", f"SET GLOBAL innodb_max_dirty_pages_pct = {old}", check=False)

    def ensure_up(self) -> None:
        script = os.path.join(self.repo, "scripts", "db")
        if os.path.exists(script) and subprocess.run([script, "status"], capture_output=True).returncode != 0:
            subprocess.run([script, "up"], check=True, stdout=subprocess.DEVNULL)

    def pid(self) -> Optional[int]:
        try:
            with open(self.sql("", "SELECT @@GLOBAL.pid_file"), encoding="utf-8") as f:
                return int(f.readline().strip())
        except (OSError, ValueError, RuntimeError):
            return None

    def version(self) -> str:
        return self.sql("", "SELECT VERSION()")


def process_cpu_s(pid: Optional[int]) -> Optional[float]:
    """utime + stime of one process (all its threads): mariadbd is one process."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_env(srv: PgServer) -> Dict[str, str]:
    return dict(srv.env(), PGCLIENTENCODING="UTF8", PGTZ="UTC", PGDATESTYLE="ISO")


def pg_sql(srv: PgServer, db: str, sql: str) -> str:
    r = subprocess.run([srv.tool("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"] + srv.conn_args(db)
                       + ["-c", sql], capture_output=True, text=True, env=dict(os.environ, **pg_env(srv)))
    if r.returncode != 0:
        raise RuntimeError(f"psql on {db}: {sql[:120]!r}: {r.stderr.strip()}")
    return r.stdout.strip()


def pg_find_table(srv: PgServer, db: str) -> Tuple[Optional[str], List[str]]:
    """The one table named w1_rows in `db` (whatever schema its maker chose) and its column types."""
    found = pg_sql(srv, db, f"SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
                            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = '{TABLE}' "
                            f"AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')")
    names = found.splitlines()
    if len(names) != 1:
        return None, names
    types = pg_sql(srv, db, f"SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute "
                            f"WHERE attrelid = '{names[0]}'::regclass AND attnum > 0 AND NOT attisdropped "
                            f"ORDER BY attnum")
    return names[0], types.splitlines()


def mariadb_find_table(my: Mariadb, db: str) -> Tuple[Optional[str], List[str]]:
    found = my.sql("", f"SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "
                       f"WHERE table_name = '{TABLE}' AND table_schema = '{db}'")
    if not found:
        elsewhere = my.sql("", f"SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables "
                               f"WHERE table_name LIKE '%{TABLE}%'")
        return None, elsewhere.splitlines()
    types = my.sql("", f"SELECT CONCAT(column_name, ' ', column_type) FROM information_schema.columns "
                       f"WHERE table_schema = '{db}' AND table_name = '{TABLE}' ORDER BY ordinal_position")
    return found, types.splitlines()


# ------------------------------------------------------------------ the source
def mariadb_source(ctx, my: Mariadb, db: str, rows: int) -> Checksum:
    """Makes (or reuses) db.w1_rows with `rows` rows; returns its checksum."""
    prefix = f"{GEN_VERSION} rows={rows} checksum="
    comment = my.table_comment(db, TABLE) if my.db_exists(db) else None
    if comment and comment.startswith(prefix):
        want = parse_checksum(comment[len(prefix):].replace(":", "\t"))
        count = my.sql(db, f"SELECT COUNT(*) FROM {TABLE}")
        if count.isdigit() and int(count) == want[0] == rows:
            return want
    ctx.log(f"making the source table {db}.{TABLE} in MariaDB: {rows:,} rows (kept for later runs) ...")
    t0 = time.time()
    my.recreate(db)
    script = ["SET SESSION sql_log_bin = 0;",  # a benchmark's fixture has no business in the binlog
              f"{mariadb_ddl()};"]
    for lo in range(1, rows + 1, CHUNK_ROWS):
        script.append(mariadb_fill(lo, min(rows, lo + CHUNK_ROWS - 1)) + ";")
    script.append(f"ANALYZE TABLE {TABLE};")
    my.sql(db, "\n".join(script))
    got = parse_checksum(my.sql(db, mariadb_checksum_sql(TABLE)))
    if got[0] != rows:
        raise SystemExit(f"bench: the generated source has {got[0]} rows, expected {rows}")
    my.sql(db, f"SET SESSION sql_log_bin = 0; ALTER TABLE {TABLE} COMMENT = '{prefix}{got[0]}:{got[1]}'")
    ctx.log(f"  made in {time.time() - t0:.0f} s")
    return got


def postgres_source(ctx, srv: PgServer, db: str, rows: int) -> Checksum:
    """Makes (or reuses) db.public.w1_rows with `rows` rows; returns its checksum."""
    prefix = f"{GEN_VERSION} rows={rows} checksum="
    if srv.db_exists(db):
        comment = pg_sql(srv, db, f"SELECT coalesce(obj_description(to_regclass('public.{TABLE}'), 'pg_class'), '')")
        if comment.startswith(prefix):
            want = parse_checksum(comment[len(prefix):].replace(":", "\t"))
            count = pg_sql(srv, db, f"SELECT count(*) FROM public.{TABLE}")
            if count.isdigit() and int(count) == want[0] == rows:
                return want
    ctx.log(f"making the source table {db}.public.{TABLE} in PostgreSQL: {rows:,} rows (kept for later runs) ...")
    t0 = time.time()
    srv.recreate(db)
    pg_sql(srv, db, postgres_ddl())
    for lo in range(1, rows + 1, CHUNK_ROWS):
        pg_sql(srv, db, postgres_fill(lo, min(rows, lo + CHUNK_ROWS - 1)))
    pg_sql(srv, db, f"VACUUM (FREEZE, ANALYZE) public.{TABLE}")
    got = parse_checksum(pg_sql(srv, db, postgres_checksum_sql(f"public.{TABLE}")))
    if got[0] != rows:
        raise SystemExit(f"bench: the generated source has {got[0]} rows, expected {rows}")
    pg_sql(srv, db, f"COMMENT ON TABLE public.{TABLE} IS '{prefix}{got[0]}:{got[1]}'")
    ctx.log(f"  made in {time.time() - t0:.0f} s")
    return got


# ------------------------------------------------------------------ shared plan pieces
def write_script(path: str, pipeline: str) -> str:
    """A peer's shell pipeline as a script (readable, and pipefail: a failing
    first stage fails the run)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"#!/bin/bash\n# Generated by bench/run.\nset -eo pipefail\n{pipeline}\n")
    return path


def datasync_knows(ctx, role: str, yaml_sections: Dict[str, Dict[str, Any]]) -> Tuple[bool, str]:
    """Whether the CLI has the connector a contender needs: a pipeline naming
    it against a database that does not exist fails on the connection when it
    does, on the configuration when it does not."""
    path = os.path.join(ctx.workdir, f"probe-{role}.yaml")
    write_pipeline(path, yaml_sections)
    cmd = ctx.datasync_run(path, os.path.join(ctx.workdir, f"probe-{role}.json"))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    text = (r.stdout + r.stderr).strip()
    kind = yaml_sections[role]["type"]
    unknown = f"unknown {role} type '{kind}'" in text
    return not unknown, text.splitlines()[-1] if text else f"exit {r.returncode}"


class RunHooks:
    """before/after hooks of the contenders: empty target, checksum check,
    server CPU of both servers (PostgreSQL: postmaster and children from /proc;
    MariaDB: the mariadbd process), the target's column types once per contender."""

    def __init__(self, ctx, rows: int, reset_target: Callable[[], None],
                 check_target: Callable[[], Tuple[Checksum, List[str]]], want: Checksum, verify: str,
                 postmaster: Optional[int], mariadbd: Optional[int]) -> None:
        self.ctx = ctx
        self.rows = rows
        self.reset_target = reset_target
        self.check_target = check_target
        self.want = want
        self.verify = verify
        self.postmaster = postmaster
        self.mariadbd = mariadbd
        self.server_cpu: Dict[str, List[Tuple[float, float]]] = {}
        self.types: Dict[str, List[str]] = {}

    def _cpu(self) -> Tuple[Optional[float], Optional[float]]:
        return server_cpu_s(self.postmaster), process_cpu_s(self.mariadbd)

    def make(self, name: str, prepare: Optional[Callable[[], None]] = None,
             extra_after: Optional[Callable[[], Dict[str, Any]]] = None):
        mark: Dict[str, Any] = {}

        def before() -> None:
            self.reset_target()
            if prepare:
                prepare()
            mark["cpu"] = self._cpu()

        def after() -> Dict[str, Any]:
            time.sleep(0.2)  # let the server backends exit and be reaped
            pg_now, my_now = self._cpu()
            out: Dict[str, Any] = {}
            pg0, my0 = mark.get("cpu", (None, None))
            if None not in (pg_now, pg0, my_now, my0):
                out["server_cpu_postgres_s"] = pg_now - pg0
                out["server_cpu_mariadb_s"] = my_now - my0
                self.server_cpu.setdefault(name, []).append((pg_now - pg0, my_now - my0))
                self.ctx.log(f"   ({name}: server CPU PostgreSQL {pg_now - pg0:.2f} s, MariaDB {my_now - my0:.2f} s)")
            got, types = self.check_target()
            self.types.setdefault(name, types)
            if got[0] != self.want[0]:
                raise VerifyError(f"{name}: the target has {got[0]:,} rows, the source {self.want[0]:,}")
            if self.verify != "count" and got[1] != self.want[1]:
                raise VerifyError(f"{name}: the target's checksum {got[1]} differs from the source's {self.want[1]}: "
                                  f"same row count, different values")
            if extra_after:
                out.update(extra_after())
            return out

        return before, after

    def notes(self, contenders: List[Contender]) -> List[str]:
        out = []
        for c in contenders:
            cpu = self.server_cpu.get(c.name)
            if cpu:
                pg = statistics.median(x[0] for x in cpu)
                my = statistics.median(x[1] for x in cpu)
                out.append(f"server CPU s (median) {c.name}: PostgreSQL {pg:.2f} + MariaDB {my:.2f} "
                           f"({(pg + my) / self.rows * 1e6:.3f} s per M rows)")
        for c in contenders:
            if c.name in self.types:
                out.append(f"target columns made by {c.name}: {', '.join(self.types[c.name])}")
        return out


def datasync_contenders(ctx, base: Dict[str, Dict[str, Any]], overridden: set, rows: int, hooks: RunHooks,
                        tag: str) -> List[Contender]:
    out: List[Contender] = []
    pars = [base["pipeline"]["parallelism"]] if "pipeline.parallelism" in overridden else [1, 2]
    for p in pars:
        name = f"datasync p{p}"
        if not (ctx.wants("datasync") or ctx.wants(name)):
            continue
        sections = copy.deepcopy(base)
        sections["pipeline"]["parallelism"] = p
        yaml_path = os.path.join(ctx.workdir, f"{tag}-p{p}.yaml")
        summary = os.path.join(ctx.workdir, f"{tag}-p{p}-summary.json")
        write_pipeline(yaml_path, sections)

        def engine_s(summary=summary) -> Dict[str, Any]:
            us = read_summary(summary).get("elapsed_us") or 0
            return {"engine_seconds": us / 1e6} if us > 0 else {}

        def rm_summary(summary=summary) -> None:
            if os.path.exists(summary):
                os.remove(summary)

        before, after = hooks.make(name, rm_summary, engine_s)
        out.append(Contender(name, "datasync", ctx.datasync_run(yaml_path, summary), rows, before=before,
                             after=after))
    return out


def common_goals(ds_names: List[str], pipe: Optional[str]) -> List[Goal]:
    goals: List[Goal] = []
    if ds_names and pipe:
        goals.append(at_least_ratio(ds_names[0], pipe, GOAL_PIPE_RATIO))
        if len(ds_names) > 1:
            g = at_least_ratio(ds_names[1], pipe, 1.0)
            g.label += " (parallel readers, where the cores allow)"
            goals.append(g)
    for n in ds_names:
        goals.append(at_most_cpu_per_mrows(n, GOAL_CPU_PER_MROWS))
        goals.append(at_most_rss(n, GOAL_RSS_MIB))
    return goals


def settings(ctx, section: str, default_rows: int) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, Any], set]:
    """The generated YAML's sections plus the workload's own (`w1.rows`,
    `w1.verify`) after --set overrides."""
    base: Dict[str, Dict[str, Any]] = {"source": {}, "sink": {},
                                       "pipeline": {"name": section, "parallelism": 1, "batch_rows": 8192,
                                                    "checkpoint_store": "sink"},
                                       section: {"rows": ctx.rows if ctx.rows is not None else default_rows,
                                                 "verify": "checksum"}}
    return base, base[section], {item.partition("=")[0] for item in (ctx._overrides or [])}


# ------------------------------------------------------------------ W1
def pipe_select(table: str) -> str:
    """The SELECT whose --raw output is COPY text format: strings get
    backslash, tab, LF and CR escaped, NULL becomes \\N. (`--batch` without
    --raw escapes \\, tab and LF but neither CR nor NULL: it prints NULL and
    the string 'NULL' alike.)"""
    def esc(col: str) -> str:
        return (f"REPLACE(REPLACE(REPLACE(REPLACE({col}, '\\\\', '\\\\\\\\'), '\\t', '\\\\t'), "
                f"'\\n', '\\\\n'), '\\r', '\\\\r')")

    exprs = []
    for c in COLUMNS:
        e = esc(c.name) if c.text else c.name
        exprs.append(f"IFNULL({e}, '\\\\N')" if c.nullable else e)
    return f"SELECT {', '.join(exprs)} FROM {table}"


def plan(ctx) -> Workload:
    my = Mariadb(ctx.repo)
    my.ensure_up()
    pg = PgServer(ctx.repo)

    base, own, overridden = settings(ctx, "w1", DEFAULT_ROWS)
    base["source"] = {"type": "mariadb", "host": my.host, "port": my.port, "user": my.user,
                      "password": my.password, "database": SRC_DB}
    base["sink"] = {"type": "postgres", "host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password,
                    "database": DST_DB, "schema": "public", "create_tables": True, "write_mode": "insert"}
    ctx.apply_overrides(base)
    own = base.pop("w1")
    rows = int(own["rows"])
    verify = str(own.get("verify", "checksum"))
    want = mariadb_source(ctx, my, SRC_DB, rows)

    def reset_target() -> None:
        pg.recreate(DST_DB)  # DROP .. WITH (FORCE), CREATE, CHECKPOINT

    def check_target() -> Tuple[Checksum, List[str]]:
        table, types = pg_find_table(pg, DST_DB)
        if table is None:
            raise VerifyError(f"no single table {TABLE} in {DST_DB}: found {types or 'none'}")
        sql = postgres_checksum_sql(table) if verify != "count" else f"SELECT count(*), 0 FROM {table}"
        return parse_checksum(pg_sql(pg, DST_DB, sql)), types

    hooks = RunHooks(ctx, rows, reset_target, check_target, want, verify, pg.postmaster_pid(), my.pid())
    variables = my.variables(["innodb_buffer_pool_size", "innodb_flush_method", "log_bin", "binlog_format"])
    facts: Dict[str, Any] = {
        "source": f"MariaDB {SRC_DB}.{TABLE}: {rows:,} rows, checksum {want[1]} (kept between runs)",
        "target": f"PostgreSQL {DST_DB}, dropped and created before every run",
        "servers": f"MariaDB {my.version()} at {my.host}:{my.port} (innodb_buffer_pool_size "
                   f"{int(variables.get('innodb_buffer_pool_size', '0')) >> 20} MiB, flush "
                   f"{variables.get('innodb_flush_method', '?')}); "
                   + pg.psql("postgres", "SELECT split_part(version(), ' on ', 1)") + f" at {pg.host}:{pg.port}",
    }
    notes = [
        "each run starts from an empty target database (DROP/CREATE + CHECKPOINT, untimed); row count and "
        + ("a checksum of every value" if verify != "count" else "row count only (w1.verify=count)")
        + " checked after it (untimed)",
        "CPU s is the client side only (the harness' rusage); the servers' CPU is in the notes below",
    ]

    contenders: List[Contender] = []
    ds_names: List[str] = []
    if ctx.wants("datasync") or any(ctx.wants(f"datasync p{p}") for p in (1, 2)):
        probe = copy.deepcopy(base)
        probe["source"]["database"] = "w1_probe_does_not_exist"
        probe["sink"] = {"type": "discard"}
        probe["pipeline"]["checkpoint_store"] = "none"
        known, said = datasync_knows(ctx, "source", probe)
        if known:
            contenders += datasync_contenders(ctx, base, overridden, rows, hooks, "w1")
            ds_names = [c.name for c in contenders]
        else:
            notes.append(f"datasync contenders not run: the CLI has no mariadb source yet ({said})")

    peers: List[str] = []
    q = shlex.quote
    if ctx.wants("peer") or ctx.wants(PIPE):
        def pre_create() -> None:
            pg_sql(pg, DST_DB, postgres_ddl())

        mariadb_cmd = " ".join(q(a) for a in my.args(SRC_DB, "--quick", "--batch", "--raw", "--skip-column-names",
                                                       "-e", pipe_select(TABLE)))
        psql_cmd = (f"{q(pg.tool('psql'))} -X -q -v ON_ERROR_STOP=1 " + " ".join(q(a) for a in pg.conn_args(DST_DB))
                    + " -c " + q(f"COPY public.{TABLE} FROM STDIN"))
        script = write_script(os.path.join(ctx.workdir, "w1-pipe.sh"), f"{mariadb_cmd} \\\n  | {psql_cmd}")
        before, after = hooks.make(PIPE, pre_create)
        contenders.append(Contender(PIPE, "peer", ["/bin/bash", script], rows, before=before, after=after,
                                    env=dict(pg_env(pg), **my.env())))
        facts["pipe"] = (f"mariadb --quick --batch --raw --skip-column-names -e \"SELECT <strings escaped, NULL as "
                         f"\\N> FROM {TABLE}\" {SRC_DB} | psql -c \"COPY public.{TABLE} FROM STDIN\" {DST_DB}")
        peers.append(PIPE)
        notes.append("the pipe copies into a table pre-created (untimed) with the source's types and primary key; "
                     "its SELECT escapes strings for COPY text format and writes NULL as \\N (mariadb --raw)")

    pgloader = shutil.which("pgloader")
    if not (ctx.wants("peer") or ctx.wants(PGLOADER)):
        pass
    elif pgloader:
        load = os.path.join(ctx.workdir, "w1.load")
        with open(load, "w", encoding="utf-8") as f:
            f.write(f"LOAD DATABASE\n"
                    f"  FROM mysql://{my.user}:{my.password}@{my.host}:{my.port}/{SRC_DB}\n"
                    f"  INTO pgsql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{DST_DB}\n"
                    f"  ALTER SCHEMA '{SRC_DB}' RENAME TO 'public';\n")
        os.chmod(load, 0o600)
        before, after = hooks.make(PGLOADER)
        contenders.append(Contender(PGLOADER, "peer", [pgloader, load], rows, before=before, after=after))
        peers.append(PGLOADER)
        facts["pgloader"] = subprocess.run([pgloader, "--version"], capture_output=True,
                                           text=True).stdout.splitlines()[0]
        notes.append("pgloader runs with its defaults for a MySQL source (creates the table with its own casts, "
                     "e.g. datetime -> timestamptz, int -> bigint; COPY with 4 threads; the primary key after the "
                     "load); only the schema is renamed to public")
    else:
        notes.append("pgloader is not installed (apt-get install pgloader): not measured")

    goals: List[Goal] = []
    if ds_names and PGLOADER in peers:
        goals.append(at_least_ratio(ds_names[0], PGLOADER, GOAL_PGLOADER_RATIO))
    goals += common_goals(ds_names, PIPE if PIPE in peers else None)

    work = Workload(name="W1", description=DESCRIPTION, contenders=contenders, goals=goals, notes=notes,
                    facts=facts)

    def cleanup() -> None:
        work.notes.extend(hooks.notes(contenders))
        if not ctx.keep:
            try:
                pg.psql("postgres", f"DROP DATABASE IF EXISTS {DST_DB} WITH (FORCE)")
            except RuntimeError:
                pass

    work.cleanup = cleanup
    return work
