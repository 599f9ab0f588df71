"""Metrics and spans of sync operations: the seed's contract, through the OpenTelemetry API.

An OpenTelemetry meter ``DataSync`` with counters sync.operations.started /
completed / failed and histograms sync.duration.seconds (s) and
sync.records.processed, tagged ``table`` and ``type``; a ``SyncTable`` span per
operation. Without a configured SDK the API's no-op providers make all of this
free; exporting is set up by the process that runs syncs (see docs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

METER_NAME = "DataSync"


@lru_cache(maxsize=1)
def _instruments() -> dict[str, Any]:
    from opentelemetry import metrics

    meter = metrics.get_meter(METER_NAME)
    return {
        "started": meter.create_counter("sync.operations.started", description="Sync operations started"),
        "completed": meter.create_counter("sync.operations.completed", description="Sync operations that succeeded"),
        "failed": meter.create_counter("sync.operations.failed", description="Sync operations that failed"),
        "duration": meter.create_histogram("sync.duration.seconds", unit="s", description="Sync duration"),
        "records": meter.create_histogram("sync.records.processed", description="Rows fetched per sync"),
    }


def _tags(table: str, sync_type: str) -> dict[str, str]:
    return {"table": table, "type": str(sync_type)}


def started(table: str, sync_type: str) -> None:
    _instruments()["started"].add(1, _tags(table, sync_type))


def completed(table: str, sync_type: str, seconds: float, records: int) -> None:
    tags = _tags(table, sync_type)
    i = _instruments()
    i["completed"].add(1, tags)
    i["duration"].record(seconds, tags)
    i["records"].record(records, tags)


def failed(table: str, sync_type: str, seconds: float) -> None:
    tags = _tags(table, sync_type)
    i = _instruments()
    i["failed"].add(1, tags)
    i["duration"].record(seconds, tags)


@contextmanager
def sync_span(table: str, sync_type: str, operation_id: str) -> Iterator[None]:
    """A ``SyncTable`` span with the seed's attributes (a no-op span without a tracer provider)."""
    from opentelemetry import trace

    tracer = trace.get_tracer(METER_NAME)
    attributes = {"table.name": table, "update.type": str(sync_type), "operation.id": operation_id}
    with tracer.start_as_current_span("SyncTable", attributes=attributes):
        yield
