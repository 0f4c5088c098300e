"""sqlite: SQLite file -> new SQLite file. datasync against the sqlite3 shell's
own copy, `sqlite3 src.db .dump | sqlite3 dst.db`. The source is the sample
shop database (samples/data/make_sample_db.py) scaled to about --rows rows in
all; it is built once and cached under bench/results/cache/."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from typing import Dict

from . import (Contender, VerifyError, Workload, at_least_ratio, at_most_rss, read_summary, remove_db,
               write_pipeline)

DEFAULT_ROWS = 1_000_000
DESCRIPTION = "SQLite -> SQLite, 6 mixed tables (text, real, blob, NULLs); goal >= 2x the sqlite3 .dump pipe, RSS <= 256 MiB"
GOAL_RATIO = 2.0
GOAL_RSS_MIB = 256
SEED = 42
# make_sample_db.py --rows N makes N orders and about 0.8 N rows in the other tables.
ROWS_PER_ORDER = 1.8


def table_counts(path: str) -> Dict[str, int]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def source_db(ctx) -> "tuple[str, Dict[str, int]]":
    script = os.path.join(ctx.repo, "samples", "data", "make_sample_db.py")
    if not os.path.exists(script):
        raise SystemExit(f"bench: {script} is missing; it makes the source database of the sqlite workload")
    with open(script, "rb") as f:
        script_hash = hashlib.sha256(f.read()).hexdigest()[:16]
    orders = max(20, math.ceil(ctx.rows / ROWS_PER_ORDER))
    cache = os.path.join(ctx.results, "cache")
    os.makedirs(cache, exist_ok=True)
    path = os.path.join(cache, f"sqlite-src-{orders}-seed{SEED}.db")
    meta_path = path + ".json"
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("script") == script_hash and os.path.exists(path):
            return path, meta["counts"]
    except (OSError, ValueError, KeyError):
        pass
    ctx.log(f"making the source database: make_sample_db.py --rows {orders} (cached for later runs) ...")
    remove_db(path)
    subprocess.run([sys.executable, script, path, "--rows", str(orders), "--seed", str(SEED)], check=True,
                   stdout=subprocess.DEVNULL)
    counts = table_counts(path)
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump({"script": script_hash, "orders": orders, "seed": SEED, "counts": counts}, f, indent=1)
    return path, counts


def verifier(dst: str, want: Dict[str, int], who: str):
    def check() -> Dict[str, int]:
        if not os.path.exists(dst):
            raise VerifyError(f"{who} left no {dst}")
        got = table_counts(dst)
        bad = [f"{t}: {got.get(t, 'missing')} != {n}" for t, n in want.items() if got.get(t) != n]
        if bad:
            raise VerifyError(f"{who} target differs from the source: " + "; ".join(bad))
        return {}

    return check


def plan(ctx) -> Workload:
    src, counts = source_db(ctx)
    rows = sum(counts.values())
    contenders = []

    if ctx.wants("datasync"):
        dst = os.path.join(ctx.workdir, "dst-datasync.db")
        summary = os.path.join(ctx.workdir, "sqlite-summary.json")
        yaml_path = os.path.join(ctx.workdir, "sqlite.yaml")
        sections = {
            "source": {"type": "sqlite", "path": src},
            "sink": {"type": "sqlite", "path": dst},
            "pipeline": {"name": "bench-sqlite", "parallelism": min(os.cpu_count() or 1, 4),
                         "checkpoint_store": "none"},
        }
        ctx.apply_overrides(sections)
        write_pipeline(yaml_path, sections)
        check = verifier(dst, counts, "datasync")

        def ds_before() -> None:
            remove_db(dst)
            if os.path.exists(summary):
                os.remove(summary)

        def ds_after():
            check()
            m = read_summary(summary)
            us = m.get("elapsed_us") or 0
            return {"engine_seconds": us / 1e6} if us > 0 else {}

        contenders.append(Contender("datasync", "datasync", ctx.datasync_run(yaml_path, summary), rows,
                                    before=ds_before, after=ds_after))

    if ctx.wants("peer"):
        cli = shutil.which("sqlite3")
        if cli is None:
            raise SystemExit("bench: the sqlite3 command-line shell is needed for the sqlite workload's peer; "
                             "install it with `apt-get install sqlite3` (Debian/Ubuntu), or run with --only datasync")
        peer_dst = os.path.join(ctx.workdir, "dst-peer.db")
        q = shlex.quote
        # -bail: stop at the first failing statement instead of going on (the row check would catch it anyway).
        command = f"{q(cli)} {q(src)} .dump | {q(cli)} -bail {q(peer_dst)}"
        contenders.append(Contender("sqlite3 .dump|sqlite3", "peer", command, rows,
                                    before=lambda: remove_db(peer_dst),
                                    after=verifier(peer_dst, counts, "sqlite3 .dump|sqlite3")))

    names = [c.name for c in contenders]
    goals = []
    if "datasync" in names and "sqlite3 .dump|sqlite3" in names:
        goals.append(at_least_ratio("datasync", "sqlite3 .dump|sqlite3", GOAL_RATIO))
    if "datasync" in names:
        goals.append(at_most_rss("datasync", GOAL_RSS_MIB))

    def cleanup() -> None:
        if not ctx.keep:
            for name in ("dst-datasync.db", "dst-peer.db"):
                remove_db(os.path.join(ctx.workdir, name))

    sqlite_version = subprocess.run([shutil.which("sqlite3") or "sqlite3", "--version"], capture_output=True,
                                    text=True).stdout.split(" ")[0] if shutil.which("sqlite3") else "absent"
    return Workload(
        name="sqlite",
        description=DESCRIPTION,
        contenders=contenders,
        goals=goals,
        notes=[
            "each run writes a new target file (deleted before every run, untimed); row counts are checked after each",
            "the peer also rebuilds the source's indexes and sqlite_stat1; peak RSS of the peer is its larger process",
        ],
        facts={
            "source": f"{src} ({os.path.getsize(src) / 2**20:.1f} MiB, {rows:,} rows in {len(counts)} tables)",
            "sqlite3 CLI": sqlite_version,
        },
        cleanup=cleanup,
    )
