"""datasync.Batch: a batch of rows of one table, for code without pyarrow.

Transforms receive a ``pyarrow.RecordBatch`` when pyarrow is importable; this
class is what they get otherwise (or with ``arrow=False``). It reads values
through the library's plain-C accessors and builds new columns with its column
builder. It also implements the Arrow PyCapsule interface
(``__arrow_c_array__``), so any Arrow library can take it over zero-copy.

A batch handed to a transform is valid only during the call; afterwards every
access raises :class:`datasync.StateError`.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import struct as _struct
import uuid as _uuid
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _datasync

__all__ = ["Batch", "TYPE_NAMES"]

TYPE_NAMES: Dict[int, str] = {code: name for name, code in _datasync.TYPES.items()}
_TYPE_CODES: Dict[str, int] = dict(_datasync.TYPES)

_EPOCH_DATE = _dt.date(1970, 1, 1)
_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_DECIMAL_CONTEXT = _decimal.Context(prec=100)  # exact for decimal128/256
_OPS = {0: "+I", 1: "-U", 2: "+U", 3: "-D"}


def _from_micros_of_day(v: int) -> _dt.time:
    seconds, micros = divmod(v, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return _dt.time(hour, minute, second, micros)


def _to_micros(delta: _dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _convert_in(type_name: str, v: Any) -> Any:
    """A Python value to what the native column builder takes."""
    if v is None:
        return None
    if type_name == "date" and isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
        return (v - _EPOCH_DATE).days
    if type_name == "time" and isinstance(v, _dt.time):
        return ((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000 + v.microsecond
    if type_name == "timestamp" and isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return _to_micros(v - _EPOCH)
    if type_name == "timestamp_tz" and isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            raise ValueError("a timestamp_tz column takes timezone-aware datetimes")
        return _to_micros(v - _EPOCH_UTC)
    return v


class Batch:
    """A columnar batch of rows of one table (see the module docstring)."""

    __slots__ = ("_native",)

    def __init__(self, native: _datasync.Batch) -> None:
        self._native = native

    # --------------------------------------------------------------- shape
    @property
    def table(self) -> str:
        """``"schema.table"`` the batch belongs to (after routing)."""
        return self._native.table

    @property
    def position(self) -> str:
        """The source position the batch ends at (opaque text)."""
        return self._native.position

    @property
    def kind(self) -> str:
        """``"rows"``, or ``"schema_change"`` for a change stream's schema change (see :class:`datasync.ChangeStream`)."""
        return "schema_change" if self._native.kind == _datasync.BATCH_KINDS["schema_change"] else "rows"

    @property
    def schema_change(self) -> str:
        """What a ``"schema_change"`` batch changed (``"add_column tier"``, ``"truncate_table"``); ``""`` otherwise."""
        return self._native.schema_change

    @property
    def num_rows(self) -> int:
        return self._native.num_rows

    @property
    def num_columns(self) -> int:
        return self._native.num_columns

    def __len__(self) -> int:
        return self._native.num_rows

    @property
    def column_names(self) -> List[str]:
        return list(self._native.column_names)

    @property
    def schema(self) -> List[Tuple[str, str]]:
        """``[(column name, type name), ...]``; type names as :data:`TYPE_NAMES`."""
        return [
            (name, TYPE_NAMES.get(code, f"type{code}"))
            for name, code in zip(self._native.column_names, self._native.column_types)
        ]

    @property
    def valid(self) -> bool:
        """False once the transform call that received the batch returned."""
        return self._native.valid

    # -------------------------------------------------------------- values
    def column(self, key: Union[str, int]) -> List[Any]:
        """The values of one column (by name or index) as Python objects.

        bool, int, float, str (string, json, unknown), bytes (binary),
        datetime.date, datetime.time, datetime.datetime (naive for timestamp,
        UTC for timestamp_tz), decimal.Decimal, uuid.UUID, and
        (months, days, nanoseconds) tuples for intervals; None for NULL.
        """
        native = self._native
        index = native.column_index(key)
        type_name = TYPE_NAMES.get(native.column_types[index], "")
        if type_name in ("decimal", "uuid", "interval"):
            fmt, raw = native.fixed_column(index)
            return [None if b is None else _convert_fixed(type_name, fmt, b) for b in raw]
        values = native.column(index)
        if type_name == "date":
            return [None if v is None else _EPOCH_DATE + _dt.timedelta(days=v) for v in values]
        if type_name == "time":
            return [None if v is None else _from_micros_of_day(v) for v in values]
        if type_name == "timestamp":
            return [None if v is None else _EPOCH + _dt.timedelta(microseconds=v) for v in values]
        if type_name == "timestamp_tz":
            return [None if v is None else _EPOCH_UTC + _dt.timedelta(microseconds=v) for v in values]
        return values

    def ops(self) -> List[str]:
        """The row operations: ``"+I"``, ``"-U"``, ``"+U"``, ``"-D"``."""
        return [_OPS.get(op, str(op)) for op in self._native.ops()]

    def changes(self) -> List[Tuple[str, Dict[str, Any]]]:
        """``[(op, {column: value, ...}), ...]``: each row with its operation (``"+I"``, ``"-U"``, ``"+U"``, ``"-D"``)."""
        return list(zip(self.ops(), self.to_pylist()))

    def to_arrow(self) -> Any:
        """A ``pyarrow.RecordBatch`` of the columns (plus ``__op`` for changes), zero-copy. Needs pyarrow."""
        import pyarrow  # noqa: PLC0415 - optional dependency

        return pyarrow.record_batch(self)

    def to_pydict(self) -> Dict[str, List[Any]]:
        """``{column: [values]}``."""
        return {name: self.column(i) for i, name in enumerate(self._native.column_names)}

    def to_pylist(self) -> List[Dict[str, Any]]:
        """``[{column: value, ...}, ...]``, one dict per row."""
        names = list(self._native.column_names)
        columns = [self.column(i) for i in range(len(names))]
        return [dict(zip(names, row)) for row in zip(*columns)] if names else [{} for _ in range(len(self))]

    # ------------------------------------------------------------ building
    def with_column(self, name: str, values: Iterable[Any], type: str = "string") -> "Batch":
        """A new batch: these columns (shared, not copied) plus one new column.

        ``type`` is one of bool, int8, int16, int32, int64, uint64, float32,
        float64, string, binary, json, date, time, timestamp, timestamp_tz.
        ``values`` must hold exactly ``len(self)`` items (None for NULL).
        Return the new batch from the transform to replace the input.
        """
        if type not in _TYPE_CODES:
            raise ValueError(f"unknown column type {type!r}; expected one of {', '.join(sorted(_TYPE_CODES))}")
        converted = [_convert_in(type, v) for v in values]
        return Batch(self._native.with_column(name, _TYPE_CODES[type], converted))

    # --------------------------------------------------------------- arrow
    def __arrow_c_array__(self, requested_schema: Optional[object] = None) -> Tuple[object, object]:
        """Arrow PyCapsule interface: a struct array of the columns, zero-copy.

        Batches that carry changes have an extra int8 ``__op`` column.
        """
        return self._native.__arrow_c_array__(requested_schema)

    def __repr__(self) -> str:
        if not self._native.valid:
            return "<datasync.Batch (no longer valid)>"
        cols = ", ".join(f"{n}: {t}" for n, t in self.schema)
        return f"<datasync.Batch {self.table} rows={self.num_rows} [{cols}]>"


def _convert_fixed(type_name: str, fmt: str, raw: bytes) -> Any:
    if type_name == "uuid":
        return _uuid.UUID(bytes=raw)
    if type_name == "interval":
        return _struct.unpack("<iiq", raw)
    # decimal: "d:precision,scale[,bitwidth]"
    parts: Sequence[str] = fmt[2:].split(",")
    scale = int(parts[1]) if len(parts) > 1 else 0
    unscaled = int.from_bytes(raw, "little", signed=True)
    return _decimal.Decimal(unscaled).scaleb(-scale, _DECIMAL_CONTEXT)
