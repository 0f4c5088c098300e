"""The datasync exception hierarchy, generated from the C library's status table.

Every ``ds_status`` code other than ``DS_OK`` maps to one subclass of
:class:`Error`. The codes and their names come from the library at import
(``ds_status_name``); nothing here repeats a number. The Python class names
avoid shadowing builtins:

=========================  =========================
status                     class
=========================  =========================
DS_ERR_INVALID_ARGUMENT    InvalidArgumentError
DS_ERR_CONFIG              ConfigError
DS_ERR_CONNECTION          ConnectionFailedError
DS_ERR_AUTH                AuthError
DS_ERR_NOT_FOUND           NotFoundError
DS_ERR_UNSUPPORTED         UnsupportedError
DS_ERR_SCHEMA              SchemaError
DS_ERR_DATA                DataError
DS_ERR_IO                  IOFailureError
DS_ERR_TIMEOUT             TimedOutError
DS_ERR_CANCELLED           CancelledError
DS_ERR_CALLBACK            CallbackError
DS_ERR_STATE               StateError
DS_ERR_NOMEM               OutOfMemoryError
DS_ERR_INTERNAL            InternalError
=========================  =========================

A status added by a newer library gets a class named after it
(``DS_ERR_FOO_BAR`` -> ``FooBarError``).
"""

from __future__ import annotations

from typing import Dict, List, Type

from . import _datasync

__all__ = ["Error", "error_class", "ERROR_CLASSES"]

# Friendly names for the known statuses, keyed by the status *name*.
_CLASS_NAMES = {
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


class Error(Exception):
    """Base class of every error the datasync library reports.

    Attributes:
        code: the ``ds_status`` number.
        status_name: ``"DS_ERR_CONFIG"`` and so on.
        message: what went wrong, one line.
        context: where (``"pipeline=x source=sqlite table=main.orders"``,
            ``"pipeline.yaml:3:3"``), or ``""``.
        retriable: True when trying again later may succeed.

    ``str(e)`` is ``"message (context)"``, or just the message without context.
    """

    code: int = 0
    status_name: str = ""

    def __init__(self, message: str, context: str = "", retriable: bool = False) -> None:
        super().__init__(message, context)
        self.message = message
        self.context = context
        self.retriable = retriable

    def __str__(self) -> str:
        return f"{self.message} ({self.context})" if self.context else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, context={self.context!r}, retriable={self.retriable!r})"

    def __reduce__(self):  # picklable across processes
        return (_rebuild, (self.code, self.message, self.context, self.retriable))


def _derived_name(status_name: str) -> str:
    stem = status_name[len("DS_ERR_"):] if status_name.startswith("DS_ERR_") else status_name
    return "".join(part.capitalize() for part in stem.split("_") if part) + "Error"


def _looks_like_status(name: str) -> bool:
    return name.startswith("DS_ERR_") and "UNKNOWN" not in name


ERROR_CLASSES: Dict[int, Type[Error]] = {}


def _generate() -> None:
    codes: List[int] = list(_datasync.STATUS_CODES)
    # A newer library may know statuses this header does not: probe past the end.
    probe = max(codes) + 1
    while _looks_like_status(_datasync.status_name(probe)) and probe < max(codes) + 64:
        codes.append(probe)
        probe += 1
    for code in codes:
        status_name = _datasync.status_name(code)
        if not _looks_like_status(status_name):
            status_name = f"DS_ERR_{code}"
        class_name = _CLASS_NAMES.get(status_name) or _derived_name(status_name)
        cls = type(
            class_name,
            (Error,),
            {
                "code": code,
                "status_name": status_name,
                "__doc__": f"Raised for {status_name} (status {code}).",
                "__module__": "datasync",
            },
        )
        ERROR_CLASSES[code] = cls
        globals()[class_name] = cls
        __all__.append(class_name)


def error_class(code: int) -> Type[Error]:
    """The class for a status code (:class:`Error` itself for an unknown one)."""
    return ERROR_CLASSES.get(code, Error)


def _make(code: int, status_name: str, message: str, context: str, retriable: bool) -> Error:
    cls = error_class(code)
    err = cls(message, context, retriable)
    if cls is Error:  # unknown code: keep what the library said
        err.code = code
        err.status_name = status_name or f"DS_ERR_{code}"
    return err


def _rebuild(code: int, message: str, context: str, retriable: bool) -> Error:
    return _make(code, _datasync.status_name(code), message, context, retriable)


Error.__module__ = "datasync"
_generate()
_datasync._set_error_factory(_make)


def _by_status(name: str) -> Type[Error]:
    for cls in ERROR_CLASSES.values():
        if cls.status_name == name:
            return cls
    raise LookupError(name)  # pragma: no cover - the table always has the known names


# Named handles used inside the package (the classes themselves are generated).
StateError: Type[Error] = _by_status("DS_ERR_STATE")
ConfigError: Type[Error] = _by_status("DS_ERR_CONFIG")
InvalidArgumentError: Type[Error] = _by_status("DS_ERR_INVALID_ARGUMENT")
CancelledError: Type[Error] = _by_status("DS_ERR_CANCELLED")
CallbackError: Type[Error] = _by_status("DS_ERR_CALLBACK")
