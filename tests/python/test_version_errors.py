"""Version checks and the generated exception hierarchy."""

from __future__ import annotations

import pickle
import re

import pytest

import datasync
from datasync import _datasync
from datasync._version import check_versions


def header_version() -> str:
    # The header is the single source of truth for the version.
    from pathlib import Path

    header = Path(__file__).resolve().parents[2] / "include" / "datasync" / "datasync.h"
    m = re.search(r'#define\s+DS_VERSION_STRING\s+"([^"]+)"', header.read_text())
    assert m, "DS_VERSION_STRING not found in datasync.h"
    return m.group(1)


def test_version_matches_header_and_library():
    assert datasync.version() == header_version()
    assert datasync.__version__ == datasync.version()
    major, minor, patch = (int(x) for x in datasync.version().split("."))
    assert datasync.version_number() == major * 1_000_000 + minor * 1000 + patch
    assert _datasync.COMPILED_VERSION_NUMBER == datasync.version_number()


def test_distribution_version_is_header_version():
    from importlib.metadata import version

    assert version("datasync") == header_version()


def test_version_check_accepts_patch_difference_and_refuses_minor():
    check_versions(1_002_003, 1_002_009)  # patch may differ
    with pytest.raises(ImportError, match=r"loaded libdatasync is version 1\.3\.0.*built for 1\.2\.3.*major\.minor"):
        check_versions(1_002_003, 1_003_000)
    with pytest.raises(ImportError, match="LD_LIBRARY_PATH"):
        check_versions(1_002_003, 2_002_003, "2.2.3")


EXPECTED_CLASSES = {
    "DS_ERR_INVALID_ARGUMENT": "InvalidArgumentError",
    "DS_ERR_CONFIG": "ConfigError",
    "DS_ERR_CONNECTION": "ConnectionFailedError",
    "DS_ERR_AUTH": "AuthError",
    "DS_ERR_NOT_FOUND": "NotFoundError",
    "DS_ERR_UNSUPPORTED": "UnsupportedError",
    "DS_ERR_SCHEMA": "SchemaError",
    "DS_ERR_DATA": "DataError",
    "DS_ERR_IO": "IOFailureError",
    "DS_ERR_TIMEOUT": "TimedOutError",
    "DS_ERR_CANCELLED": "CancelledError",
    "DS_ERR_CALLBACK": "CallbackError",
    "DS_ERR_STATE": "StateError",
    "DS_ERR_NOMEM": "OutOfMemoryError",
    "DS_ERR_INTERNAL": "InternalError",
}


def test_error_classes_generated_from_status_table():
    seen = {}
    for code in _datasync.STATUS_CODES:
        status_name = _datasync.status_name(code)
        cls = datasync.error_class(code)
        assert cls is not datasync.Error
        assert issubclass(cls, datasync.Error) and issubclass(cls, Exception)
        assert cls.code == code
        assert cls.status_name == status_name
        assert cls.__module__ == "datasync"
        assert getattr(datasync, cls.__name__) is cls
        seen[status_name] = cls.__name__
    assert seen == EXPECTED_CLASSES
    # No class shadows a builtin name.
    import builtins

    assert not any(hasattr(builtins, name) for name in seen.values())


@pytest.mark.parametrize("status_name", sorted(EXPECTED_CLASSES))
def test_library_errors_map_to_classes(status_name):
    code = next(c for c in _datasync.STATUS_CODES if _datasync.status_name(c) == status_name)
    with pytest.raises(datasync.Error) as info:
        _datasync._error_roundtrip(code, "something broke", "table=main.t row=3")
    err = info.value
    assert type(err).__name__ == EXPECTED_CLASSES[status_name]
    assert err.code == code and err.status_name == status_name
    assert err.message == "something broke"
    assert err.context == "table=main.t row=3"
    assert err.retriable is False
    assert str(err) == "something broke (table=main.t row=3)"


def test_error_without_context_and_pickling():
    with pytest.raises(datasync.DataError) as info:
        _datasync._error_roundtrip(datasync.DataError.code, "bad value")
    err = info.value
    assert str(err) == "bad value"
    assert err.context == ""
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is datasync.DataError
    assert (clone.message, clone.context, clone.code) == ("bad value", "", err.code)


def test_unknown_status_code_gives_base_error():
    with pytest.raises(datasync.Error) as info:
        _datasync._make_error(999, "from the future", "")
    assert type(info.value) is datasync.Error
    assert info.value.code == 999
    assert info.value.message == "from the future"
