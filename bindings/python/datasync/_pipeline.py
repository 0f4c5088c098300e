"""datasync.Pipeline: build, extend and run a pipeline from Python."""

from __future__ import annotations

import atexit
import importlib
import json
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple, TypeVar, Union

from . import _datasync
from ._batch import Batch
from ._changes import ChangeStream
from ._errors import Error, StateError

__all__ = ["Pipeline", "Event", "ChangeStream"]

F = TypeVar("F", bound=Callable[..., Any])
PathLike = Union[str, "os.PathLike[str]"]

_PYARROW_UNSET = object()
_pyarrow: Any = _PYARROW_UNSET


def _import_pyarrow() -> Any:
    """pyarrow, or None when it is not installed (looked up once)."""
    global _pyarrow
    if _pyarrow is _PYARROW_UNSET:
        try:
            _pyarrow = importlib.import_module("pyarrow")
        except ImportError:
            _pyarrow = None
    return _pyarrow


class Event(NamedTuple):
    """A pipeline event, as handed to :meth:`Pipeline.on_event` listeners.

    kind: ``"pipeline_started"``, ``"table_started"``, ``"table_finished"``,
        ``"split_finished"``, ``"checkpoint"``, ``"schema_change"``,
        ``"warning"``, ``"retry"``, ``"pipeline_finished"``, ``"pipeline_failed"``.
    table: the table concerned, or ``""``.
    message: details, or ``""``.
    rows: a row count whose meaning depends on the kind (estimated rows for
        table_started, rows written for table_finished, ...).
    code: the numeric DS_EVENT_* kind.
    """

    kind: str
    table: str
    message: str
    rows: int
    code: int


def _callable_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__)


def _config_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    if isinstance(value, (list, tuple)):
        # ds_config_set takes a list key as one comma-separated string.
        return ",".join(_config_value(v) for v in value)
    return str(value)


class _RunOutcome:
    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: Optional[BaseException] = None


_live_pipelines: "weakref.WeakSet[Pipeline]" = weakref.WeakSet()


@atexit.register
def _close_live_pipelines() -> None:
    # Stop engine threads while the interpreter can still run their callbacks.
    for pipeline in list(_live_pipelines):
        try:
            pipeline.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class Pipeline:
    """A runnable pipeline.

    Create one with :meth:`from_yaml`, :meth:`from_file`, :meth:`from_dict`
    (or ``Pipeline(dict)``) or :meth:`from_settings`; add transforms and event
    listeners; call :meth:`run` once; :meth:`close` it (or use ``with``).
    A pipeline runs once: create a new one (from the same definition) to run
    again; it resumes from the stored checkpoint unless ``fresh=True``.

    Thread safety: :meth:`stop` and :meth:`metrics` may be called from any
    thread at any time, including from callbacks. Everything else is for one
    thread at a time.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        """Same as :meth:`from_dict`."""
        self._attach(_datasync.Pipeline.from_yaml(_dict_to_text(config)))

    # ----------------------------------------------------------- creation
    @classmethod
    def _wrap(cls, native: _datasync.Pipeline) -> "Pipeline":
        self = cls.__new__(cls)
        self._attach(native)
        return self

    def _attach(self, native: _datasync.Pipeline) -> None:
        self._native: Optional[_datasync.Pipeline] = native
        self._name: str = native.name
        self._thread: Optional[threading.Thread] = None
        self._done = threading.Event()
        self._final_metrics: Optional[Dict[str, Any]] = None
        self._callbacks: List[Callable[..., Any]] = []  # keeps user functions alive and inspectable
        self._changes: Optional[ChangeStream] = None
        _live_pipelines.add(self)

    @classmethod
    def from_yaml(cls, text: str) -> "Pipeline":
        """From YAML (or JSON) text. Relative paths resolve against the current directory.

        Raises :class:`datasync.ConfigError` (context ``"<string>:line:col"``)
        for a malformed or invalid definition.
        """
        return cls._wrap(_datasync.Pipeline.from_yaml(text))

    @classmethod
    def from_file(cls, path: PathLike) -> "Pipeline":
        """From a YAML file. Relative paths in it resolve against the file's directory."""
        return cls._wrap(_datasync.Pipeline.from_file(os.fspath(path)))

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> "Pipeline":
        """From a dict shaped like the YAML file (``source``, ``sink``, ``route``, ``pipeline``, ...).

        It is dumped to JSON text and parsed by the same parser as YAML.
        Relative paths resolve against the current directory.
        """
        return cls._wrap(_datasync.Pipeline.from_yaml(_dict_to_text(config)))

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], routes: Iterable[Tuple[str, str]] = ()
    ) -> "Pipeline":
        """From dotted keys (``{"source.type": "sqlite", "source.path": ...}``) and
        ``(source_table_regex, sink_table)`` routes, through ``ds_config_set``.
        Values are converted to text: booleans as ``true``/``false``, lists
        and tuples joined with commas (how list keys are written as text)."""
        items = [(str(k), _config_value(v)) for k, v in settings.items()]
        return cls._wrap(_datasync.Pipeline.from_config(items, [(str(a), str(b)) for a, b in routes]))

    # ---------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """The pipeline's name (``pipeline.name`` in the definition)."""
        return self._name

    @property
    def closed(self) -> bool:
        return self._native is None

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("running" if self.running else "open")
        return f"<datasync.Pipeline {self._name!r} {state}>"

    def _live(self) -> _datasync.Pipeline:
        native = self._native
        if native is None:
            raise StateError("the pipeline is closed")
        return native

    # -------------------------------------------------------- transforms
    def transform(
        self,
        pattern: Union[str, Callable[..., Any], None] = None,
        *,
        serial: bool = False,
        arrow: Optional[bool] = None,
    ) -> Any:
        """Decorator registering a batch transform for the tables matching ``pattern``.

        ``pattern`` is a regex matched against the whole ``"schema.table"``
        (after routing); None or ``""`` means every table. ``@p.transform``
        without arguments registers for every table.

        The function receives a ``pyarrow.RecordBatch`` (when pyarrow is
        importable and ``arrow`` is not False) or a :class:`datasync.Batch`,
        and returns None (pass the batch on unchanged), a new batch
        (``pyarrow.RecordBatch``, ``pyarrow.Table``, :class:`datasync.Batch`
        or any object with ``__arrow_c_array__``), or an empty batch to drop
        the rows. It runs on an engine thread, concurrently for different
        tables or splits unless ``serial=True``; it holds the GIL while it runs.

        If it raises, the pipeline stops and :meth:`run` re-raises that same
        exception (see :meth:`run`).
        """
        if callable(pattern):
            fn = pattern
            self.add_transform(fn)
            return fn

        def decorator(fn: F) -> F:
            self.add_transform(fn, pattern, serial=serial, arrow=arrow)
            return fn

        return decorator

    def add_transform(
        self,
        fn: Callable[[Any], Any],
        pattern: Optional[str] = None,
        *,
        serial: bool = False,
        arrow: Optional[bool] = None,
    ) -> None:
        """Registers ``fn`` as :meth:`transform` does. Only before :meth:`run`."""
        native = self._live()
        if self._thread is not None:
            raise StateError("transforms can only be added before run()")
        use_arrow = _import_pyarrow() is not None if arrow is None else bool(arrow)
        if use_arrow and _import_pyarrow() is None:
            raise ImportError("arrow=True needs pyarrow: pip install 'datasync[arrow]'")
        name = _callable_name(fn)
        native.add_transform(pattern or "", bool(serial), _make_transform_call(fn, name, use_arrow), name)
        self._callbacks.append(fn)

    def on_event(self, fn: F) -> F:
        """Decorator registering an event listener ``fn(event: datasync.Event)``.

        Called on an engine thread, never concurrently with itself; keep it
        short. If it raises, the pipeline is stopped and :meth:`run`
        re-raises that exception.
        """
        native = self._live()
        if self._thread is not None:
            raise StateError("event listeners can only be added before run()")
        name = _callable_name(fn)

        def call(code: int, kind: str, table: str, message: str, rows: int) -> None:
            fn(Event(kind, table, message, rows, code))

        native.add_event_listener(call, name)
        self._callbacks.append(fn)
        return fn

    add_event_listener = on_event

    # ----------------------------------------------------------------- run
    def run(
        self,
        fresh: bool = False,
        *,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
        progress_interval: float = 0.5,
    ) -> Dict[str, Any]:
        """Runs the pipeline to completion and returns the final :meth:`metrics`.

        Resumes from the stored checkpoint unless ``fresh=True``. The native
        run happens on a helper thread with the GIL released; this thread
        waits in short steps, so Ctrl-C works: on KeyboardInterrupt (or any
        exception from ``progress``) the pipeline is stopped, this call waits
        until the engine has ended (the checkpoint then holds exactly what is
        durable, and the next run continues from there) and the exception is
        re-raised. A second Ctrl-C while waiting is ignored.

        ``progress``, when given, is called on this thread with the
        :meth:`metrics` dict every ``progress_interval`` seconds.

        Errors: the library's failures raise the mapped :class:`datasync.Error`
        subclass (:class:`datasync.CancelledError` after :meth:`stop`). When a
        transform or an event listener raised, that **original exception
        object** is re-raised (its type and traceback unchanged; the first one
        wins when several raised). The library's view of it, a
        :class:`datasync.CallbackError` naming the transform and the table, is
        attached as ``exc.datasync_error`` and, on Python 3.11+, as a note.
        """
        native = self._live()
        if self._thread is not None:
            raise StateError("run() was already called; a pipeline runs once: create a new one to run again")
        outcome = _RunOutcome()
        # Completion is signalled by an Event, never by Thread.join/is_alive:
        # in CPython 3.11 a join interrupted by Ctrl-C can mark a thread that
        # is still running as stopped (the bpo-45274 handling in
        # Thread._wait_for_tstate_lock), and returning while the native run
        # goes on lets the interpreter finalize under it: the thread then
        # dies inside C++ while retaking the GIL (std::terminate, SIGABRT).
        done = threading.Event()

        def target() -> None:
            try:
                native.run(bool(fresh))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                outcome.error = exc
            finally:
                done.set()

        thread = threading.Thread(target=target, name=f"datasync-run[{self._name}]", daemon=True)
        self._thread = thread
        self._done = done
        thread.start()
        try:
            self._wait(done, native, progress, progress_interval)
        except BaseException:
            native.stop()
            _wait_uninterrupted(done)  # the checkpoint now holds exactly what is durable
            self._final_metrics = self._snapshot(native)
            raise
        self._final_metrics = self._snapshot(native)

        callback_exc = native.take_callback_exception()
        error = outcome.error
        if callback_exc is not None:
            if isinstance(error, Error):
                try:
                    setattr(callback_exc, "datasync_error", error)  # noqa: B010
                except (AttributeError, TypeError):
                    pass
                if hasattr(callback_exc, "add_note"):
                    callback_exc.add_note(f"datasync: {error.status_name}: {error}")
            raise callback_exc
        if error is not None:
            raise error
        return dict(self._final_metrics or {})

    @staticmethod
    def _wait(
        done: threading.Event,
        native: _datasync.Pipeline,
        progress: Optional[Callable[[Dict[str, Any]], None]],
        interval: float,
    ) -> None:
        next_tick = time.monotonic() + interval
        while not done.wait(0.1):
            if progress is not None and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + interval
                progress(native.metrics())

    @staticmethod
    def _snapshot(native: _datasync.Pipeline) -> Optional[Dict[str, Any]]:
        try:
            return native.metrics()
        except Error:
            return None

    def changes(self, fresh: bool = False) -> ChangeStream:
        """Runs the pipeline for host code: a :class:`datasync.ChangeStream` of its batches.

        The pipeline's sink must be the host (``sink: {type: host}``, with an
        optional ``checkpoint_path``); ``pipeline.mode`` may be ``cdc``,
        ``snapshot+cdc`` (the snapshot's rows first, as inserts) or
        ``snapshot``. Batches wait in a bounded queue until taken (a host that
        does not take them holds the source back). Commit a batch's position
        with :meth:`ChangeStream.commit`; a new pipeline of the same
        definition resumes right after the last committed position (nothing
        committed comes again, everything else does) unless ``fresh=True``.

        Like :meth:`run`, once per pipeline. Raises
        :class:`datasync.ConfigError` when the sink is not the host.
        """
        native = self._live()
        if self._thread is not None or self._changes is not None:
            raise StateError("the pipeline has run already; a pipeline runs once: create a new one")
        self._changes = ChangeStream(native.open_changes(bool(fresh)), self)
        return self._changes

    def stop(self) -> None:
        """Asks a running pipeline to stop; returns at once. Any thread, any time.

        :meth:`run` then raises :class:`datasync.CancelledError`. Stopping a
        closed pipeline does nothing.
        """
        native = self._native
        if native is not None:
            native.stop()

    def schema(self, apply: bool = False, allow_destructive: bool = False) -> Dict[str, Any]:
        """Schema migration without copying data.

        For every table the source selects (after routes, transforms and the
        ``schema`` section) returns the sink's plan: the DDL that creates the
        table, or an existing table's ``differences`` and the ``statements``
        that bring it closer (``destructive`` ones apart), each column's type
        mapping with its ``fidelity`` (exact, widened, lossy, override) and
        ``notes`` on rewrites. With ``apply=True`` the plans are run (the
        destructive statements too only with ``allow_destructive=True``).
        Before :meth:`run` only; the pipeline can still run afterwards.

        Returns ``{"pipeline", "source", "sink", "applied", "tables": [...]}``
        as ``ds_pipeline_schema`` documents it.
        """
        native = self._live()
        if self._thread is not None:
            raise StateError("schema() is only available before run()")
        return json.loads(native.schema(bool(apply), bool(allow_destructive)))

    def cleanup(self) -> List[str]:
        """Drops what change capture keeps in the source for this pipeline.

        The PostgreSQL replication slot and publication (which otherwise keep
        WAL on the server) and the pipeline's checkpoint, so the next run
        starts afresh. Returns what was dropped. Not while running.
        """
        native = self._live()
        if self._thread is not None:
            raise StateError("cleanup() is not available while the pipeline runs")
        return [line for line in native.cleanup().splitlines() if line]

    def metrics(self) -> Dict[str, Any]:
        """A snapshot of the counters. Any thread, any time; after :meth:`close`,
        the last snapshot taken when :meth:`run` ended.

        Keys: rows_read, rows_written, bytes_read, bytes_written, batches,
        errors, retries, elapsed_us, lag_ms (-1 when unknown), tables_total,
        tables_done, rows_estimated (0 when unknown), values_adjusted (values
        written as NULL or clamped under pipeline.invalid_values),
        source_retained_bytes (change capture: WAL the slot holds, -1 when
        unknown), and tables, keyed by
        *source* table name (before routing):
        ``{"main.orders": {rows_read, rows_written, bytes_read, bytes_written}}``.
        """
        native = self._native
        if native is None:
            if self._final_metrics is not None:
                return dict(self._final_metrics)
            raise StateError("the pipeline is closed")
        return native.metrics()

    # --------------------------------------------------------------- close
    def close(self) -> None:
        """Stops a run in progress, waits for it, and frees the pipeline. Idempotent."""
        native = self._native
        if native is None:
            return
        if self._changes is not None:
            self._changes.close()
        if self.running:
            if _datasync.in_callback():
                raise StateError("close() cannot be called from inside a datasync callback")
            native.stop()
            _wait_uninterrupted(self._done)
        if self._final_metrics is None and self._thread is not None:
            self._final_metrics = self._snapshot(native)
        native.close()
        self._native = None
        _live_pipelines.discard(self)

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _wait_uninterrupted(done: threading.Event) -> None:
    """Waits for the native run to end; a further Ctrl-C does not abandon it."""
    while True:
        try:
            if done.wait(0.1):
                return
        except KeyboardInterrupt:
            pass


def _dict_to_text(config: Mapping[str, Any]) -> str:
    if not isinstance(config, Mapping):
        raise TypeError(f"expected a mapping, got {type(config).__name__}")

    def default(value: Any) -> Any:
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise TypeError(f"value of type {type(value).__name__} cannot be written to a pipeline definition")

    return json.dumps(config, default=default, ensure_ascii=False)


def _make_transform_call(fn: Callable[[Any], Any], name: str, use_arrow: bool) -> Callable[[Any], Any]:
    pa = _import_pyarrow() if use_arrow else None

    if pa is not None:

        def call(native_batch: Any) -> Any:
            out = fn(pa.record_batch(native_batch))
            return _normalize_output(out, name, pa)

    else:

        def call(native_batch: Any) -> Any:
            out = fn(Batch(native_batch))
            return _normalize_output(out, name, _import_pyarrow())

    call.__qualname__ = f"transform[{name}]"
    return call


def _normalize_output(out: Any, name: str, pa: Any) -> Any:
    if out is None:
        return None
    if isinstance(out, Batch):
        return out._native
    if pa is not None and isinstance(out, pa.Table):
        batches = out.combine_chunks().to_batches()
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return pa.RecordBatch.from_pylist([], schema=out.schema)
        return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
    if hasattr(type(out), "__arrow_c_array__"):
        return out
    raise TypeError(
        f"transform {name} returned {type(out).__name__}; expected None (pass the batch on), "
        "a pyarrow.RecordBatch or Table, a datasync.Batch, or an object with __arrow_c_array__"
    )
