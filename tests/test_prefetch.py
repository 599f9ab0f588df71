"""The prefetching worker: same items in order, errors raised in the consumer, no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from datasync.engine.prefetch import prefetched


def counting(n: int, produced: list[int], closed: list[str]) -> Iterator[int]:
    try:
        for i in range(n):
            produced.append(i)
            yield i
    finally:
        closed.append(threading.current_thread().name)


def test_items_arrive_in_order_and_the_source_is_closed_in_the_worker() -> None:
    produced: list[int] = []
    closed: list[str] = []
    assert list(prefetched(counting(50, produced, closed), depth=2)) == list(range(50))
    assert closed == ["datasync-fetch"]


def test_the_worker_stays_at_most_depth_items_ahead() -> None:
    produced: list[int] = []
    closed: list[str] = []
    stream = prefetched(counting(100, produced, closed), depth=2)
    assert next(stream) == 0
    for _ in range(20):  # give the worker time to run ahead as far as it may
        threading.Event().wait(0.01)
    assert len(produced) <= 1 + 2 + 1  # consumed, queued, and the one waiting to be queued
    stream.close()
    assert closed and not any(t.name == "datasync-fetch" for t in threading.enumerate())


def test_a_source_error_is_raised_in_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("source broke")

    stream = prefetched(failing())
    assert next(stream) == 1
    with pytest.raises(ValueError, match="source broke"):
        next(stream)


def test_a_consumer_error_stops_the_worker() -> None:
    produced: list[int] = []
    closed: list[str] = []
    with pytest.raises(RuntimeError):
        for item in prefetched(counting(10_000, produced, closed)):
            if item == 3:
                raise RuntimeError("target broke")
    assert closed == ["datasync-fetch"]
    assert len(produced) < 10
    assert not any(t.name == "datasync-fetch" for t in threading.enumerate())


def test_a_stuck_source_does_not_hold_up_the_consumer() -> None:
    release = threading.Event()

    def stuck() -> Iterator[int]:
        yield 1
        release.wait(60)  # a source call that does not return
        yield 2

    stream = prefetched(stuck())
    assert next(stream) == 1
    stream.close()  # e.g. SyncCancelled raised in the consumer
    # close() returned while the source call is still running: it did not wait for it
    workers = [t for t in threading.enumerate() if t.name == "datasync-fetch"]
    assert workers and all(t.is_alive() for t in workers)
    release.set()
    for t in workers:
        t.join(10)
