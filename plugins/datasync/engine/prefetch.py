"""Read the next batch while the current one is being written.

A sync alternates between the source (read and convert a batch) and the
target (bulk copy it, then wait for the server to finish the statement).
``prefetched`` runs the source side in one worker thread, at most ``depth``
batches ahead, so the two overlap: the reading, Arrow conversions and the
drivers' fetches release the GIL, and the target server works in its own
process. Memory grows by at most ``depth`` batches.

The stream owns its thread: closing it (the sync closes it when it ends, also
after an exception such as SyncCancelled from a signal handler) stops the worker, and the worker
closes the source stream in its own thread before the caller closes the
reader; a worker stuck in a slow read is waited for a few seconds only, so a
cancellation is never held up by the source. Errors of the source side are raised in the consumer, unchanged.
The worker runs in a copy of the caller's context variables (log scope, current span).
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

from datasync.core.roomy_stack import call_with_room

T = TypeVar("T")

_DONE = object()
_POLL_S = 0.05
_JOIN_S = 5.0


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetched(items: Iterator[T], depth: int = 1, name: str = "datasync-fetch") -> Iterator[T]:
    """What ``items`` yields, produced by a worker thread up to ``depth`` items ahead.

    The worker starts now, not at the first ``next``: the source's query runs while the
    caller still prepares the target (its table, the staging table).
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            offer(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - the consumer's outcome matters, not the cleanup's
                    pass

    # the worker runs in a copy of the caller's context (the sync's log scope and span go with it),
    # on a roomy frame stack as the command's main thread (core.roomy_stack)
    run_in_context = contextvars.copy_context().run
    worker = threading.Thread(target=call_with_room, args=(run_in_context, work), name=name, daemon=True)
    worker.start()
    return _Prefetched(slots, stop, worker)


class _Prefetched(Iterator[T]):
    """The consumer's side; ``close`` (or losing the last reference) stops the worker, iterated or not."""

    def __init__(self, slots: queue.Queue[object], stop: threading.Event, worker: threading.Thread):
        self._slots, self._stop, self._worker = slots, stop, worker
        self._closed = False

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        item = self._slots.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failed):
            self.close()
            raise item.exc
        return item  # type: ignore[return-value]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        # A worker blocked in a slow source read must not hold up a cancellation: wait a
        # little, then leave the (daemon) thread; closing the reader ends its read.
        self._worker.join(timeout=_JOIN_S)

    def __del__(self) -> None:
        self.close()
