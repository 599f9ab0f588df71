"""Operations the CLI and the Airflow operators share: one place that opens
connections from the config and calls the engine.

Connections come from a ``Connector`` (datasync.connections): the CLI's reads
AIRFLOW_CONN_* itself, the Airflow layer's opens them through the providers'
hooks. Without one, AIRFLOW_CONN_* variables are the only source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from datetime import datetime

from datasync.engine import telemetry
from datasync.config import DataSyncConfig
from datasync.connections import Connector, DirectConnector
from datasync.core.errors import TableLockTimeout
from datasync.core.times import utcnow
from datasync.engine.columnmap import renamed, target_schema
from datasync.engine.ledger import Ledger
from datasync.engine.postprocessors import post_processor
from datasync.engine.schedule import GateDecision, TableFacts, decide, priority_gate
from datasync.engine.sync import ProgressCallback, SyncRequest, SyncResult, build_fetcher, run_sync
from datasync.targets.base import Target

if TYPE_CHECKING:
    from datasync.engine import dispatch
    from datasync.engine import health as health_mod
    from datasync.engine.verify import VerifyReport
    from datasync.fetchers.base import SourceReader
    from datasync.targets.catalog import Difference

log = logging.getLogger(__name__)


@contextmanager
def target_session(
    config: DataSyncConfig, target: Target | None = None, connector: Connector | None = None
) -> Iterator[Target]:
    """The given target, or a new connection to the config's target that is closed afterwards."""
    if target is not None:
        yield target
        return
    opened = (connector or DirectConnector()).target(config.target_conn_id, config.bulk_copy_batch_size)
    try:
        yield opened
    finally:
        opened.close()


def source_opener(config: DataSyncConfig, table: str, connector: Connector | None = None) -> Callable[[], SourceReader]:
    """A zero-argument callable opening the source connection of ``table``'s source system."""
    conn_id = config.source_system(config.table(table).source_system).conn_id
    connector = connector or DirectConnector()
    return lambda: connector.source(conn_id)


def init_db(config: DataSyncConfig, target: Target | None = None, connector: Connector | None = None) -> list[str]:
    """Create DataUpdate and every enabled table (idempotent); return the table names."""
    with target_session(config, target, connector) as t:
        Ledger(t).ensure(config.ledger_zone)
        names = []
        for ds in config.data_sources:
            schema = target_schema(build_fetcher(config, ds).schema(), ds)
            t.ensure_table(schema)
            names.append(schema.name)
        return names


def check_db(config: DataSyncConfig, target: Target | None = None, connector: Connector | None = None) -> list[Difference]:
    """Every difference between the configured tables (and DataUpdate) and the target's; changes nothing."""
    with target_session(config, target, connector) as t:
        from datasync.engine.dbcheck import check_target

        return check_target(config, t)


def sync_table(
    config: DataSyncConfig,
    request: SyncRequest,
    target: Target | None = None,
    progress: ProgressCallback | None = None,
    on_started: Callable[[int], None] | None = None,
    connector: Connector | None = None,
    post_process: bool = True,
) -> SyncResult:
    """One sync, then the table's post-processor (``post_process``; the Airflow DAGs run it as its own task)."""
    telemetry.configure()  # once per process: OTLP / StatsD as the environment says (no-op when off)
    with target_session(config, target, connector) as t:
        result = run_sync(config, request, t, source_opener(config, request.table, connector), progress, on_started)
        if post_process:
            run_post_processor(config, result, t)
        return result


def run_post_processor(
    config: DataSyncConfig, result: SyncResult, target: Target | None = None, connector: Connector | None = None
) -> bool:
    """The table's PostProcessorTypeName after a committed sync; False when it has none."""
    table = config.table(result.table)
    name = table.post_processor_type_name
    if not name:
        return False
    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        try:
            with telemetry.post_process(result.table, result.sync_type, result.operation_id, result.trace_context, name):
                log.info("%s: running post-processor %s", table.table_name, name)
                post_processor(name).run(t, table, result)
        except Exception as exc:
            # recorded on the sync's ledger row, where health reads it; the error goes on up
            ledger.post_process_failed(table.table_name, result.data_update_id, f"{name}: {exc}")
            raise
        ledger.post_process_succeeded(result.data_update_id)
    return True



def verify_table(
    config: DataSyncConfig, table: str, sample: int = 10, target: Target | None = None, connector: Connector | None = None
) -> VerifyReport:
    """Compare ``table``'s cache with its source (counts, key set, converted values); changes nothing.

    No lock is taken: the cache is read in one statement, and a sync running meanwhile
    shows up as differences that the next verify no longer reports.
    """
    from datasync.engine.verify import BATCH_ROWS as VERIFY_BATCH_ROWS
    from datasync.engine.verify import verify

    ds = config.table(table)
    with target_session(config, target, connector) as t:
        reader = source_opener(config, table, connector)()
        try:
            fetcher = build_fetcher(config, ds, reader)
            fetcher.batch_size = min(fetcher.batch_size, VERIFY_BATCH_ROWS)  # a window, not the sync's big batches
            schema = target_schema(fetcher.schema(), ds)
            return verify(schema, lambda: renamed(fetcher.fetch(None), schema), t, sample)
        finally:
            reader.close()


def gate(
    config: DataSyncConfig,
    table: str,
    sync_type: str,
    target: Target | None = None,
    connector: Connector | None = None,
    dispatched: bool = False,
) -> GateDecision:
    """May this run of ``table``'s ``sync_type`` start now?

    A run the dispatcher started passes while the schedule still picks this type
    for the table (else it is skipped: the table is busy, or it became current
    meanwhile); other unparameterised runs pass the priority gate (Mass always).
    """
    ds = config.table(table)
    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        facts = ledger.schedule_facts().get(ds.table_name.lower(), TableFacts())
        if not dispatched:
            return priority_gate(config, ds, sync_type, facts, utcnow())
        decision = decide(config, ds, facts, utcnow())
        if decision.sync_type == sync_type:
            return GateDecision(True, decision.reason)
        return GateDecision(False, f"{decision.reason}; this {sync_type} run skipped")


def dispatch_decisions(
    config: DataSyncConfig, target: Target | None = None, connector: Connector | None = None, now: datetime | None = None
) -> list[dispatch.Decision]:
    """One dispatch cycle's decisions (every enabled table) from one read of the ledger."""
    from datasync.engine import dispatch

    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        return dispatch.decisions(config, ledger, now or utcnow())


def recover(config: DataSyncConfig, target: Target | None = None, connector: Connector | None = None) -> dict[str, int]:
    """Close in-progress ledger rows of tables whose lock is free (their sync is dead)."""
    closed: dict[str, int] = {}
    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        for table in ledger.in_progress_tables():
            try:
                with t.try_table_lock(table):
                    closed[table] = ledger.close_orphans(table, by="recovery")
            except TableLockTimeout:
                log.info("%s: a sync is running; its ledger row is left alone", table)
    return closed


def last_success(
    config: DataSyncConfig, table: str, target: Target | None = None, connector: Connector | None = None
) -> dict[str, datetime]:
    """StartDT of ``table``'s last successful sync per type (empty: never synced)."""
    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        return ledger.last_success(config.table(table).table_name)


def purge(config: DataSyncConfig, target: Target | None = None, connector: Connector | None = None) -> int:
    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        return ledger.purge(config.purge_retention_days)


def health(
    config: DataSyncConfig, target: Target | None = None, now: datetime | None = None, connector: Connector | None = None
) -> health_mod.HealthReport:
    from datasync.engine import health as health_mod

    with target_session(config, target, connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        return health_mod.evaluate(config, ledger, now or utcnow())


@dataclass(frozen=True)
class DueOutcome:
    table: str
    sync_type: str
    result: SyncResult | None
    error: str | None
    skipped: str | None = None  # why it did not run (the table was busy)


def run_due(
    config: DataSyncConfig, run_id: str | None = None, now: datetime | None = None, connector: Connector | None = None
) -> list[DueOutcome]:
    """One cycle of the seed's loop: for each table its highest due type (datasync.engine.dispatch),
    highest priority first, at most MaxDegreeOfParallelism at once.

    Each sync opens its own target connection: parallel syncs share nothing. A
    table found busy (its lock held by a sync that started meanwhile) is skipped,
    not failed.
    """
    from datasync.engine import dispatch

    with target_session(config, connector=connector) as t:
        ledger = Ledger(t)
        ledger.ensure(config.ledger_zone)
        due = dispatch.runs(config, ledger, now or utcnow())

    def one(decision: dispatch.Decision) -> DueOutcome:
        table, sync_type = decision.table, str(decision.sync_type)
        log.info("%s", decision.reason)
        try:
            result = sync_table(config, SyncRequest(table, sync_type, run_id=run_id), connector=connector)
            return DueOutcome(table, sync_type, result, None)
        except TableLockTimeout as exc:
            return DueOutcome(table, sync_type, None, None, skipped=f"{table}: busy ({exc}); {sync_type} skipped")
        except Exception as exc:  # noqa: BLE001 - one table's failure must not stop the others
            # the engine logged "Sync failed" with the error, in the sync's log scope
            return DueOutcome(table, sync_type, None, f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=config.max_degree_of_parallelism) as pool:
        return list(pool.map(one, due))
