"""One sync operation (table, type, MinimumDT), written once for every target dialect.

1. Take the per-table lock; close this table's orphaned ledger rows.
2. Insert the DataUpdate row (NumberRecords = -2), committed at once.
3. Stream the fetcher's Arrow batches into a session temp staging table.
4. In one transaction: de-duplicate (latest LastUpdateDT wins), upsert only
   newer rows, delete what the source no longer has (when delete detection
   is due: datasync.engine.deletes) and mark the ledger row successful. Mass
   with PrepurgeData instead empties and reloads the table inside one transaction.
Any failure or cancellation rolls the data back and marks the row -1 with the
error: readers only ever see the old or the new contents.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datasync.engine import deletes, telemetry
from datasync.engine.columnmap import renamed, target_schema
from datasync.config import DataSourceConfig, DataSyncConfig
from datasync.core.errors import SyncCancelled
from datasync.core import scalars
from datasync.core.faults import checkpoint
from datasync.core.signatures import accepts
from datasync.fetchers.base import Fetcher, SourceReader
from datasync.fetchers.registry import fetcher_class
from datasync.engine.ledger import Ledger
from datasync.core.times import as_utc, to_source_time, utcnow
from datasync.core.types import SyncType
from datasync.engine.prefetch import prefetched
from datasync.engine.schedule import minimum_dt as scheduled_minimum_dt
from datasync.core.schema import TableSchema
from datasync.targets.base import MergeCounts, Target
from datasync.engine.validation import check_batch
from datasync.targets.errors import duplicate_key_error

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


def new_operation_id() -> str:
    """Unique per run and try; short enough for temp-table names on every dialect."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class SyncRequest:
    table: str
    sync_type: str  # Mass | Daily | Hourly
    full_refresh: bool = False
    minimum_dt: datetime | None = None  # explicit override (aware or UTC-naive)
    #: a backfill's interval end (exclusive): an incremental sync reads only rows changed before it
    maximum_dt: datetime | None = None
    run_id: str | None = None
    operation_id: str = field(default_factory=new_operation_id)
    #: a manual run's override of the delete-detection guard (MaxDeletePercent), for this run only
    allow_mass_delete: bool = False


@dataclass(frozen=True)
class SyncResult:
    table: str
    sync_type: str
    operation_id: str
    data_update_id: int
    rows: int
    inserted: int
    updated: int
    minimum_dt: datetime | None
    seconds: float
    #: W3C trace context of the SyncTable span (empty when not traced): a follow-up task's parent
    trace_context: dict[str, str] = field(default_factory=dict)
    #: rows delete detection removed; None when this run did not detect deletes
    deleted: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncResult:
        """Back from ``as_dict`` (the sync task's XCom, read by the post-processor task)."""
        minimum = data.get("minimum_dt")
        return cls(
            data["table"], data["sync_type"], data["operation_id"], int(data["data_update_id"]), int(data["rows"]),
            int(data["inserted"]), int(data["updated"]), datetime.fromisoformat(minimum) if minimum else None,
            float(data.get("seconds") or 0), dict(data.get("trace_context") or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "sync_type": self.sync_type,
            "operation_id": self.operation_id,
            "data_update_id": self.data_update_id,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "deleted": self.deleted,
            "minimum_dt": self.minimum_dt.isoformat() if self.minimum_dt else None,
            "seconds": round(self.seconds, 3),
            **({"trace_context": self.trace_context} if self.trace_context else {}),
        }


def build_fetcher(
    config: DataSyncConfig, table: DataSourceConfig, reader: SourceReader | None = None
) -> Fetcher:
    cls = fetcher_class(table.fetcher_type_name)
    return cls(table, config.source_system(table.source_system), reader, config.batch_size)


def resolve_minimum_dt(
    config: DataSyncConfig, table: DataSourceConfig, request: SyncRequest, last_success: dict[str, datetime]
) -> datetime | None:
    """UTC MinimumDT: None for Mass or full refresh, the override if given, else the schedule's."""
    if request.full_refresh or request.sync_type == SyncType.MASS:
        return None
    if request.minimum_dt is not None:
        return as_utc(request.minimum_dt)
    return scheduled_minimum_dt(config, table, request.sync_type, last_success)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, (SyncCancelled, KeyboardInterrupt)):
        return f"cancelled: {exc or 'interrupted'}"
    return f"{type(exc).__name__}: {exc}"


def _counted(batches: Iterable[pa.RecordBatch], schema: TableSchema, progress: ProgressCallback | None) -> Iterator[pa.RecordBatch]:
    """Validate each batch and report the running row count."""
    total = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        check_batch(schema, batch)
        total += batch.num_rows
        if progress:
            progress(total)
        checkpoint("fetch")
        yield batch


def _bulk_load(target: Target, table: str, schema: TableSchema, batches: Iterable[pa.RecordBatch], temp: bool) -> int:
    rows = 0
    for batch in batches:
        try:
            target.bulk_load(table, schema, batch, temp=temp)
        except Exception as exc:
            if not temp and target.is_duplicate_key(exc):
                raise duplicate_key_error(schema, batch, exc) from exc
            raise
        rows += batch.num_rows
        checkpoint("load")
    return rows


@dataclass(frozen=True)
class DeleteStep:
    """Delete detection in this run: the key scan to run after the fetch, and the guard."""

    keys: Callable[[], Iterable[pa.RecordBatch]]  # the source's keys, named like the target's key
    max_percent: float
    allow_mass_delete: bool


def _merge_sync(
    target: Target,
    ledger: Ledger,
    schema: TableSchema,
    batches: Iterable[pa.RecordBatch],
    operation_id: str,
    row_id: int,
    op: telemetry.Operation,
    delete_step: DeleteStep | None = None,
) -> tuple[int, MergeCounts]:
    staging, dedup = target.staging_names(schema.name, operation_id)
    keys = target.key_staging_name(schema.name, operation_id) if delete_step else None
    temps = [staging, dedup] + ([keys] if keys else [])
    target.drop_staging(temps)
    target.create_staging(schema, staging)
    try:
        with op.phase("load") as span:
            rows = _bulk_load(target, staging, schema, batches, temp=True)
            _set(span, rows=rows)
        source_keys = 0
        if delete_step and keys:  # after the fetch: a key deleted meanwhile is gone from both
            with op.phase("key_scan") as span:
                source_keys = deletes.load_keys(target, schema, keys, delete_step.keys())
                _set(span, source_keys=source_keys)
        with op.phase("merge") as span, target.transaction():
            counts = target.merge(schema, staging, dedup)
            checkpoint("merge")
            if delete_step and keys:
                deleted = deletes.delete_missing(
                    target, schema, keys, source_keys, delete_step.max_percent, delete_step.allow_mass_delete
                )
                counts = MergeCounts(counts.inserted, counts.updated, deleted)
            ledger.finish(row_id, rows, counts.inserted, counts.updated, counts.deleted)
            checkpoint("finish")
            _set(span, inserted=counts.inserted, updated=counts.updated)
    finally:
        try:
            target.drop_staging(temps)
        except Exception:  # noqa: BLE001 - temp tables die with the session anyway
            log.debug("could not drop staging tables", exc_info=True)
    return rows, counts


def _mass_prepurge(
    target: Target,
    ledger: Ledger,
    schema: TableSchema,
    batches: Iterable[pa.RecordBatch],
    reindex: bool,
    row_id: int,
    op: telemetry.Operation,
) -> tuple[int, MergeCounts]:
    """Empty and reload the table in one transaction: readers wait or see the old contents.

    A target that bulk-loads outside its transaction (SQLite) loads the batches first and
    copies them in; the others stream them into the emptied table.
    """
    with target.preloaded(schema, batches) as preloaded, target.transaction():
        with op.phase("load", prepurge=True) as span:
            target.begin_mass(schema)
            if preloaded is None:
                rows = _bulk_load(target, schema.name, schema, batches, temp=False)
            else:
                target.load_preloaded(schema)
                rows = preloaded
            _set(span, rows=rows)
        with op.phase("merge", prepurge=True, reindex=reindex):
            target.end_mass(schema, reindex)
            counts = MergeCounts(inserted=rows, updated=0)
            checkpoint("merge")
            ledger.finish(row_id, rows, counts.inserted, counts.updated)
            checkpoint("finish")
    return rows, counts


def _set(span: Any, **attributes: Any) -> None:
    if span is not None:
        span.set_attributes({f"sync.{k}": v for k, v in attributes.items()})


def run_sync(
    config: DataSyncConfig,
    request: SyncRequest,
    target: Target,
    open_reader: Callable[[], SourceReader],
    progress: ProgressCallback | None = None,
    on_started: Callable[[int], None] | None = None,
) -> SyncResult:
    """Run one sync operation; the ledger records its outcome whatever happens."""
    table_cfg = config.table(request.table)
    table = table_cfg.table_name
    fetcher_cls = fetcher_class(table_cfg.fetcher_type_name)
    source_cfg = config.source_system(table_cfg.source_system)
    ledger = Ledger(target)
    ledger.ensure(config.ledger_zone)
    started = time.monotonic()
    with telemetry.operation(table, request.sync_type, request.operation_id) as op:
        try:
            with ExitStack() as held:
                with op.phase("lock_wait"):
                    held.enter_context(target.table_lock(table, config.lock_timeout_seconds))
                closed = ledger.close_orphans(table)
                if closed:
                    log.warning("%s: closed %d interrupted sync(s) left by a killed run", table, closed)
                min_dt = resolve_minimum_dt(config, table_cfg, request, ledger.last_success(table))
                row_id = ledger.start(table, request.sync_type, request.operation_id, request.run_id, min_dt)
                if on_started:
                    on_started(row_id)
                log.info(
                    "%s %s sync %s started (MinimumDT %s)",
                    table, request.sync_type, request.operation_id, min_dt.isoformat() if min_dt else "none: full fetch",
                )
                try:
                    rows, counts = _transfer(config, request, table_cfg, fetcher_cls, source_cfg, target, ledger,
                                             open_reader, progress, min_dt, row_id, op)
                except BaseException as exc:
                    _record_failure(ledger, row_id, exc)
                    raise
        except BaseException as exc:
            log.error("Sync failed: %s", describe_error(exc))
            raise
        seconds = time.monotonic() - started
        op.succeeded(rows, **{"sync.rows_inserted": counts.inserted, "sync.rows_updated": counts.updated})
        log.info(
            "%s %s sync %s done: %d rows, %d inserted, %d updated%s in %.1f s",
            table, request.sync_type, request.operation_id, rows, counts.inserted, counts.updated,
            "" if counts.deleted is None else f", {counts.deleted} deleted", seconds,
        )
        return SyncResult(
            table, request.sync_type, request.operation_id, row_id, rows, counts.inserted, counts.updated, min_dt,
            seconds, op.traceparent(), counts.deleted,
        )


def _transfer(
    config: DataSyncConfig,
    request: SyncRequest,
    table_cfg: DataSourceConfig,
    fetcher_cls: type[Fetcher],
    source_cfg: Any,
    target: Target,
    ledger: Ledger,
    open_reader: Callable[[], SourceReader],
    progress: ProgressCallback | None,
    min_dt: datetime | None,
    row_id: int,
    op: telemetry.Operation,
) -> tuple[int, MergeCounts]:
    """Fetch, load and merge (or purge and reload) under the table's lock; the ledger row is open."""
    reader = open_reader()
    fetched: Iterator[pa.RecordBatch] | None = None
    batches: Iterator[pa.RecordBatch] | None = None
    try:
        fetcher = fetcher_cls(table_cfg, source_cfg, reader, config.batch_size)
        source_schema = fetcher.schema()
        schema = target_schema(source_schema, table_cfg)  # the table's own column names
        # read and convert the next batch while the target loads this one; the first while it
        # checks the table and creates the staging table
        fetched = prefetched(_traced_fetch(op, _fetch(fetcher, request, min_dt, source_cfg.zone)))
        target.ensure_table(schema)
        batches = renamed(_counted(fetched, source_schema, progress), schema)
        mass = table_cfg.mass_config
        if request.sync_type == SyncType.MASS and mass.prepurge_data:
            return _mass_prepurge(target, ledger, schema, batches, mass.re_index_data, row_id, op)
        step = _delete_step(request, table_cfg, fetcher, schema, ledger)
        return _merge_sync(target, ledger, schema, batches, request.operation_id, row_id, op, step)
    finally:
        _close_stream(batches, fetched)
        reader.close()


def _fetch(fetcher: Fetcher, request: SyncRequest, min_dt: datetime | None, zone: Any) -> Iterator[pa.RecordBatch]:
    """The fetch in source time; a backfill's interval end bounds it only when incremental (never a Mass).

    A fetcher written before backfill bounds (``fetch(self, minimum_dt)``) reads from MinimumDT
    as before, and its batches are cut at the end here: the same rows, without the pushdown.
    """
    if min_dt is None or request.maximum_dt is None:
        return fetcher.fetch(to_source_time(min_dt, zone))
    end = to_source_time(as_utc(request.maximum_dt), zone)
    if not accepts(fetcher.fetch, "maximum_dt"):
        return _before(fetcher.fetch(to_source_time(min_dt, zone)), fetcher.schema().last_update_column, end)
    return fetcher.fetch(to_source_time(min_dt, zone), maximum_dt=end)


def _before(batches: Iterable[pa.RecordBatch], column: str, end: datetime) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` whose ``column`` is before ``end`` (naive, as the fetcher's times are)."""
    bound = scalars.timestamp_us(end)
    for batch in batches:
        kept = batch.filter(pc.less(batch.column(column), bound))
        if kept.num_rows:
            yield kept


def _delete_step(
    request: SyncRequest, table_cfg: DataSourceConfig, fetcher: Fetcher, schema: TableSchema, ledger: Ledger
) -> DeleteStep | None:
    """The delete detection of this run, if due (a Mass with PrepurgeData reloads the table instead)."""
    dd = table_cfg.delete_detection
    if not dd.enabled:
        return None
    if not deletes.is_due(table_cfg, request.sync_type, ledger.last_delete_detection(table_cfg.table_name), utcnow()):
        return None
    key_names = list(schema.primary_key)  # the target's names (a Columns map may rename keys)

    def keys() -> Iterator[pa.RecordBatch]:
        for batch in fetcher.fetch_keys():
            yield batch.rename_columns(key_names) if batch.schema.names != key_names else batch

    return DeleteStep(keys, dd.max_delete_percent, request.allow_mass_delete)


def _traced_fetch(op: telemetry.Operation, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The source stream inside a ``fetch`` span (read in the prefetch thread, beside ``load``)."""
    span = op.fetch_span()
    rows = 0
    error: BaseException | None = None
    try:
        for batch in batches:
            rows += batch.num_rows
            yield batch
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        telemetry.end_span(span, error, **{"sync.records": rows})


def _close_stream(*generators: Iterator[pa.RecordBatch] | None) -> None:
    """Finish a stream stopped midway while its reader is still open (not later, in the GC)."""
    for gen in generators:
        close = getattr(gen, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # noqa: BLE001 - the sync's own outcome matters, not the cleanup's
                log.debug("could not close the fetch stream", exc_info=True)


def _record_failure(ledger: Ledger, row_id: int, exc: BaseException) -> None:
    """Mark the ledger row failed; if the target itself is gone, the next run closes it."""
    try:
        ledger.fail(row_id, describe_error(exc))
    except Exception:  # noqa: BLE001 - never mask the original error
        log.warning("could not record the failure in DataUpdate; the next run of the table will close it", exc_info=True)
