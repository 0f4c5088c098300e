"""W2: PostgreSQL -> PostgreSQL, two databases of the same server (issue 3).

The source database `w2_src` holds `pgbench_accounts` at pgbench scale S
(S x 100,000 rows, made by `pgbench -i`) and `w2_types`, S x 40,000 rows with
a column of every common scalar type (2M rows at the default scale 50). It is
made once and kept between runs (checked by a database comment and the row
counts). Every run of every contender starts from an empty target database
`w2_dst` (dropped and created again, then CHECKPOINT, untimed); the row counts
of both tables are checked after each run (untimed).

Contenders: datasync with parallelism 1 and 2 (checkpoint_store: sink, the
default), the binary COPY pipe `psql -c COPY .. TO STDOUT | psql -c COPY ..
FROM STDIN` into tables pre-created from `pg_dump --schema-only`, `pg_dump -Fc
| pg_restore`, and pgloader (when installed).

Scale: `--set w2.scale=N` (default 50), or `--rows N` (scale = N / 140,000);
`--set w2.types_rows=N` sets the size of w2_types. Server-side CPU (the
postmaster's children, read from /proc) is reported in the notes.
"""

from __future__ import annotations

import copy
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from . import (Contender, Goal, Stats, VerifyError, Workload, at_least_ratio, at_most_rss, read_summary,
               write_pipeline)

ROWS_PER_SCALE = 140_000  # 100,000 pgbench_accounts + 40,000 w2_types
DEFAULT_SCALE = 50
DEFAULT_ROWS = DEFAULT_SCALE * ROWS_PER_SCALE
DESCRIPTION = ("PostgreSQL -> PostgreSQL, pgbench_accounts (scale 50) + 2M rows of every scalar type; "
               "goals >= 0.95x binary COPY pipe, >= 1.5x pg_dump|pg_restore, <= 0.3 CPU s/M rows, RSS <= 256 MiB")
GEN_VERSION = "w2-gen-v1"
SRC_DB = "w2_src"
DST_DB = "w2_dst"
TABLES = ("pgbench_accounts", "w2_types")
GOAL_PIPE_RATIO = 0.95
GOAL_DUMP_RATIO = 1.5
GOAL_CPU_PER_MROWS = 0.3
GOAL_RSS_MIB = 256

PIPE = "binary COPY pipe"
DUMP = "pg_dump|pg_restore"
PGLOADER = "pgloader"

TYPES_DDL = """
CREATE TABLE w2_types (
  id            bigint PRIMARY KEY,
  c_bool        boolean,
  c_int2        smallint,
  c_int4        integer,
  c_int8        bigint,
  c_numeric     numeric(12,2),
  c_float4      real,
  c_float8      double precision,
  c_char        char(12),
  c_varchar     varchar(40),
  c_text        text,
  c_bytea       bytea,
  c_date        date,
  c_time        time,
  c_timestamp   timestamp,
  c_timestamptz timestamptz,
  c_interval    interval,
  c_uuid        uuid,
  c_json        json,
  c_jsonb       jsonb
);
"""

TYPES_FILL = """
INSERT INTO w2_types
SELECT i,
  CASE WHEN i % 10 = 0 THEN NULL ELSE i % 2 = 0 END,
  (i % 65535 - 32767)::int2,
  (i * 7919 % 2147483647 - 1073741823)::int4,
  i * 1000003 - 5000000000,
  CASE WHEN i % 13 = 0 THEN NULL ELSE round(((i * 37 % 1000000000) - 500000000) / 100.0, 2) END,
  ((i % 100000) / 7.0)::real,
  i / 3.0::float8,
  'c' || (i % 1000),
  'varchar-' || i,
  CASE WHEN i % 17 = 0 THEN NULL ELSE repeat(md5(i::text), 1 + (i % 3)::int) END,
  decode(md5(i::text), 'hex'),
  date '2000-01-01' + (i % 10000)::int,
  time '00:00' + (i % 86400) * interval '1 second',
  timestamp '2000-01-01' + i * interval '1 second',
  CASE WHEN i % 19 = 0 THEN NULL ELSE timestamptz '2000-01-01 00:00+00' + i * interval '1 minute' END,
  make_interval(0, (i % 12)::int, 0, (i % 28)::int, (i % 24)::int, (i % 60)::int, (i % 1000) / 10.0),
  md5(i::text)::uuid,
  json_build_object('id', i, 'name', 'n' || i, 'tags', json_build_array(i % 5, i % 7)),
  jsonb_build_object('id', i, 'ok', i % 2 = 0, 'v', i / 7.0)
FROM generate_series(1::bigint, {rows}::bigint) AS i;
"""


# ------------------------------------------------------------------ server access
class Server:
    def __init__(self, repo: str) -> None:
        env = os.environ
        self.host = env.get("DS_PG_HOST", "127.0.0.1")
        self.port = int(env.get("DS_PG_PORT", "55432"))
        self.user = env.get("DS_PG_USER", "datasync")
        self.password = env.get("DS_PG_PASSWORD", "datasync")
        self.bindir = self._bindir()
        self.repo = repo

    @staticmethod
    def _bindir() -> str:
        for d in (os.environ.get("DS_PG_BINDIR", ""), "/usr/lib/postgresql/15/bin"):
            if d and os.path.exists(os.path.join(d, "psql")):
                return d
        found = shutil.which("psql")
        return os.path.dirname(found) if found else ""

    def tool(self, name: str) -> str:
        path = os.path.join(self.bindir, name) if self.bindir else ""
        return path if path and os.path.exists(path) else (shutil.which(name) or name)

    def env(self) -> Dict[str, str]:
        return {"PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"}

    def conn_args(self, db: str) -> List[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", db]

    def psql(self, db: str, sql: str, check: bool = True) -> str:
        r = subprocess.run([self.tool("psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"] + self.conn_args(db)
                           + ["-c", sql], capture_output=True, text=True, env=dict(os.environ, **self.env()))
        if check and r.returncode != 0:
            raise RuntimeError(f"psql on {db}: {sql[:120]!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def ensure_up(self) -> None:
        script = os.path.join(self.repo, "scripts", "db")
        if os.path.exists(script) and subprocess.run([script, "status"], capture_output=True).returncode != 0:
            subprocess.run([script, "up"], check=True, stdout=subprocess.DEVNULL)
        # An idle replication slot left by a killed test keeps every WAL
        # segment written since: each run then pays for new segment files
        # (and the disk fills up). Found once holding 58 GB; say so loudly.
        stale = self.psql("postgres", "SELECT slot_name || ' ' || pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), "
                                      "restart_lsn)) FROM pg_replication_slots WHERE NOT active AND "
                                      "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) > 1073741824", check=False)
        for line in stale.splitlines():
            name, size = line.split(" ", 1)
            print(f"WARNING: inactive replication slot {name} retains {size} of WAL, which slows every run and fills "
                  f"the disk; drop it: SELECT pg_drop_replication_slot('{name}')", file=sys.stderr)

    def db_exists(self, db: str) -> bool:
        return self.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{db}'") == "1"

    def recreate(self, db: str) -> None:
        self.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        self.psql("postgres", f"CREATE DATABASE {db}")
        self.psql("postgres", "CHECKPOINT")

    def counts(self, db: str) -> Dict[str, Optional[int]]:
        out: Dict[str, Optional[int]] = {}
        for t in TABLES:
            r = self.psql(db, f"SELECT count(*) FROM public.{t}", check=False)
            out[t] = int(r) if r.isdigit() else None
        return out

    # --- server CPU: postmaster's own + reaped children (cutime/cstime) + live children
    def postmaster_pid(self) -> Optional[int]:
        try:
            datadir = self.psql("postgres", "SHOW data_directory")
            with open(os.path.join(datadir, "postmaster.pid"), encoding="utf-8") as f:
                return int(f.readline().strip())
        except (OSError, ValueError, RuntimeError):
            return None


def _stat_fields(pid: int) -> Optional[List[str]]:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def server_cpu_s(postmaster: Optional[int]) -> Optional[float]:
    """CPU seconds of the server so far: postmaster + its reaped children + its live children.
    The sum is consistent over time: a child that exits moves its time into the postmaster's cutime."""
    if postmaster is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    f = _stat_fields(postmaster)
    if f is None:
        return None
    # after the state field: utime=idx 11, stime=12, cutime=13, cstime=14 (stat fields 14..17)
    total = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        g = _stat_fields(int(name))
        if g is not None and g[1] == str(postmaster):  # ppid
            total += int(g[11]) + int(g[12])
    return total / tick


# ------------------------------------------------------------------ the source
def source_db(ctx, srv: Server, scale: int, types_rows: int) -> Dict[str, int]:
    want = {"pgbench_accounts": scale * 100_000, "w2_types": types_rows}
    tag = f"{GEN_VERSION} scale={scale} types_rows={types_rows}"
    if srv.db_exists(SRC_DB):
        comment = srv.psql("postgres", f"SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                       f"WHERE datname = '{SRC_DB}'")
        if comment == tag and srv.counts(SRC_DB) == want:
            return want
    ctx.log(f"making the source database {SRC_DB}: pgbench -i -s {scale} + w2_types {types_rows:,} rows "
            f"(kept for later runs) ...")
    t0 = time.time()
    srv.recreate(SRC_DB)
    subprocess.run([srv.tool("pgbench"), "-i", "-q", "-I", "dtGvp", "-s", str(scale)] + srv.conn_args(SRC_DB)[:-2]
                   + [SRC_DB], check=True, env=dict(os.environ, **srv.env()), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    srv.psql(SRC_DB, TYPES_DDL)
    srv.psql(SRC_DB, TYPES_FILL.format(rows=types_rows))
    srv.psql(SRC_DB, "VACUUM (FREEZE, ANALYZE) pgbench_accounts, w2_types")
    srv.psql("postgres", f"COMMENT ON DATABASE {SRC_DB} IS '{tag}'")
    got = srv.counts(SRC_DB)
    if got != want:
        raise SystemExit(f"bench: the generated source has {got}, expected {want}")
    ctx.log(f"  made in {time.time() - t0:.0f} s")
    return want


def schema_sql(ctx, srv: Server) -> str:
    """The two tables' definitions (with their primary keys) from pg_dump --schema-only."""
    path = os.path.join(ctx.workdir, "w2-schema.sql")
    cmd = [srv.tool("pg_dump"), "--schema-only", "--no-owner", "--no-privileges"] + srv.conn_args(SRC_DB)
    for t in TABLES:
        cmd += ["-t", f"public.{t}"]
    with open(path, "w", encoding="utf-8") as f:
        subprocess.run(cmd, check=True, stdout=f, env=dict(os.environ, **srv.env()))
    return path


# ------------------------------------------------------------------ the plan
def plan(ctx) -> Workload:
    srv = Server(ctx.repo)
    srv.ensure_up()

    base = {
        "source": {"type": "postgres", "host": srv.host, "port": srv.port, "user": srv.user,
                   "password": srv.password, "database": SRC_DB,
                   "tables": "public\\.(" + "|".join(TABLES) + ")"},
        "sink": {"type": "postgres", "host": srv.host, "port": srv.port, "user": srv.user,
                 "password": srv.password, "database": DST_DB},
        "pipeline": {"name": "w2", "parallelism": 1, "batch_rows": 8192, "checkpoint_store": "sink"},
        "w2": {"scale": DEFAULT_SCALE if ctx.rows == DEFAULT_ROWS else max(1, round(ctx.rows / ROWS_PER_SCALE))},
    }
    overridden = {item.partition("=")[0] for item in (ctx._overrides or [])}
    ctx.apply_overrides(base)
    w2 = base.pop("w2")
    scale = int(w2["scale"])
    types_rows = int(w2.get("types_rows", scale * 40_000))
    want = source_db(ctx, srv, scale, types_rows)
    rows = sum(want.values())
    postmaster = srv.postmaster_pid()
    server_cpu: Dict[str, List[float]] = {}

    def verify(who: str):
        def check() -> Dict[str, Any]:
            got = srv.counts(DST_DB)
            bad = [f"{t}: {got.get(t)} != {n}" for t, n in want.items() if got.get(t) != n]
            if bad:
                raise VerifyError(f"{who}: target row counts differ from the source: " + "; ".join(bad))
            return {}
        return check

    def hooks(name: str, prepare=None, extra_after=None):
        mark: Dict[str, Optional[float]] = {}

        def before() -> None:
            srv.recreate(DST_DB)
            if prepare:
                prepare()
            mark["cpu"] = server_cpu_s(postmaster)

        def after() -> Dict[str, Any]:
            time.sleep(0.2)  # let the backends exit and be reaped
            now = server_cpu_s(postmaster)
            out: Dict[str, Any] = {}
            if now is not None and mark.get("cpu") is not None:
                out["server_cpu_s"] = now - mark["cpu"]
                server_cpu.setdefault(name, []).append(out["server_cpu_s"])
                ctx.log(f"   ({name}: server CPU {out['server_cpu_s']:.2f} s)")
            verify(name)()
            if extra_after:
                out.update(extra_after())
            return out

        return before, after

    contenders: List[Contender] = []
    ds_names: List[str] = []
    if ctx.wants("datasync") or any(ctx.wants(f"datasync p{p}") for p in (1, 2)):
        pars = [base["pipeline"]["parallelism"]] if "pipeline.parallelism" in overridden else [1, 2]
        for p in pars:
            name = f"datasync p{p}"
            if not (ctx.wants("datasync") or ctx.wants(name)):
                continue
            sections = copy.deepcopy(base)
            sections["pipeline"]["parallelism"] = p
            yaml_path = os.path.join(ctx.workdir, f"w2-p{p}.yaml")
            summary = os.path.join(ctx.workdir, f"w2-p{p}-summary.json")
            write_pipeline(yaml_path, sections)

            def engine_s(summary=summary) -> Dict[str, Any]:
                us = read_summary(summary).get("elapsed_us") or 0
                return {"engine_seconds": us / 1e6} if us > 0 else {}

            def rm_summary(summary=summary) -> None:
                if os.path.exists(summary):
                    os.remove(summary)

            before, after = hooks(name, rm_summary, engine_s)
            contenders.append(Contender(name, "datasync", ctx.datasync_run(yaml_path, summary), rows,
                                        before=before, after=after))
            ds_names.append(name)

    facts: Dict[str, Any] = {
        "source": f"{SRC_DB}: pgbench_accounts {want['pgbench_accounts']:,} rows (scale {scale}) + "
                  f"w2_types {want['w2_types']:,} rows; target {DST_DB} recreated before every run",
        "server": f"{srv.host}:{srv.port} " + srv.psql("postgres", "SELECT split_part(version(), ' on ', 1)"),
    }
    notes = [
        "each run starts from an empty target database (DROP/CREATE + CHECKPOINT, untimed); row counts checked after",
        "CPU s is the client side only (the harness' rusage); server CPU is in the notes below",
    ]
    peers: List[str] = []
    def wants_peer(name: str) -> bool:
        return ctx.wants("peer") or ctx.wants(name)

    if any(wants_peer(n) for n in (PIPE, DUMP, PGLOADER)):
        q = shlex.quote
        psql = q(srv.tool("psql"))
        src = " ".join(q(a) for a in srv.conn_args(SRC_DB))
        dst = " ".join(q(a) for a in srv.conn_args(DST_DB))
        schema = schema_sql(ctx, srv) if wants_peer(PIPE) else ""

        def pre_create() -> None:
            subprocess.run([srv.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", schema]
                           + srv.conn_args(DST_DB), check=True, env=dict(os.environ, **srv.env()),
                           stdout=subprocess.DEVNULL)

        steps = [f"{psql} -X -q {src} -c {q(f'COPY public.{t} TO STDOUT (FORMAT binary)')} | "
                 f"{psql} -X -q -v ON_ERROR_STOP=1 {dst} -c {q(f'COPY public.{t} FROM STDIN (FORMAT binary)')}"
                 for t in TABLES]
        before, after = hooks(PIPE, pre_create)
        if wants_peer(PIPE):
            contenders.append(Contender(PIPE, "peer", ["/bin/bash", "-c", "set -eo pipefail; " + "; ".join(steps)],
                                        rows, before=before, after=after, env=srv.env()))
            peers.append(PIPE)

        tables = " ".join(f"-t public.{t}" for t in TABLES)
        command = (f"set -eo pipefail; {q(srv.tool('pg_dump'))} -Fc {tables} {src} | "
                   f"{q(srv.tool('pg_restore'))} --exit-on-error {dst}")
        before, after = hooks(DUMP)
        if wants_peer(DUMP):
            contenders.append(Contender(DUMP, "peer", ["/bin/bash", "-c", command], rows, before=before,
                                        after=after, env=srv.env()))
            peers.append(DUMP)

        pgloader = shutil.which("pgloader")
        if not wants_peer(PGLOADER):
            pass
        elif pgloader:
            load = os.path.join(ctx.workdir, "w2.load")
            url = f"pgsql://{srv.user}:{srv.password}@{srv.host}:{srv.port}"
            with open(load, "w", encoding="utf-8") as f:
                f.write(f"LOAD DATABASE\n  FROM {url}/{SRC_DB}\n  INTO {url}/{DST_DB}\n"
                        f"  WITH prefetch rows = 25000\n"
                        f"  INCLUDING ONLY TABLE NAMES MATCHING {', '.join(repr(t) for t in TABLES)} IN SCHEMA 'public';\n")
            before, after = hooks(PGLOADER)
            contenders.append(Contender(PGLOADER, "peer", [pgloader, "--dynamic-space-size", "4096", load], rows,
                                        before=before, after=after))
            peers.append(PGLOADER)
            notes.append("pgloader runs with --dynamic-space-size 4096 and prefetch rows = 25000: with its defaults "
                         "(1 GiB SBCL heap, 100000 prefetch rows) it died with 'Heap exhausted' at scale 50")
            facts["pgloader"] = subprocess.run([pgloader, "--version"], capture_output=True,
                                               text=True).stdout.splitlines()[0]
        else:
            notes.append("pgloader is not installed (apt-get install pgloader): not measured")

    goals: List[Goal] = []
    if ds_names:
        p1 = ds_names[0]
        if PIPE in peers:
            goals.append(at_least_ratio(p1, PIPE, GOAL_PIPE_RATIO))
            if len(ds_names) > 1:
                g = at_least_ratio(ds_names[1], PIPE, 1.0)
                g.label += " (where the machine has headroom)"
                goals.append(g)
        if DUMP in peers:
            goals.append(at_least_ratio(p1, DUMP, GOAL_DUMP_RATIO))
        for n in ds_names:
            goals.append(at_most_cpu_per_mrows(n, GOAL_CPU_PER_MROWS))
            goals.append(at_most_rss(n, GOAL_RSS_MIB))

    work = Workload(name="W2", description=DESCRIPTION, contenders=contenders, goals=goals, notes=notes,
                    facts=facts)

    def cleanup() -> None:
        for c in contenders:
            cpu = server_cpu.get(c.name)
            if cpu:
                med = statistics.median(cpu)
                work.notes.append(f"server CPU s (median) {c.name}: {med:.2f} ({med / rows * 1e6:.3f} s per M rows)")
        if not ctx.keep:
            try:
                srv.psql("postgres", f"DROP DATABASE IF EXISTS {DST_DB} WITH (FORCE)")
            except RuntimeError:
                pass

    work.cleanup = cleanup
    return work


def at_most_cpu_per_mrows(name: str, limit: float) -> Goal:
    def judge(stats: Dict[str, Stats]) -> "tuple[bool, str]":
        s = stats[name]
        got = s.median_cpu / s.rows * 1e6 if s.rows else 0.0
        detail = f"{got:.3f} CPU s per M rows ({s.median_cpu:.2f} s for {s.rows:,} rows)"
        return (got <= limit, detail if got <= limit else detail + f", {got / limit:.2f}x the limit")

    return Goal(f"{name} client CPU <= {limit:g} s per million rows", judge)
