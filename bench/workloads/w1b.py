"""W1b: PostgreSQL -> MariaDB, the W1 table the other way round (issue 4).

The source database `w1b_src` of the PostgreSQL server holds `public.w1_rows`
with the same values as W1's MariaDB source (the same expressions of the row
number; the checksums agree), made once and kept (VACUUM (FREEZE, ANALYZE); a
table comment carries the generator version, size and checksum). Every run
starts from an empty MariaDB database `w1b_dst` (dropped and created, the
buffer pool's dirty pages flushed, untimed); the row count and the checksum of
every value are compared with the source's after each run (untimed).

Contenders: datasync (postgres source -> mariadb sink) with parallelism 1 and
2, and the pipe `psql -c "COPY .. TO STDOUT" | mariadb --local-infile=1 -e
"LOAD DATA LOCAL INFILE '/dev/stdin' .."` into a pre-created table.

Size: `--rows N` or `--set w1b.rows=N` (default 200,000: a smoke run);
`--set w1b.verify=count` checks row counts only.
"""

from __future__ import annotations

import copy
import os
import shlex
from typing import Any, Dict, List, Tuple

from . import Contender, Goal, VerifyError, Workload
from .w1 import (TABLE, Checksum, Mariadb, PgServer, RunHooks, common_goals, datasync_contenders, datasync_knows,
                 mariadb_checksum_sql, mariadb_ddl, mariadb_find_table, parse_checksum, pg_env, postgres_source,
                 settings, write_script)

DEFAULT_ROWS = 200_000
DESCRIPTION = ("PostgreSQL -> MariaDB, the W1 table the other way round; goals >= 0.9x the psql COPY|mariadb "
               "LOAD DATA pipe, <= 1 CPU s/M rows, RSS <= 256 MiB")
SRC_DB = "w1b_src"
DST_DB = "w1b_dst"

PIPE = "psql|LOAD DATA pipe"

# COPY text format as LOAD DATA reads it: tab-separated, LF-terminated,
# backslash escapes (\t \n \r \\ \b; \N is NULL). COPY also writes \f and \v,
# which LOAD DATA would read as 'f' and 'v': the data has no form feeds or
# vertical tabs.
LOAD_DATA = (f"LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE {TABLE} CHARACTER SET utf8mb4 "
             "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'")


def plan(ctx) -> Workload:
    my = Mariadb(ctx.repo)
    my.ensure_up()
    pg = PgServer(ctx.repo)

    base, own, overridden = settings(ctx, "w1b", DEFAULT_ROWS)
    base["source"] = {"type": "postgres", "host": pg.host, "port": pg.port, "user": pg.user,
                      "password": pg.password, "database": SRC_DB, "tables": f"public\\.{TABLE}"}
    base["sink"] = {"type": "mariadb", "host": my.host, "port": my.port, "user": my.user, "password": my.password,
                    "database": DST_DB, "create_tables": True, "write_mode": "insert"}
    ctx.apply_overrides(base)
    own = base.pop("w1b")
    rows = int(own["rows"])
    verify = str(own.get("verify", "checksum"))
    want = postgres_source(ctx, pg, SRC_DB, rows)

    def reset_target() -> None:
        my.recreate(DST_DB)
        my.settle()

    def check_target() -> Tuple[Checksum, List[str]]:
        table, types = mariadb_find_table(my, DST_DB)
        if table is None:
            raise VerifyError(f"no table {TABLE} in {DST_DB}: found {types or 'none'}")
        sql = mariadb_checksum_sql(table) if verify != "count" else f"SELECT COUNT(*), 0 FROM {table}"
        return parse_checksum(my.sql(DST_DB, sql)), types

    hooks = RunHooks(ctx, rows, reset_target, check_target, want, verify, pg.postmaster_pid(), my.pid())
    variables = my.variables(["innodb_buffer_pool_size", "innodb_flush_method", "innodb_flush_log_at_trx_commit",
                              "log_bin", "binlog_format", "sync_binlog"])
    facts: Dict[str, Any] = {
        "source": f"PostgreSQL {SRC_DB}.public.{TABLE}: {rows:,} rows, checksum {want[1]} (kept between runs)",
        "target": f"MariaDB {DST_DB}, dropped and created before every run",
        "servers": pg.psql("postgres", "SELECT split_part(version(), ' on ', 1)") + f" at {pg.host}:{pg.port}; "
                   f"MariaDB {my.version()} at {my.host}:{my.port} ("
                   + ", ".join(f"{k} {v}" for k, v in sorted(variables.items())) + ")",
    }
    notes = [
        "each run starts from an empty target database (DROP/CREATE DATABASE, dirty pages flushed, untimed); row "
        "count and " + ("a checksum of every value" if verify != "count" else "row count only (w1b.verify=count)")
        + " checked after it (untimed)",
        "CPU s is the client side only (the harness' rusage); the servers' CPU is in the notes below",
        "the target server writes its binlog (ROW) for every contender alike",
    ]

    contenders: List[Contender] = []
    ds_names: List[str] = []
    if ctx.wants("datasync") or any(ctx.wants(f"datasync p{p}") for p in (1, 2)):
        probe = copy.deepcopy(base)
        probe["source"] = {"type": "generator", "rows": 1}
        probe["sink"]["database"] = "w1b_probe_does_not_exist"
        probe["pipeline"]["checkpoint_store"] = "none"
        known, said = datasync_knows(ctx, "sink", probe)
        my.sql("", "DROP DATABASE IF EXISTS w1b_probe_does_not_exist")  # in case the sink makes databases
        if known:
            contenders += datasync_contenders(ctx, base, overridden, rows, hooks, "w1b")
            ds_names = [c.name for c in contenders]
        else:
            notes.append(f"datasync contenders not run: the CLI has no mariadb sink yet ({said})")

    peers: List[str] = []
    if ctx.wants("peer") or ctx.wants(PIPE):
        q = shlex.quote

        def pre_create() -> None:
            my.sql(DST_DB, mariadb_ddl() + ";")

        psql_cmd = (f"{q(pg.tool('psql'))} -X -q -v ON_ERROR_STOP=1 " + " ".join(q(a) for a in pg.conn_args(SRC_DB))
                    + " -c " + q(f"COPY public.{TABLE} TO STDOUT"))
        mariadb_cmd = " ".join(q(a) for a in my.args(DST_DB, "--local-infile=1", "-e", LOAD_DATA))
        script = write_script(os.path.join(ctx.workdir, "w1b-pipe.sh"), f"{psql_cmd} \\\n  | {mariadb_cmd}")
        before, after = hooks.make(PIPE, pre_create)
        contenders.append(Contender(PIPE, "peer", ["/bin/bash", script], rows, before=before, after=after,
                                    env=dict(pg_env(pg), **my.env())))
        peers.append(PIPE)
        facts["pipe"] = (f"psql -c \"COPY public.{TABLE} TO STDOUT\" {SRC_DB} | mariadb --local-infile=1 "
                         f"-e \"{LOAD_DATA}\" {DST_DB}")
        notes.append("the pipe loads into a table pre-created (untimed) with W1's MariaDB types and primary key, "
                     "in one LOAD DATA statement (one transaction)")

    goals: List[Goal] = common_goals(ds_names, PIPE if PIPE in peers else None)
    work = Workload(name="W1b", description=DESCRIPTION, contenders=contenders, goals=goals, notes=notes,
                    facts=facts)

    def cleanup() -> None:
        work.notes.extend(hooks.notes(contenders))
        if not ctx.keep:
            try:
                my.sql("", f"DROP DATABASE IF EXISTS {DST_DB}")
            except RuntimeError:
                pass

    work.cleanup = cleanup
    return work
