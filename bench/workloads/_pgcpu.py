"""CPU seconds of a PostgreSQL server's processes by role, sampled during a run.

The whole server's CPU (w2.server_cpu_s) mixes the source's walsender, which
decodes the WAL for every contender alike, with the target side that applies
the changes. Issue 6 compares the target side alone: datasync's sink
backends against native replication's apply worker. Backends are short of
nothing but their exit: a process is sampled every 50 ms, so one that exits
between samples loses at most that much of its time.
"""

from __future__ import annotations

import os
import threading
from typing import Dict, Optional, Tuple

from .w2 import _stat_fields


def _cpu_and_cmdline(pid: int, postmaster: int) -> Optional[Tuple[float, str]]:
    fields = _stat_fields(pid)
    if fields is None or fields[1] != str(postmaster):  # not a child of this server
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), cmdline


def role_of(cmdline: str, target_db: str) -> str:
    """'apply' for what writes into `target_db` (a client backend connected to
    it, or a logical replication apply worker), 'walsender', or 'other'."""
    if "walsender" in cmdline:
        return "walsender"
    if "logical replication" in cmdline and "launcher" not in cmdline:
        return "apply"
    # "postgres: <user> <database> <host(port)> <state>"
    parts = cmdline.split()
    if len(parts) >= 3 and parts[0] == "postgres:" and parts[2] == target_db:
        return "apply"
    return "other"


class RoleCpu:
    """Samples the server's children from start() to stop(); stop() returns
    CPU seconds spent meanwhile per role (role_of; "short-lived" for processes
    seen in fewer than 3 samples)."""

    def __init__(self, postmaster: Optional[int], target_db: str, interval_s: float = 0.05):
        self.postmaster = postmaster
        self.target_db = target_db
        self.interval_s = interval_s
        self._first: Dict[int, float] = {}
        self._last: Dict[int, Tuple[float, str]] = {}
        self._seen: Dict[int, int] = {}  # samples a process was in
        self._role: Dict[int, str] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _sample(self) -> None:
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            got = _cpu_and_cmdline(int(name), self.postmaster)
            if got is None:
                continue
            pid = int(name)
            # A process keeps the first role it is seen in other than "other":
            # a new child still bears the postmaster's title and an exiting
            # one an empty one, but its database and kind never change.
            if self._role.get(pid, "other") == "other":
                self._role[pid] = role_of(got[1], self.target_db)
            self._last[pid] = got
            self._seen[pid] = self._seen.get(pid, 0) + 1
            self._first.setdefault(pid, got[0] if self._thread is None else 0.0)

    def start(self) -> None:
        if self.postmaster is None:
            return
        self._sample()  # processes alive now count from here; later ones from zero
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def stop(self) -> Dict[str, float]:
        if self._thread is None:
            return {}
        self._stop.set()
        self._thread.join()
        self._sample()
        out: Dict[str, float] = {}
        for pid, (cpu, _title) in self._last.items():
            # A connection that lived less than a few samples (a harness
            # poll's psql) is not part of anyone's apply.
            role = self._role[pid] if self._seen[pid] >= 3 else 'short-lived'
            out[role] = out.get(role, 0.0) + cpu - self._first.get(pid, 0.0)
        return out
