"""stop() from other threads, resume, Ctrl-C in run(), events, metrics."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

import datasync
from helpers import ITEMS_ROWS, ORDERS_ROWS, make_big_source_db, sqlite_yaml, table_names, table_rows

BIG_ROWS = 20_000


def big_yaml(src, dst, name="big"):
    return sqlite_yaml(src, dst, name=name, parallelism=2, pipeline_extra={"batch_rows": 500})


def run_in_thread(pipeline):
    box = {}

    def target():
        try:
            box["metrics"] = pipeline.run()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    return t, box


def test_stop_from_another_thread_then_resume_without_duplicates(tmp_path):
    src = make_big_source_db(tmp_path / "big.db", BIG_ROWS)
    dst = tmp_path / "dst.db"
    flowing = threading.Event()
    stopped = threading.Event()
    batches = []

    p = datasync.Pipeline.from_yaml(big_yaml(src, dst))

    @p.transform()
    def slow_until_stopped(batch):
        batches.append(batch.num_rows)
        if len(batches) >= 3:
            flowing.set()
            stopped.wait(10)  # hold the run open until stop() was called

    t, box = run_in_thread(p)
    assert flowing.wait(30), "no batches flowed"
    assert p.running
    deadline = time.monotonic() + 10
    while p.metrics()["rows_written"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the batches before the blocked ones reach the target
    p.stop()  # from this (another) thread
    stopped.set()
    t.join(30)
    assert not t.is_alive()
    assert isinstance(box.get("error"), datasync.CancelledError), box
    partial = p.metrics()
    p.close()
    assert 0 < partial["rows_written"] < BIG_ROWS
    # Cancelled before anything was durable, or after some batches: either way
    # the checkpoint matches what the target holds.
    written_first = table_rows(dst, "big", ["id"]) if "big" in table_names(dst) else []
    assert len(written_first) < BIG_ROWS

    # A new pipeline from the same definition resumes and ends with exactly
    # the source rows: no duplicates, none missing.
    with datasync.Pipeline.from_yaml(big_yaml(src, dst)) as again:
        metrics = again.run()
    assert table_rows(dst, "big") == table_rows(src, "big")
    assert metrics["rows_written"] == BIG_ROWS - len(written_first)


def test_keyboard_interrupt_in_run_stops_cleanly_and_reraises(tmp_path):
    src = make_big_source_db(tmp_path / "big.db", BIG_ROWS)
    dst = tmp_path / "dst.db"
    flowing = threading.Event()

    with datasync.Pipeline.from_yaml(big_yaml(src, dst)) as p:

        @p.transform()
        def slow(batch):
            flowing.set()
            time.sleep(0.02)

        def interrupt():
            flowing.wait(30)
            _thread.interrupt_main()  # what Ctrl-C does

        threading.Thread(target=interrupt, daemon=True).start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            p.run()
        assert time.monotonic() - started < 20
        assert not p.running  # run() waited for the engine to end
        partial = p.metrics()
    assert partial["rows_written"] < BIG_ROWS
    with datasync.Pipeline.from_yaml(big_yaml(src, dst)) as again:
        again.run()
    assert table_rows(dst, "big") == table_rows(src, "big")


def test_events_are_delivered_in_order(source_db, tmp_path):
    events = []
    with datasync.Pipeline.from_yaml(sqlite_yaml(source_db, tmp_path / "dst.db", name="ev")) as p:

        @p.on_event
        def listen(event):
            assert isinstance(event, datasync.Event)
            events.append(event)

        p.run()
    kinds = [e.kind for e in events]
    assert kinds[0] == "pipeline_started"
    assert kinds[-1] == "pipeline_finished"
    assert "pipeline_failed" not in kinds
    finished = {e.table: e.rows for e in events if e.kind == "table_finished"}
    assert finished == {"main.orders": len(ORDERS_ROWS), "main.items": len(ITEMS_ROWS)}
    started = {e.table for e in events if e.kind == "table_started"}
    assert started == {"main.orders", "main.items"}
    for e in events:
        assert isinstance(e.code, int) and e.code > 0
        assert isinstance(e.message, str) and isinstance(e.rows, int)
    # Each table starts before it finishes.
    for table in finished:
        start = next(i for i, e in enumerate(events) if e.kind == "table_started" and e.table == table)
        end = next(i for i, e in enumerate(events) if e.kind == "table_finished" and e.table == table)
        assert start < end


def test_event_listener_exception_stops_the_run_and_is_reraised(tmp_path):
    class ListenerBug(RuntimeError):
        pass

    yaml = "source: {type: generator, rows: 100000}\nsink: {type: discard}\npipeline: {batch_rows: 1000}\n"
    with datasync.Pipeline.from_yaml(yaml) as p:

        @p.on_event
        def fragile(event):
            if event.kind == "table_started":
                raise ListenerBug("listener broke")

        with pytest.raises(ListenerBug, match="listener broke"):
            p.run()


def test_metrics_fields_and_progress(tmp_path):
    yaml = "source: {type: generator, rows: 300000, table_count: 2}\nsink: {type: discard}\npipeline: {batch_rows: 2000}\n"
    snapshots = []
    with datasync.Pipeline.from_yaml(yaml) as p:
        before = p.metrics()

        @p.transform()
        def slow(batch):
            time.sleep(0.002)

        final = p.run(progress=snapshots.append, progress_interval=0.05)
        assert p.metrics() == final or p.metrics()["rows_written"] == final["rows_written"]
    assert before["rows_written"] == 0
    expected = {
        "rows_read", "rows_written", "bytes_read", "bytes_written", "batches", "errors", "retries",
        "elapsed_us", "lag_ms", "tables_total", "tables_done", "rows_estimated", "values_adjusted",
        "source_retained_bytes", "tables",
    }  # fmt: skip
    assert set(final) == expected
    for key in expected - {"tables"}:
        assert isinstance(final[key], int), key
    assert final["rows_read"] == final["rows_written"] == 600_000
    assert final["tables_total"] == final["tables_done"] == 2
    assert final["rows_estimated"] == 600_000
    assert final["errors"] == 0
    assert final["batches"] >= 300
    assert final["bytes_written"] > 0 and final["elapsed_us"] > 0
    assert set(final["tables"]) == {"main.gen_1", "main.gen_2"}
    for t in final["tables"].values():
        assert set(t) == {"rows_read", "rows_written", "bytes_read", "bytes_written"}
        assert t["rows_written"] == 300_000
    # progress saw the run advance, from this thread.
    assert len(snapshots) >= 2
    written = [s["rows_written"] for s in snapshots]
    assert written == sorted(written)
    assert written[0] < 600_000


def test_metrics_from_another_thread_while_running(tmp_path):
    yaml = "source: {type: generator, rows: 200000}\nsink: {type: discard}\npipeline: {batch_rows: 1000}\n"
    p = datasync.Pipeline.from_yaml(yaml)
    p.transform()(lambda b: time.sleep(0.001))
    t, box = run_in_thread(p)
    seen = []
    while t.is_alive():
        seen.append(p.metrics()["rows_written"])
        time.sleep(0.01)
    t.join()
    assert "error" not in box, box
    assert box["metrics"]["rows_written"] == 200_000
    assert seen == sorted(seen)
    p.close()
    assert p.metrics()["rows_written"] == 200_000  # last snapshot survives close()


def test_close_while_running_stops_and_waits(tmp_path):
    yaml = "source: {type: generator, rows: 20000000000}\nsink: {type: discard}\n"
    p = datasync.Pipeline.from_yaml(yaml)
    t, box = run_in_thread(p)
    deadline = time.monotonic() + 30
    while p.metrics()["rows_written"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    p.close()
    assert time.monotonic() - started < 10
    t.join(10)
    assert not t.is_alive()
    assert isinstance(box.get("error"), datasync.CancelledError), box
    assert p.closed


SHUTDOWN_SCRIPT = r"""
import sys, threading, time
import datasync

mode = sys.argv[1]
p = datasync.Pipeline.from_yaml(
    "source: {type: generator, rows: 20000000000}\nsink: {type: discard}\npipeline: {batch_rows: 1000}\n"
)
seen = []

@p.transform()
def keep(batch):  # holds a Python callable in the engine until destroy
    seen.append(batch.num_rows)

@p.on_event
def listen(event):
    pass

if mode == "daemon-run":
    threading.Thread(target=p.run, daemon=True).start()
    while not seen:
        time.sleep(0.01)
    print("exiting while running", flush=True)
elif mode == "never-run":
    print("exiting without run", flush=True)
elif mode == "leak-global":
    p2 = datasync.Pipeline.from_yaml("source: {type: generator, rows: 10}\nsink: {type: discard}\n")
    p2.transform()(lambda b: None)
    p2.run()
    print("exiting with an unclosed, finished pipeline", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["daemon-run", "never-run", "leak-global"])
def test_interpreter_exit_with_live_pipelines_is_clean(tmp_path, mode):
    import subprocess
    import sys

    script = tmp_path / "shutdown.py"
    script.write_text(SHUTDOWN_SCRIPT)
    r = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("exiting")
    assert "terminate called" not in r.stderr and "Fatal Python error" not in r.stderr
    if mode == "daemon-run":
        # The run in the daemon thread is stopped at exit: it may still get to
        # report its CancelledError before the interpreter goes away.
        import re

        raised = set(re.findall(r"^([\w.]+(?:Error|Exception|Interrupt)):", r.stderr, re.M))
        assert raised <= {"datasync.CancelledError"}, r.stderr
    else:
        assert r.stderr == ""
