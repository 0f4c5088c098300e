"""datasync: an embeddable data-movement engine (Python bindings).

    import datasync

    with datasync.Pipeline.from_file("pipeline.yaml") as p:
        @p.transform(r"main\\.orders")
        def add_total(batch):          # a pyarrow.RecordBatch
            ...
        metrics = p.run()

The engine is the C library libdatasync (bundled); this package reaches it
only through its stable C ABI.
"""

from __future__ import annotations

from ._version import check_versions as _check_versions

try:
    from . import _datasync
except ImportError as _exc:  # pragma: no cover - broken installation
    raise ImportError(
        f"datasync: cannot load the native extension or the bundled libdatasync: {_exc}"
    ) from _exc

_check_versions(_datasync.COMPILED_VERSION_NUMBER, _datasync.version_number(), _datasync.version_string())

from . import _errors  # noqa: E402  (generates the exception classes)
from ._batch import Batch  # noqa: E402
from ._changes import ChangeStream  # noqa: E402
from ._errors import Error, error_class  # noqa: E402
from ._pipeline import Event, Pipeline  # noqa: E402

# The generated exception classes: ConfigError, NotFoundError, ... (see _errors).
for _cls in _errors.ERROR_CLASSES.values():
    globals()[_cls.__name__] = _cls
del _cls

__version__: str = _datasync.version_string()


def version() -> str:
    """The version of the loaded datasync library, e.g. ``"0.1.0"``."""
    return _datasync.version_string()


def version_number() -> int:
    """The loaded library's version as ``X*1000000 + Y*1000 + Z``."""
    return _datasync.version_number()


__all__ = [
    "Batch",
    "ChangeStream",
    "Error",
    "Event",
    "Pipeline",
    "error_class",
    "version",
    "version_number",
    "__version__",
    *(cls.__name__ for cls in _errors.ERROR_CLASSES.values()),
]
