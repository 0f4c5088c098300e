"""What the PostgreSQL change data capture workloads (W3, W3lag) share: their
logical slots on the source, the native subscription's teardown and the
datasync `mode: cdc` pipelines they write.

Each workload names all its slots with one prefix, so that a run can clear
what an interrupted one left behind. W3's prefix `w3_` also matches W3lag's
`w3_lag_`: W3 clears W3lag's idle slots too.
"""

from __future__ import annotations

import time
from typing import Any, Dict

from . import write_pipeline
from .w1 import Mariadb
from .w2 import Server as PgServer


class Slots:
    """The logical replication slots of one workload on its source database,
    named by a LIKE pattern (`_` escaped, e.g. 'w3\\_%')."""

    def __init__(self, pg: PgServer, database: str, like: str) -> None:
        self.pg, self.database, self.like = pg, database, like

    def drop(self) -> None:
        """Drops the slots no walsender holds (an active one cannot be dropped)."""
        self.pg.psql(self.database, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                    f"WHERE slot_name LIKE '{self.like}' AND NOT active")

    def create(self, slot: str) -> None:
        """A pgoutput slot, made before the changes are written so that they are all in it."""
        self.pg.psql(self.database, f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")

    def release(self) -> None:
        """Drops the slots once a stopped contender's walsender has let go of them (it may take a moment: up to 5 s)."""
        for _ in range(50):
            if self.pg.psql(self.database, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE "
                                           f"'{self.like}' AND active") == "0":
                break
            time.sleep(0.1)
        self.drop()


def conninfo(pg: PgServer, database: str) -> str:
    """The libpq connection string of a native subscription to `database`."""
    return f"host={pg.host} port={pg.port} user={pg.user} password={pg.password} dbname={database}"


def drop_subscription(pg: PgServer, database: str, name: str) -> None:
    """Drops a native subscription but not its slot: the slot is the workload's, dropped by Slots."""
    pg.psql(database, f"ALTER SUBSCRIPTION {name} DISABLE; ALTER SUBSCRIPTION {name} SET (slot_name = NONE); "
                      f"DROP SUBSCRIPTION {name}")


def pg_sink(pg: PgServer, database: str) -> Dict[str, Any]:
    return {"type": "postgres", "host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password,
            "database": database}


def my_sink(my: Mariadb, database: str) -> Dict[str, Any]:
    return {"type": "mariadb", "host": my.host, "port": my.port, "user": my.user, "password": my.password,
            "database": database}


def cdc_pipeline(path: str, pg: PgServer, database: str, table: str, publication: str, slot: str,
                 sink: Dict[str, Any]) -> str:
    """Writes a datasync `mode: cdc` pipeline of public.`table` that streams
    from the given (already created) slot and publication; the pipeline is
    named after the slot. Returns the path."""
    return write_pipeline(path, {
        "source": {"type": "postgres", "host": pg.host, "port": pg.port, "user": pg.user,
                   "password": pg.password, "database": database, "tables": f"public\\.{table}",
                   "slot_name": slot, "publication_name": publication},
        "sink": sink,
        "pipeline": {"name": slot, "mode": "cdc"},
    })
