"""W3lag: change data capture lag at a fixed write rate (issue 6).

pgbench commits single-row inserts into `w3_src.public.w3_lag` at a fixed
rate (`--set w3lag.rate=500`, for `--set w3lag.seconds=15`) while the
contender replicates them: PostgreSQL's native logical replication
(`CREATE SUBSCRIPTION`, the subscriber's synchronous_commit as the issue
measured it: on) into `w3_dst`, datasync (`mode: cdc`) into PostgreSQL
`w3_dst` and into MariaDB `w3_dst`. Each source row carries its insert time
(`clock_timestamp()`); a trigger on the target stamps its arrival
(`clock_timestamp()` / `UTC_TIMESTAMP(6)`; the native subscription's trigger
is ENABLE ALWAYS). Lag = arrival - insert, per row, after a 2 s warm-up; p50
and p99 per contender are in the notes, and the goal compares datasync's p99
with native's. Both clocks are the same machine's. The timed command is
pgbench itself, so wall time and rows/s only show the rate was held.
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import time
from typing import Any, Dict, List

from . import Contender, Goal, VerifyError, Workload
from .w1 import Mariadb, write_script
from .w2 import Server as PgServer
from ._pgcdc import Slots, cdc_pipeline, conninfo, drop_subscription, my_sink, pg_sink

DEFAULT_ROWS = 7_500
DESCRIPTION = "PostgreSQL change data capture: lag p50/p99 at a fixed insert rate beside native logical replication"
SRC_DB, DST_DB, MY_DB = "w3_src", "w3_dst", "w3_dst"
TABLE, PUB = "w3_lag", "w3_lag_pub"
NATIVE, DS_PG, DS_MY = "native subscription", "datasync -> postgres", "datasync -> mariadb"
SLOTS = {NATIVE: "w3_lag_native", DS_PG: "w3_lag_ds_pg", DS_MY: "w3_lag_ds_my"}
SOURCE_DDL = (f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), "
              "pad text)")


def plan(ctx) -> Workload:
    pg = PgServer(ctx.repo)
    pg.ensure_up()
    my = Mariadb(ctx.repo)
    my.ensure_up()
    settings: Dict[str, Any] = {"w3lag": {"rate": 500, "seconds": 15}}
    ctx.apply_overrides(settings)
    rate, seconds = int(settings["w3lag"]["rate"]), int(settings["w3lag"]["seconds"])
    q = shlex.quote
    lags: Dict[str, List[List[float]]] = {}
    notes: List[str] = []
    state: Dict[str, Any] = {}

    slots = Slots(pg, SRC_DB, "w3\\_lag\\_%")

    if not pg.db_exists(SRC_DB):
        pg.psql("postgres", f"CREATE DATABASE {SRC_DB}")
    slots.drop()
    pg.psql(SRC_DB, f"DROP PUBLICATION IF EXISTS {PUB}; DROP TABLE IF EXISTS {TABLE}; {SOURCE_DDL}; "
                    f"CREATE PUBLICATION {PUB} FOR TABLE {TABLE}")
    conn_text = conninfo(pg, SRC_DB)
    script = os.path.join(ctx.workdir, "w3lag.sql")
    os.makedirs(ctx.workdir, exist_ok=True)
    with open(script, "w") as f:
        f.write(f"INSERT INTO {TABLE} (pad) VALUES (repeat('x', 50));\n")

    cli = list(ctx._cli)  # noqa: SLF001 (the CLI bench/run found)

    def prepare(name: str) -> None:
        slots.drop()
        pg.psql(SRC_DB, f"TRUNCATE {TABLE}")
        if name == DS_MY:
            my.recreate(MY_DB)
            my.sql(MY_DB, f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, at datetime(6) NOT NULL, pad text, "
                          "arrived datetime(6));"
                          f"CREATE TRIGGER arrive BEFORE INSERT ON {TABLE} FOR EACH ROW "
                          "SET NEW.arrived = UTC_TIMESTAMP(6)")
        else:
            pg.recreate(DST_DB)
            pg.psql(DST_DB, f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, at timestamptz NOT NULL, pad text, "
                            "arrived timestamptz);"
                            "CREATE FUNCTION arrive() RETURNS trigger LANGUAGE plpgsql AS "
                            "$$BEGIN NEW.arrived := clock_timestamp(); RETURN NEW; END$$;"
                            f"CREATE TRIGGER arrive BEFORE INSERT ON {TABLE} FOR EACH ROW EXECUTE FUNCTION arrive();"
                            f"ALTER TABLE {TABLE} ENABLE ALWAYS TRIGGER arrive")
        slots.create(SLOTS[name])
        if name == NATIVE:
            pg.psql(DST_DB, f"CREATE SUBSCRIPTION w3_lag_sub CONNECTION '{conn_text}' PUBLICATION {PUB} WITH "
                            f"(create_slot = false, slot_name = '{SLOTS[NATIVE]}', copy_data = false, "
                            "synchronous_commit = on)")
        else:
            y = cdc_pipeline(os.path.join(ctx.workdir, f"w3lag-{SLOTS[name]}.yaml"), pg, SRC_DB, TABLE, PUB,
                             SLOTS[name], pg_sink(pg, DST_DB) if name == DS_PG else my_sink(my, MY_DB))
            log = open(os.path.join(ctx.workdir, f"w3lag-{SLOTS[name]}.log"), "w")
            state["proc"] = subprocess.Popen(cli + ["run", "--quiet", y], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while pg.psql(SRC_DB, f"SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{SLOTS[name]}' "
                              "AND active") != "1":
            if time.time() > deadline:
                raise VerifyError(f"{name}: the slot never became active")
            time.sleep(0.1)
        time.sleep(1.0)  # connected and idle

    def finish(name: str) -> Dict[str, Any]:
        want = pg.psql(SRC_DB, f"SELECT count(*) FROM {TABLE}")
        deadline = time.time() + 120

        def target(sql: str) -> str:
            return my.sql(MY_DB, sql) if name == DS_MY else pg.psql(DST_DB, sql)

        try:
            while target(f"SELECT count(*) FROM {TABLE}") != want:
                if time.time() > deadline:
                    raise VerifyError(f"{name}: the target has {target(f'SELECT count(*) FROM {TABLE}')} of "
                                      f"{want} rows after 120 s")
                time.sleep(0.2)
            if name == DS_MY:
                rows = my.sql(MY_DB, f"SELECT TIMESTAMPDIFF(MICROSECOND, at, arrived) / 1000 FROM {TABLE} "
                                     f"WHERE at > (SELECT MIN(at) FROM {TABLE}) + INTERVAL 2 SECOND")
            else:
                rows = pg.psql(DST_DB, f"SELECT extract(epoch FROM arrived - at) * 1000 FROM {TABLE} "
                                       f"WHERE at > (SELECT min(at) FROM {TABLE}) + interval '2 s'")
            values = sorted(float(v) for v in rows.split())
        finally:
            if name == NATIVE:
                drop_subscription(pg, DST_DB, "w3_lag_sub")
            elif state.get("proc"):
                state["proc"].terminate()
                state["proc"].wait(timeout=60)
                state["proc"] = None
            slots.release()
        if not values:
            raise VerifyError(f"{name}: no rows after the warm-up")
        p50 = values[len(values) // 2]
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        lags.setdefault(name, []).append([p50, p99])
        line = "lag ms (median over reps of each rep's p50 / p99): " + "; ".join(
            f"{k} p50 {statistics.median(v[0] for v in r):.2f} p99 {statistics.median(v[1] for v in r):.2f}"
            for k, r in lags.items())
        if notes and notes[-1].startswith("lag ms"):
            notes[-1] = line
        else:
            notes.append(line)
        return {"lag_p50_ms": p50, "lag_p99_ms": p99}

    pgbench = (f"exec {q(pg.tool('pgbench'))} -n -c 2 -j 1 -R {rate} -T {seconds} -f {q(script)} "
               + " ".join(q(a) for a in pg.conn_args(SRC_DB)))
    bench_script = write_script(os.path.join(ctx.workdir, "w3lag-pgbench.sh"), pgbench)
    env = dict(os.environ, PGPASSWORD=pg.password)
    contenders: List[Contender] = []
    for name, role in ((NATIVE, "peer"), (DS_PG, "datasync"), (DS_MY, "datasync")):
        if ctx.wants(role) or ctx.wants(name):
            contenders.append(Contender(name, role, ["/bin/bash", bench_script], rate * seconds,
                                        before=lambda n=name: prepare(n), after=lambda n=name: finish(n), env=env))

    def p99_goal(name: str) -> Goal:
        def judge(_stats) -> "tuple[bool, str]":
            if name not in lags or NATIVE not in lags:
                return False, "not measured"
            a = statistics.median(v[1] for v in lags[name])
            b = statistics.median(v[1] for v in lags[NATIVE])
            return a <= 2 * b, f"p99 {a:.2f} ms vs native's {b:.2f} ms ({a / b if b else float('inf'):.2f}x)"
        return Goal(f"{name} lag p99 <= 2x native subscription's at {rate} tx/s", judge)

    notes[:0] = [f"pgbench -R {rate} -T {seconds} -c 2: single-row insert transactions; lag measured per row after "
                 "a 2 s warm-up (arrival stamped by a target trigger at insert, before its commit)"]
    return Workload(name="W3lag", description=DESCRIPTION, contenders=contenders,
                    goals=[p99_goal(DS_PG), p99_goal(DS_MY)], notes=notes,
                    facts={"rate": f"{rate} tx/s for {seconds} s"}, cleanup=slots.drop)
