"""Builds nothing: runs the C, C++ and Python samples (built by scripts/setup
into $DS_BUILD_DIR) on a freshly generated sample database and checks that the
output database holds every source row plus the computed full_name column."""
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("DS_BUILD_DIR", ROOT / "build"))
TABLES = ["customers", "products", "orders", "order_items", "events", "stock_levels"]


@pytest.fixture(scope="module")
def source_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("samples") / "source.db"
    subprocess.run([sys.executable, str(ROOT / "samples/data/make_sample_db.py"), str(path), "--rows", "3000"],
                   check=True, capture_output=True)
    return path


def write_pipeline(tmp_path: Path, source: Path) -> tuple[Path, Path]:
    target = tmp_path / "target.db"
    yaml = tmp_path / "pipeline.yaml"
    yaml.write_text(f"source:\n  type: sqlite\n  path: {source}\nsink:\n  type: sqlite\n  path: {target}\n"
                    "pipeline:\n  name: sample\n  parallelism: 2\n")
    return yaml, target


def check_output(source: Path, target: Path) -> None:
    db = sqlite3.connect(target)
    db.execute("ATTACH ? AS s", (str(source),))
    for table in TABLES:
        columns = [r[1] for r in db.execute(f"PRAGMA s.table_info({table})")]
        cols = ", ".join(f'"{c}"' for c in columns)
        missing = db.execute(f"SELECT count(*) FROM (SELECT {cols} FROM s.{table} EXCEPT SELECT {cols} FROM main.{table})").fetchone()[0]
        extra = db.execute(f"SELECT count(*) FROM (SELECT {cols} FROM main.{table} EXCEPT SELECT {cols} FROM s.{table})").fetchone()[0]
        counts = [db.execute(f"SELECT count(*) FROM {d}.{table}").fetchone()[0] for d in ("s", "main")]
        assert (missing, extra, counts[0]) == (0, 0, counts[1]), table
    wrong = db.execute("SELECT count(*) FROM customers WHERE full_name IS NOT first_name || ' ' || last_name").fetchone()[0]
    assert wrong == 0
    assert db.execute("SELECT count(*) FROM customers WHERE full_name IS NOT NULL").fetchone()[0] > 0


@pytest.mark.parametrize("sample", ["quickstart_c", "quickstart_cpp"])
def test_native_sample(sample, source_db, tmp_path):
    yaml, target = write_pipeline(tmp_path, source_db)
    result = subprocess.run([str(BUILD / "samples" / sample), str(yaml)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "copied" in result.stdout
    check_output(source_db, target)


def test_python_sample(source_db, tmp_path):
    yaml, target = write_pipeline(tmp_path, source_db)
    result = subprocess.run([sys.executable, str(ROOT / "samples/python/quickstart.py"), str(yaml)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    check_output(source_db, target)


def test_quickstart_pipeline_file(source_db, tmp_path):
    """The README's quickstart through the console command, on a copy of its YAML."""
    work = tmp_path / "qs"
    (work / "pipelines").mkdir(parents=True)
    (work / "data").mkdir()
    (work / "data" / "quickstart-source.db").write_bytes(source_db.read_bytes())
    (work / "pipelines" / "quickstart.yaml").write_text((ROOT / "samples/pipelines/quickstart.yaml").read_text())
    cli = Path(sys.executable).parent / "datasync"
    result = subprocess.run([str(cli), "run", str(work / "pipelines" / "quickstart.yaml")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "rows" in result.stdout
    target = work / "out" / "quickstart-target.db"
    db = sqlite3.connect(target)
    db.execute("ATTACH ? AS s", (str(source_db),))
    for table in TABLES:
        assert db.execute(f"SELECT count(*) FROM (SELECT * FROM s.{table} EXCEPT SELECT * FROM main.{table})").fetchone()[0] == 0
    # A second run resumes from the finished checkpoint and copies nothing twice.
    again = subprocess.run([str(cli), "run", str(work / "pipelines" / "quickstart.yaml")],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    for table in TABLES:
        n = [db.execute(f"SELECT count(*) FROM {d}.{table}").fetchone()[0] for d in ("s", "main")]
        assert n[0] == n[1], table
