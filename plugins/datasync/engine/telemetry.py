"""Metrics and spans of sync operations through Airflow's observability layer.

sync.operations.started/completed/failed, sync.duration.seconds and
sync.records.processed, tagged with table and type; a ``SyncTable`` span per
operation. Outside Airflow (or with metrics off) these are no-ops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)


def _stats() -> Any:
    try:
        from airflow.sdk.observability import stats

        return stats
    except Exception:  # noqa: BLE001 - metrics must never break a sync
        return None


def _emit(kind: str, name: str, value: float, tags: dict[str, str]) -> None:
    stats = _stats()
    if stats is None:
        return
    try:
        if kind == "incr":
            stats.incr(name, count=int(value), tags=tags)
        else:
            stats.timing(name, timedelta(seconds=value), tags=tags)
    except Exception:  # noqa: BLE001
        log.debug("metric %s not sent", name, exc_info=True)


def started(table: str, sync_type: str) -> None:
    _emit("incr", "sync.operations.started", 1, {"table": table, "type": sync_type})


def completed(table: str, sync_type: str, seconds: float, records: int) -> None:
    tags = {"table": table, "type": sync_type}
    _emit("incr", "sync.operations.completed", 1, tags)
    _emit("timing", "sync.duration.seconds", seconds, tags)
    _emit("incr", "sync.records.processed", records, tags)


def failed(table: str, sync_type: str, seconds: float) -> None:
    tags = {"table": table, "type": sync_type}
    _emit("incr", "sync.operations.failed", 1, tags)
    _emit("timing", "sync.duration.seconds", seconds, tags)


@contextmanager
def sync_span(table: str, sync_type: str, operation_id: str) -> Iterator[None]:
    """A ``SyncTable`` span when OpenTelemetry tracing is configured, else nothing."""
    try:
        from opentelemetry import trace

        tracer = trace.get_tracer("datasync")
    except Exception:  # noqa: BLE001
        yield
        return
    with tracer.start_as_current_span(
        "SyncTable", attributes={"table": table, "type": sync_type, "operation_id": operation_id}
    ):
        yield
