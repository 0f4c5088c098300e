"""engine: generator -> discard through `datasync run`. Measures the engine
itself (reader thread, queues, writer lane, metrics) with a source that costs
~10 ns/row and a sink that costs nothing. No peer: see bench/README.md."""

from __future__ import annotations

import os

from . import Contender, VerifyError, Workload, at_least_rate, read_summary, write_pipeline

DEFAULT_ROWS = 10_000_000
DESCRIPTION = "generator -> discard, one reader, goal >= 10M rows/s end to end"
GOAL_ROWS_PER_S = 10_000_000


def plan(ctx) -> Workload:
    rows = ctx.rows
    yaml_path = os.path.join(ctx.workdir, "engine.yaml")
    summary = os.path.join(ctx.workdir, "engine-summary.json")
    sections = {
        "source": {"type": "generator", "rows": rows, "seed": 42},
        "sink": {"type": "discard"},
        "pipeline": {"name": "bench-engine", "parallelism": 1, "batch_rows": 8192, "checkpoint_store": "none"},
    }
    ctx.apply_overrides(sections)
    write_pipeline(yaml_path, sections)

    def before() -> None:
        if os.path.exists(summary):
            os.remove(summary)

    def after():
        m = read_summary(summary)
        if not m:
            return {}
        written = m.get("rows_written")
        if written is not None and written != rows:
            raise VerifyError(f"datasync wrote {written:,} rows, expected {rows:,}")
        us = m.get("elapsed_us") or 0
        return {"engine_seconds": us / 1e6} if us > 0 else {}

    datasync = Contender(
        name="datasync",
        role="datasync",
        command=ctx.datasync_run(yaml_path, summary),
        rows=rows,
        before=before,
        after=after,
    )
    return Workload(
        name="engine",
        description=DESCRIPTION,
        contenders=[datasync],
        goals=[at_least_rate("datasync", GOAL_ROWS_PER_S)],
        notes=[
            "no peer: nothing else runs this engine's work (see bench/README.md); the goal is absolute",
            "wall time includes the CLI's start-up (Python, library load); engine_s is the engine's own elapsed time",
        ],
        facts={"pipeline": yaml_path},
    )
