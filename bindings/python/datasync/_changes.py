"""datasync.ChangeStream: pull a pipeline's change batches into host code.

The pipeline's sink is the host (``sink: {type: host}``); see
:meth:`datasync.Pipeline.changes` for the whole contract.
"""

from __future__ import annotations

from typing import Any, Iterator, Optional, Union

from ._batch import Batch
from ._errors import StateError

__all__ = ["ChangeStream"]

# How long one native wait lasts when the caller waits without a limit, so
# Ctrl-C (handled between native calls) is seen promptly.
_STEP_MS = 200


class ChangeStream:
    """Batches of a running pipeline, pulled one at a time, with commits.

    Iterate it (``for batch in stream``) or call :meth:`next`; each item is a
    :class:`datasync.Batch` the caller owns (valid after the stream closes).
    ``batch.kind`` is ``"rows"`` (``batch.ops()`` per row, snapshot rows are
    ``"+I"``) or ``"schema_change"`` (no rows; ``batch.schema`` is the table's
    columns from now on, ``batch.schema_change`` says what changed, e.g.
    ``"add_column tier"`` or ``"truncate_table"``). ``batch.position`` is what
    to :meth:`commit`: ``""`` inside a source transaction (only its last batch
    carries one). A ``"rows"`` batch with no rows and table ``""`` is a commit
    point alone.

    Use from one thread at a time; ``pipeline.stop()`` from any thread ends a
    waiting :meth:`next` (after the batches already queued) with
    :class:`datasync.CancelledError`.
    """

    def __init__(self, native: Any, pipeline: Any) -> None:
        self._native: Optional[Any] = native
        self._pipeline = pipeline  # keeps the pipeline object alive while the stream is

    def _live(self) -> Any:
        native = self._native
        if native is None:
            raise StateError("the change stream is closed")
        return native

    @property
    def finished(self) -> bool:
        """True once the stream ended (a snapshot-only pipeline copied everything, it failed, or it was closed)."""
        native = self._native
        return native is None or native.finished

    def next(self, timeout: Optional[float] = None) -> Optional[Batch]:
        """The next batch; None when ``timeout`` seconds passed first (None: no limit) or the stream finished.

        The pipeline's failure (after its retries) is raised as the mapped
        :class:`datasync.Error`, after the batches that came before it, and
        again at every later call.
        """
        native = self._live()
        if timeout is not None:
            got = native.next(max(0, int(timeout * 1000)))
            return None if got is None else Batch(got)
        while True:
            got = native.next(_STEP_MS)
            if got is not None:
                return Batch(got)
            if native.finished:
                return None

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        batch = self.next()
        if batch is None:
            raise StopIteration
        return batch

    def commit(self, position: Union[str, Batch]) -> None:
        """Records that everything delivered up to the batch that carried ``position`` is done.

        ``position`` is a batch's :attr:`~datasync.Batch.position` (or the batch
        itself). The positions go durably into the checkpoint and only then to
        the source (a PostgreSQL slot then frees WAL). A later position
        covers every earlier one; committing the same one twice does nothing.
        Raises :class:`datasync.InvalidArgumentError` for ``""`` (a batch
        inside a transaction) or a position this stream has not delivered.
        Also works after :meth:`close`.
        """
        if isinstance(position, Batch):
            position = position.position
        self._live().commit(str(position))

    def close(self) -> None:
        """Stops the pipeline and waits for it; batches not yet taken come again after a reopen. Idempotent."""
        native = self._native
        if native is not None:
            native.close()

    def __enter__(self) -> "ChangeStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<datasync.ChangeStream {'finished' if self.finished else 'open'}>"
