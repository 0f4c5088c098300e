"""W3: PostgreSQL change data capture, a backlog caught up (issue 6).

The source database `w3_src` holds `public.w3_rows` (bigint key, bigint,
text, timestamptz) and the publication `w3_pub`. Before every run (untimed)
the table is emptied, the run's own logical slot (pgoutput) is created, and a
deterministic backlog of N changes is written by a procedure committing
transactions of 1-100 rows (60 % inserts, 30 % updates, 10 % deletes of
earlier rows); its last transaction inserts a marker row. Each contender then
catches up the backlog (timed) until the marker is in its target (polled
every 50 ms by the contender's wrapper script; pg_recvlogical stops at the
marker's end LSN by itself). Afterwards the target's count and sums are
compared with the source's (untimed) and the slot is dropped.

Contenders: `pg_recvlogical -P pgoutput` to /dev/null (the streaming
ceiling: the walsender's decoding and sending, nothing applied); PostgreSQL's
native logical replication (`CREATE SUBSCRIPTION`, enabled when the backlog is
written) into `w3_dst`; datasync (`mode: cdc`) into PostgreSQL `w3_dst` and
into MariaDB `w3_dst`.

Size: `--rows N` or `--set w3.rows=N` (default 100,000 changes: a smoke run;
the issue's backlog is 1,000,000).
"""

from __future__ import annotations

import os
import shlex
from typing import Any, Dict, List, Optional

from . import Contender, Goal, VerifyError, Workload, at_most_rss
from .w1 import Mariadb, process_cpu_s, write_script
from .w2 import Server as PgServer
from .w2 import server_cpu_s
from ._pgcdc import Slots, cdc_pipeline, conninfo, drop_subscription, my_sink, pg_sink
from ._pgcpu import RoleCpu

DEFAULT_ROWS = 100_000
DESCRIPTION = ("PostgreSQL change data capture: a backlog of changes caught up into PostgreSQL and MariaDB, beside "
               "pg_recvlogical (the streaming ceiling) and native logical replication")
SRC_DB, DST_DB, MY_DB = "w3_src", "w3_dst", "w3_dst"
TABLE, PUB = "w3_rows", "w3_pub"
RECV, NATIVE, DS_PG, DS_MY = "pg_recvlogical", "native subscription", "datasync -> postgres", "datasync -> mariadb"
DS_BIG = "datasync one big txn -> postgres"
SLOTS = {RECV: "w3_recv", NATIVE: "w3_native", DS_PG: "w3_ds_pg", DS_MY: "w3_ds_my", DS_BIG: "w3_ds_big"}

DDL = f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, v bigint NOT NULL, s text, t timestamptz)"

# Writes `total` changes in transactions of 1..100 rows; returns the exact count.
BACKLOG = f"""
CREATE OR REPLACE PROCEDURE w3_backlog(total bigint, INOUT done bigint DEFAULT 0) LANGUAGE plpgsql AS $$
DECLARE
  txn bigint := 0; size int; ins int; upd int; del int; n bigint;
  next_id bigint := 1; oldest bigint := 1;
BEGIN
  WHILE done < total LOOP
    txn := txn + 1;
    size := least(1 + (txn * 37 % 100), total - done);
    del := size / 10; upd := (size * 3) / 10;
    IF next_id - oldest < del + upd THEN del := 0; upd := 0; END IF;
    ins := size - del - upd;
    INSERT INTO {TABLE} SELECT i, i * 7, md5(i::text), '2024-01-01'::timestamptz + i * interval '1 second'
      FROM generate_series(next_id, next_id + ins - 1) i;
    GET DIAGNOSTICS n = ROW_COUNT; done := done + n;
    next_id := next_id + ins;
    IF upd > 0 THEN
      UPDATE {TABLE} SET v = v + txn, s = md5(s) WHERE id >= oldest + del AND id < oldest + del + upd;
      GET DIAGNOSTICS n = ROW_COUNT; done := done + n;
    END IF;
    IF del > 0 THEN
      DELETE FROM {TABLE} WHERE id >= oldest AND id < oldest + del;
      GET DIAGNOSTICS n = ROW_COUNT; done := done + n;
      oldest := oldest + del;
    END IF;
    COMMIT;
  END LOOP;
  INSERT INTO {TABLE} VALUES (-1, 0, 'marker', now());
  done := done + 1;
  COMMIT;
END $$"""

CHECK = f"SELECT count(*), coalesce(sum(id), 0), coalesce(sum(v), 0), coalesce(sum(length(s)), 0) FROM {TABLE}"


def plan(ctx) -> Workload:
    pg = PgServer(ctx.repo)
    pg.ensure_up()
    my = Mariadb(ctx.repo)
    my.ensure_up()
    settings: Dict[str, Any] = {"w3": {"rows": ctx.rows or DEFAULT_ROWS, "big_rows": 2_000_000}}
    ctx.apply_overrides(settings)
    total = int(settings["w3"]["rows"])
    big_rows = int(settings["w3"]["big_rows"])
    notes: List[str] = []
    q = shlex.quote
    postmaster = pg.postmaster_pid()
    mariadbd = my.pid()
    state: Dict[str, Any] = {}
    cpu: Dict[str, List[float]] = {}
    apply_cpu: Dict[str, List[float]] = {}  # the PostgreSQL target side alone (RoleCpu "apply")

    slots = Slots(pg, SRC_DB, "w3\\_%")

    if not pg.db_exists(SRC_DB):
        pg.psql("postgres", f"CREATE DATABASE {SRC_DB}")
    pg.psql("postgres", "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                        f"WHERE slot_name LIKE '{slots.like}' AND active")
    pg.psql(SRC_DB, "SELECT 1")
    slots.drop()
    pg.psql(SRC_DB, f"DROP PUBLICATION IF EXISTS {PUB}; DROP TABLE IF EXISTS {TABLE}; {DDL}; "
                    f"ALTER TABLE {TABLE} REPLICA IDENTITY DEFAULT; CREATE PUBLICATION {PUB} FOR TABLE {TABLE}")
    pg.psql(SRC_DB, BACKLOG)

    conn_text = conninfo(pg, SRC_DB)
    marker_pg = f"SELECT count(*) FROM {TABLE} WHERE id = -1"

    def prepare(name: str) -> None:
        slots.drop()
        pg.psql(SRC_DB, f"TRUNCATE {TABLE}")
        if name in (NATIVE, DS_PG, DS_BIG):
            pg.recreate(DST_DB)
        if name == DS_MY:
            my.recreate(MY_DB)
        slots.create(SLOTS[name])
        if name == NATIVE:
            pg.psql(DST_DB, DDL)
            pg.psql(DST_DB, f"CREATE SUBSCRIPTION w3_sub CONNECTION '{conn_text}' PUBLICATION {PUB} WITH "
                            f"(create_slot = false, slot_name = '{SLOTS[NATIVE]}', enabled = false, copy_data = false)")
        if name == DS_BIG:  # one transaction: the server streams it (protocol 2), datasync spools it
            pg.psql(SRC_DB, f"INSERT INTO {TABLE} SELECT i, i * 7, md5(i::text), now() "
                            f"FROM generate_series(1, {big_rows}) i")
            pg.psql(SRC_DB, f"INSERT INTO {TABLE} VALUES (-1, 0, 'marker', now())")
            done = str(big_rows + 1)
        else:
            done = pg.psql(SRC_DB, f"CALL w3_backlog({total})").strip()
        state["changes"] = int(done)
        state["end_lsn"] = pg.psql(SRC_DB, "SELECT pg_current_wal_lsn()")
        with open(os.path.join(ctx.workdir, "w3-end-lsn"), "w") as f:
            f.write(state["end_lsn"])
        state["want"] = pg.psql(SRC_DB, CHECK)
        state["cpu"] = (server_cpu_s(postmaster), process_cpu_s(mariadbd))
        state["roles"] = RoleCpu(postmaster, DST_DB)
        state["roles"].start()

    def finish(name: str) -> Dict[str, Any]:
        import time
        roles = state["roles"].stop()
        time.sleep(0.2)
        pg_now, my_now = server_cpu_s(postmaster), process_cpu_s(mariadbd)
        pg0, my0 = state["cpu"]
        out: Dict[str, Any] = {}
        if None not in (pg_now, pg0):
            out["server_cpu_postgres_s"] = pg_now - pg0
        if None not in (my_now, my0):
            out["server_cpu_mariadb_s"] = my_now - my0
        cpu.setdefault(name, []).append(out.get("server_cpu_postgres_s", 0) + out.get("server_cpu_mariadb_s", 0))
        import statistics
        line = "server CPU s (median, PostgreSQL + MariaDB, whole backlog): " + ", ".join(
            f"{k} {statistics.median(v):.2f}" for k, v in cpu.items())
        out["server_cpu_by_role_s"] = {k: round(v, 3) for k, v in roles.items()}
        if name in (NATIVE, DS_PG) and "apply" in roles:
            out["apply_cpu_s"] = roles["apply"]
            apply_cpu.setdefault(name, []).append(roles["apply"])
        line += "; PostgreSQL target side alone (apply worker / sink backends): " + ", ".join(
            f"{k} {statistics.median(v):.2f}" for k, v in apply_cpu.items())
        if notes and notes[-1].startswith("server CPU s (median"):
            notes[-1] = line
        else:
            notes.append(line)
        try:
            if name == NATIVE:
                drop_subscription(pg, DST_DB, "w3_sub")
            if name in (NATIVE, DS_PG):
                got = pg.psql(DST_DB, CHECK)
            elif name == DS_MY:
                got = my.sql(MY_DB, f"SELECT COUNT(*), COALESCE(SUM(id),0), COALESCE(SUM(v),0), "
                                    f"COALESCE(SUM(CHAR_LENGTH(s)),0) FROM {TABLE}").replace("\t", "|")
            else:
                got = state["want"]
            if got != state["want"]:
                raise VerifyError(f"{name}: target {got} != source {state['want']}")
        finally:
            slots.release()
        out["changes"] = state["changes"]
        return out

    def hooks(name: str):
        return (lambda: prepare(name)), (lambda: finish(name))

    env = dict(os.environ, PGPASSWORD=pg.password)
    psql = f"{q(pg.tool('psql'))} -X -q -A -t " + " ".join(q(a) for a in pg.conn_args(DST_DB))

    def poll_pg(start: str, stop: str = "", watch: str = "") -> str:
        return (f"{start}\nuntil [ \"$({psql} -c {q(marker_pg)} 2>/dev/null)\" = 1 ]; do {watch}sleep 0.05; done\n"
                f"{stop}")

    contenders: List[Contender] = []
    if ctx.wants("peer") or ctx.wants(RECV):
        recv = (f"exec {q(pg.tool('pg_recvlogical'))} " + " ".join(q(a) for a in pg.conn_args(SRC_DB))
                + f" --slot {SLOTS[RECV]} --start --no-loop -o proto_version=1 -o publication_names={PUB} "
                  f"-f /dev/null --endpos \"$(cat {q(os.path.join(ctx.workdir, 'w3-end-lsn'))})\"")
        script = write_script(os.path.join(ctx.workdir, "w3-recv.sh"), recv)
        before, after = hooks(RECV)
        contenders.append(Contender(RECV, "peer", ["/bin/bash", script], total, before=before, after=after, env=env))
    if ctx.wants("peer") or ctx.wants(NATIVE):
        enable = f"{psql} -c 'ALTER SUBSCRIPTION w3_sub ENABLE'"
        script = write_script(os.path.join(ctx.workdir, "w3-native.sh"), poll_pg(enable))
        before, after = hooks(NATIVE)
        contenders.append(Contender(NATIVE, "peer", ["/bin/bash", script], total, before=before, after=after, env=env))

    def ds_yaml(name: str, sink: Dict[str, Any]) -> str:
        return cdc_pipeline(os.path.join(ctx.workdir, f"w3-{SLOTS[name]}.yaml"), pg, SRC_DB, TABLE, PUB, SLOTS[name],
                            sink)

    datasync = " ".join(q(a) for a in ctx._cli)  # noqa: SLF001 (the CLI bench/run found)

    def ds_pg_script(name: str, file: str) -> str:
        """datasync into PostgreSQL until the marker is there; the wrapper fails if datasync exits first."""
        run = f"{datasync} run --quiet {q(ds_yaml(name, pg_sink(pg, DST_DB)))} & ds=$!"
        return write_script(os.path.join(ctx.workdir, file),
                            poll_pg(run, "kill -TERM $ds; wait $ds || true", "kill -0 $ds || exit 1; "))

    if ctx.wants("datasync") or ctx.wants(DS_PG):
        script = ds_pg_script(DS_PG, "w3-ds-pg.sh")
        before, after = hooks(DS_PG)
        contenders.append(Contender(DS_PG, "datasync", ["/bin/bash", script], total, before=before, after=after,
                                    env=env))
    if ctx.wants("datasync") or ctx.wants(DS_MY):
        y = ds_yaml(DS_MY, my_sink(my, MY_DB))
        mysql = " ".join(q(a) for a in my.args(MY_DB, "--batch", "--skip-column-names"))
        marker_my = f"SELECT COUNT(*) FROM {TABLE} WHERE id = -1"
        body = (f"{datasync} run --quiet {q(y)} & ds=$!\n"
                f"until [ \"$({mysql} -e {q(marker_my)} 2>/dev/null)\" = 1 ]; do kill -0 $ds || exit 1; sleep 0.05; done\n"
                "kill -TERM $ds; wait $ds || true")
        script = write_script(os.path.join(ctx.workdir, "w3-ds-my.sh"), body)
        before, after = hooks(DS_MY)
        contenders.append(Contender(DS_MY, "datasync", ["/bin/bash", script], total, before=before, after=after,
                                    env=dict(env, **my.env())))

    if DS_BIG in getattr(ctx, "_only", []):  # only on request: --only "datasync one big txn -> postgres"
        script = ds_pg_script(DS_BIG, "w3-ds-big.sh")
        before, after = hooks(DS_BIG)
        contenders.append(Contender(DS_BIG, "datasync", ["/bin/bash", script], big_rows + 1, before=before,
                                    after=after, env=env))

    def ratio_goal(name: str, peer: str, want: float) -> Goal:
        def judge(stats) -> "tuple[bool, str]":
            if name not in stats or peer not in stats:
                return False, "not measured"
            r = stats[name].rows_per_s / stats[peer].rows_per_s
            gap = "" if r >= want else f", {(want - r) / want:.1%} short"
            return r >= want, f"{r:.3f}x ({stats[name].rows_per_s:,.0f} vs {stats[peer].rows_per_s:,.0f} changes/s){gap}"
        return Goal(f"{name} changes/s >= {want}x {peer}", judge)

    def server_cpu_goal(name: str) -> Goal:
        def judge(stats) -> "tuple[bool, str]":
            if name not in apply_cpu or NATIVE not in apply_cpu:
                return False, "not measured"
            import statistics
            a, b = statistics.median(apply_cpu[name]), statistics.median(apply_cpu[NATIVE])
            r = a / b if b else float("inf")
            return r <= 0.5, (f"{r:.3f}x native's ({a:.2f} s in datasync's sink backends vs {b:.2f} s in the native "
                              "apply worker, for the backlog; the source walsender is not counted)")
        return Goal(f"{name} target server CPU <= 0.5x native subscription's apply worker", judge)

    goals = [ratio_goal(DS_PG, RECV, 0.9), ratio_goal(DS_MY, RECV, 0.9), ratio_goal(DS_PG, NATIVE, 1.0),
             server_cpu_goal(DS_PG), at_most_rss(DS_PG, 256), at_most_rss(DS_MY, 256)]
    if any(c.name == DS_BIG for c in contenders):
        goals.append(at_most_rss(DS_BIG, 256))
    notes[:0] = [
        "rows/s in this workload are source changes (insert/update/delete rows) per second",
        "datasync and the native subscription are timed until the backlog's marker row is in their target, polled "
        "every 50 ms by their wrapper (its psql/mariadb calls count in the client CPU); pg_recvlogical stops at the "
        "backlog's end LSN",
        "server CPU (PostgreSQL: postmaster and children; MariaDB: mariadbd) includes the source walsender's "
        "decoding for every contender; the native subscription runs with its default synchronous_commit=off",
        "target side CPU: processes of the PostgreSQL server connected to the target database (or logical "
        "replication workers) that lived at least 3 samples of 50 ms (the wrapper's short polls are left out)",
        "not measured here: lag at a fixed rate; the one-big-transaction contender (memory while a "
        f"{big_rows:,}-row transaction streams) runs only when named with --only",
    ]
    return Workload(name="W3", description=DESCRIPTION, contenders=contenders, goals=goals, notes=notes,
                    facts={"backlog": f"{total:,} changes in transactions of 1-100 rows (+1 marker row) on "
                                      f"{SRC_DB}.public.{TABLE}"},
                    cleanup=slots.drop)
