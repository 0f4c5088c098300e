"""The `datasync` console command."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import datasync
from helpers import ITEMS_ROWS, ORDERS_ROWS, sqlite_yaml, table_rows

SCRIPT = Path(sys.executable).parent / "datasync"


def run_cli(*args, cwd=None, timeout=120, **kwargs):
    assert SCRIPT.exists(), f"console script not installed at {SCRIPT}"
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kwargs
    )


def assert_one_clean_line(stderr: str) -> str:
    """The one line saying how the run ended (warnings printed as they happened aside)."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("datasync: warning: ")]
    assert len(lines) == 1, stderr
    return lines[0]


def test_warnings_are_printed_as_they_happen(tmp_path):
    yaml = tmp_path / "discard.yaml"
    yaml.write_text("source:\n  type: generator\n  rows: 10\nsink:\n  type: discard\npipeline:\n  name: w\n")
    r = run_cli("run", yaml, "--quiet")
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith("datasync: warning: the sink (discard) cannot hold a checkpoint"), r.stderr


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"datasync {datasync.version()}"
    m = subprocess.run([sys.executable, "-m", "datasync", "--version"], capture_output=True, text=True, timeout=60)
    assert m.returncode == 0 and m.stdout == r.stdout


def test_run_prints_summary_and_writes_json(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text(sqlite_yaml(source_db, dst, name="cli-copy"))
    summary = tmp_path / "summary.json"
    r = run_cli("run", yaml, "--summary-json", summary)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # not a TTY: no progress line
    out = r.stdout.splitlines()
    assert out[0].startswith("pipeline cli-copy: finished in ")
    table_lines = {line.split()[0]: line.split() for line in out[2:-1]}
    assert table_lines["main.orders"][1] == f"{len(ORDERS_ROWS):,}"
    assert table_lines["main.items"][1] == f"{len(ITEMS_ROWS):,}"
    total = len(ORDERS_ROWS) + len(ITEMS_ROWS)
    assert out[-1].startswith(f"total: 2 tables, {total:,} rows, ")
    assert "rows/s" in out[-1]
    assert table_rows(dst, "orders") == sorted(ORDERS_ROWS)
    metrics = json.loads(summary.read_text())
    assert metrics["rows_written"] == total
    assert metrics["tables"]["main.orders"]["rows_written"] == len(ORDERS_ROWS)


def test_run_quiet_and_fresh(source_db, tmp_path):
    dst = tmp_path / "dst.db"
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text(sqlite_yaml(source_db, dst, sink_extra={"write_mode": "upsert"}))
    r = run_cli("run", yaml, "--quiet")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    again = run_cli("run", yaml, "--fresh")
    assert again.returncode == 0
    total = len(ORDERS_ROWS) + len(ITEMS_ROWS)
    assert f"{total:,} rows" in again.stdout.splitlines()[-1]
    assert table_rows(dst, "orders") == sorted(ORDERS_ROWS)


def test_bad_config_exits_2_with_one_line(tmp_path):
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text(f"source:\n  type: sqlite\n  pth: '{tmp_path / 'x.db'}'\nsink: {{type: discard}}\n")
    r = run_cli("run", yaml)
    assert r.returncode == 2
    assert r.stdout == ""
    line = assert_one_clean_line(r.stderr)
    assert line.startswith("datasync: error: DS_ERR_CONFIG: ")
    assert "'pth'" in line and "did you mean 'path'?" in line
    assert line.endswith("pipeline.yaml:3:3)")


def test_malformed_yaml_exits_2(tmp_path):
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text("source: {type: sqlite\nsink: [\n")
    r = run_cli("run", yaml)
    assert r.returncode == 2
    assert assert_one_clean_line(r.stderr).startswith("datasync: error: DS_ERR_CONFIG: ")


def test_runtime_error_exits_1(tmp_path):
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text(sqlite_yaml(tmp_path / "missing.db", tmp_path / "dst.db"))
    r = run_cli("run", yaml)
    assert r.returncode == 1
    line = assert_one_clean_line(r.stderr)
    assert line.startswith("datasync: error: DS_ERR_NOT_FOUND: ")
    assert "missing.db" in line


def test_missing_pipeline_file_and_usage_errors(tmp_path):
    r = run_cli("run", tmp_path / "nope.yaml")
    assert r.returncode in (1, 2)
    assert assert_one_clean_line(r.stderr).startswith("datasync: error: ")
    usage = run_cli()
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    bad_flag = run_cli("run", "--no-such-flag", "x.yaml")
    assert bad_flag.returncode == 2 and "Traceback" not in bad_flag.stderr


# The generator feeds the discard sink at tens of millions of rows per second:
# 50 million rows last under a second, so the signal tests use far more.
BIG_ROWS = 20_000_000_000


def big_pipeline(tmp_path, name="ctrl-c"):
    yaml = tmp_path / "big.yaml"
    yaml.write_text(f"source: {{type: generator, rows: {BIG_ROWS}}}\nsink: {{type: discard}}\npipeline: {{name: {name}}}\n")
    return yaml


def interrupt_after(proc, sig, delay=1.0):
    time.sleep(delay)
    assert proc.poll() is None, "finished before the signal"
    proc.send_signal(sig)
    sent = time.monotonic()
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"did not exit after {sig!r}: {err}")
    return out, err, time.monotonic() - sent


@pytest.mark.slow
def test_ctrl_c_exits_130_quickly_and_cleanly(tmp_path):
    proc = subprocess.Popen(
        [str(SCRIPT), "run", big_pipeline(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err, took = interrupt_after(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert took < 5
    line = assert_one_clean_line(err)
    assert line.startswith("datasync: interrupted")
    assert out == ""


@pytest.mark.slow
def test_sigterm_exits_143_cleanly(tmp_path):
    proc = subprocess.Popen(
        [str(SCRIPT), "run", big_pipeline(tmp_path, "term")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err, took = interrupt_after(proc, signal.SIGTERM)
    assert proc.returncode == 143, err
    assert took < 5
    assert assert_one_clean_line(err).startswith("datasync: terminated")


@pytest.mark.slow
def test_progress_line_on_a_tty(tmp_path):
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(SCRIPT), "run", str(big_pipeline(tmp_path, "tty"))], stdout=subprocess.PIPE, stderr=slave, text=True
        )
        os.close(slave)
        slave = -1
        chunks = []
        interrupt_at = time.monotonic() + 2.0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if interrupt_at and time.monotonic() >= interrupt_at:
                assert proc.poll() is None, "finished before the signal"
                proc.send_signal(signal.SIGINT)
                interrupt_at = 0
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.communicate(timeout=15)
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    assert proc.returncode == 130
    tty = b"".join(chunks).decode(errors="replace")
    progress = [part for part in tty.split("\r") if "rows/s" in part]
    assert len(progress) >= 2, tty  # refreshed about every 0.5 s
    assert "tables 0/1" in progress[-1]
    assert f"/ ~{BIG_ROWS:,} rows" in progress[-1] and "%" in progress[-1]
    assert "datasync: interrupted" in tty
