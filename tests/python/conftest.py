"""pytest fixtures of the Python binding tests.

The tests import the *installed* datasync package (``pip install .[test]``
first); they never import bindings/python/datasync from the source tree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import make_source_db  # noqa: E402


def pytest_sessionstart(session: pytest.Session) -> None:
    import datasync

    here = Path(__file__).resolve().parents[2] / "bindings" / "python" / "datasync"
    loaded = Path(datasync.__file__).resolve().parent
    if loaded == here:
        raise pytest.UsageError(
            "tests must run against the installed package (pip install '.[test]'), not the source tree"
        )


@pytest.fixture()
def source_db(tmp_path: Path) -> Path:
    return make_source_db(tmp_path / "src.db")
