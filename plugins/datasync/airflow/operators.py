"""Airflow operators: thin shells around datasync.engine.service.

``DataSyncOperator`` runs one sync operation of a table. It opens the target
named by the config's TargetConnId through the dialect class chosen by the
connection's type (each dialect gets its DB-API connection from its provider
hook: MsSqlHook, PostgresHook, SqliteHook), runs ``service.sync_table`` with the
Airflow run id, and returns the result (rows, inserted, updated, minimum_dt,
...) as its XCom. ``MssqlMergeOperator`` is the same operator pinned to SQL
Server targets, the production case.

Failures: PermanentSyncError (bad config, bad data) fails the task without
retry (AirflowFailException); TransientSyncError and errors the target calls
transient (lost connection, deadlock, lock busy) are raised as they are and
retried. Killing a running sync (SIGTERM, "mark failed", clear) marks its
ledger row failed from a fresh connection and cancels the sync, whose
transaction then rolls back: readers keep the old contents.

Which run syncs what:
- scheduled runs, and manual runs without parameters: MinimumDT from the
  ledger and the schedule (the seed service's rule), the priority gate applies;
- manual runs with ``full_refresh``: everything is fetched;
- manual runs with ``minimum_dt``: rows changed since that moment (ISO; UTC
  unless it has an offset);
- backfill runs: rows changed in the run's data interval [start, end) (both pushed down);
- manual runs with ``allow_mass_delete`` (tables with DeleteDetection): this run
  may delete more than MaxDeletePercent of the table.
Manual runs with a parameter and backfills pass the priority gate: they were
asked for explicitly. Every try gets a new OperationId, so clearing a task and
running it again is safe (the guarded MERGE never lets older rows win).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from datasync.airflow.connections import HookConnector
from datasync.config import DataSyncConfig
from datasync.core.times import as_utc
from datasync.core.errors import ConfigError, PermanentSyncError, SyncCancelled, TableLockTimeout, TransientSyncError
from datasync.core.roomy_stack import call_with_room

if TYPE_CHECKING:
    from datasync.engine.sync import SyncRequest
    from datasync.targets.base import Target

log = logging.getLogger(__name__)

SYNC_RETRIES = 2
SYNC_RETRY_DELAY = timedelta(minutes=1)
SYNC_RETRY_BACKOFF = 2.0
SYNC_MAX_RETRY_DELAY = timedelta(minutes=15)
ON_KILL_WAIT_SECONDS = 5.0
"""How long on_kill waits for the ledger update on its fresh connection before cancelling the sync."""

EXPLICIT_RUN = "explicit"


def parse_minimum_dt(value: Any) -> datetime | None:
    """The ``minimum_dt`` param as an aware UTC datetime (naive values are UTC); None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ConfigError([f"param minimum_dt: {value!r} is not an ISO date-time (e.g. 2024-03-01T00:00:00Z)"]) from None
    return as_utc(dt)


def _as_utc(value: Any) -> datetime | None:
    """A context datetime (pendulum or ISO text) as a plain aware UTC datetime."""
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def run_type_of(context: Any) -> str:
    dag_run = context.get("dag_run")
    value = getattr(dag_run, "run_type", None) or ""
    return str(getattr(value, "value", value))


def dispatched_by(context: Any) -> str | None:
    """The dispatcher's reason when datasync__dispatcher started this run (its conf says so), else None."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    params = context.get("params") or {}
    return conf.get("dispatched") or params.get("dispatched") or None


def explicit_request(context: Any) -> str | None:
    """Why this run was asked for explicitly (so the priority gate lets it pass), or None."""
    params = context.get("params") or {}
    if params.get("full_refresh"):
        return "manual run with full_refresh"
    if params.get("minimum_dt"):
        return f"manual run with minimum_dt {params.get('minimum_dt')}"
    if params.get("allow_mass_delete"):
        return "manual run with allow_mass_delete"
    if run_type_of(context) == "backfill":
        return "backfill run"
    return None


class _DataSyncBase(BaseOperator):
    """Shared constructor: the config, table and sync type; sensible retries."""

    def __init__(self, *, config: DataSyncConfig, table: str, sync_type: str, **kwargs: Any):
        kwargs.setdefault("retries", SYNC_RETRIES)
        kwargs.setdefault("retry_delay", SYNC_RETRY_DELAY)
        kwargs.setdefault("retry_exponential_backoff", SYNC_RETRY_BACKOFF)
        kwargs.setdefault("max_retry_delay", SYNC_MAX_RETRY_DELAY)
        super().__init__(**kwargs)
        self.config = config
        self.table = table
        self.sync_type = sync_type


class PriorityGateOperator(_DataSyncBase):
    """Skips this run (state skipped, reason in the log) while a higher sync type of the table is due or running.

    Daily yields to Mass, Hourly to Mass and Daily; manual runs with a parameter
    and backfill runs pass (they were asked for explicitly).
    """

    ui_color = "#f0e4c8"

    def execute(self, context: Any) -> str:
        from datasync.engine import service

        explicit = explicit_request(context)
        if explicit:
            reason = f"{self.table}: {explicit}; the priority gate lets it pass"
            log.info(reason)
            return reason
        try:
            decision = service.gate(
                self.config, self.table, self.sync_type, connector=HookConnector(), dispatched=bool(dispatched_by(context))
            )
        except PermanentSyncError as exc:
            raise AirflowFailException(f"{self.table} {self.sync_type} priority gate: {exc}") from exc
        log.info("priority gate: %s", decision.reason)
        if not decision.run:
            raise AirflowSkipException(decision.reason)
        return decision.reason


class DataSyncOperator(_DataSyncBase):
    """One sync operation of ``table`` (Mass, Daily or Hourly) into the config's target.

    Serves every supported target (SQL Server, PostgreSQL, SQLite): the dialect
    class is picked by the target connection's type when the task runs.
    """

    ui_color = "#cfe3f5"
    #: restrict to one connection type (None: any supported target)
    target_conn_type: ClassVar[str | None] = None

    def __init__(self, *, config: DataSyncConfig, table: str, sync_type: str, **kwargs: Any):
        kwargs.setdefault("pool", config.pool_name)
        super().__init__(config=config, table=table, sync_type=sync_type, **kwargs)
        # DataUpdateID of the sync in progress, read by on_kill (a plain attribute: operators
        # are deep-copied by Airflow, which a lock would not survive)
        self._running_id: int | None = None
        self._result: dict[str, Any] | None = None  # the last sync's XCom, for its OpenLineage COMPLETE

    # ------------------------------------------------------------------ pieces
    def open_target(self) -> Target:
        """A new connection to the target, through the dialect of the connection's type."""
        connector = HookConnector()
        conn_type = connector.info(self.config.target_conn_id).conn_type
        if self.target_conn_type and conn_type != self.target_conn_type:
            raise ConfigError(
                [
                    f"{type(self).__name__} needs a {self.target_conn_type} target, but connection "
                    f"{self.config.target_conn_id!r} has type {conn_type!r}; use DataSyncOperator"
                ]
            )
        return connector.target(self.config.target_conn_id, self.config.bulk_copy_batch_size)

    def sync_request(self, context: Any) -> SyncRequest:
        """The engine request for this run: parameters, backfill window, run id."""
        from datasync.engine.sync import SyncRequest

        params = context.get("params") or {}
        full_refresh = bool(params.get("full_refresh"))
        minimum_dt = None if full_refresh else parse_minimum_dt(params.get("minimum_dt"))
        maximum_dt = None
        if not full_refresh and run_type_of(context) == "backfill":
            # a backfill syncs the rows changed in its own data interval: [start, end)
            minimum_dt = minimum_dt or _as_utc(context.get("data_interval_start"))
            maximum_dt = _as_utc(context.get("data_interval_end"))
        return SyncRequest(
            self.table, self.sync_type, full_refresh=full_refresh, minimum_dt=minimum_dt, maximum_dt=maximum_dt,
            run_id=context.get("run_id"),
            allow_mass_delete=bool(params.get("allow_mass_delete")),
        )

    def _started(self, data_update_id: int) -> None:
        self._running_id = data_update_id

    # ------------------------------------------------------------------ Airflow hooks
    def execute(self, context: Any) -> dict[str, Any]:
        from datasync.airflow.observability import configure_telemetry, flush_telemetry
        from datasync.engine import service

        configure_telemetry()
        try:
            request = self.sync_request(context)
            target = self.open_target()
        except PermanentSyncError as exc:
            raise AirflowFailException(f"{self.table} {self.sync_type} sync: {exc}") from exc
        self.log.info(
            "%s %s sync, run %s, operation %s%s%s",
            self.table,
            self.sync_type,
            request.run_id,
            request.operation_id,
            " (full refresh)" if request.full_refresh else f" from {request.minimum_dt.isoformat()}" if request.minimum_dt else "",
            f" until {request.maximum_dt.isoformat()} (exclusive)" if request.maximum_dt else "",
        )
        try:
            # deep in the task runner's calls: on a roomy frame stack (core.roomy_stack)
            result = call_with_room(
                service.sync_table, self.config, request, target=target, on_started=self._started,
                connector=HookConnector(),
                post_process=False,  # its own task (post_process): its failure never re-runs the sync
            )
        except PermanentSyncError as exc:
            raise AirflowFailException(f"{self.table} {self.sync_type} sync failed, not retried: {exc}") from exc
        except TableLockTimeout as exc:
            if explicit_request(context):  # a backfill or parameterised run was asked for: retried until free
                raise
            # a dispatched or plain run: a skip with the reason, never a failure (the dispatcher starts it again)
            raise AirflowSkipException(f"{self.table}: busy ({exc}); this {self.sync_type} run skipped") from exc
        except TransientSyncError:
            raise
        except Exception as exc:
            if target.is_transient(exc):
                raise TransientSyncError(f"{self.table} {self.sync_type} sync: {type(exc).__name__}: {exc}") from exc
            raise
        finally:
            self._running_id = None
            target.close()
            flush_telemetry()
        out = result.as_dict()
        self.log.info(
            "%s %s: %d rows, %d inserted, %d updated, MinimumDT %s",
            self.table, self.sync_type, out["rows"], out["inserted"], out["updated"], out["minimum_dt"] or "none (full)",
        )
        self._result = out
        return out

    def on_kill(self) -> None:
        """Mark the running ledger row failed (fresh connection), then cancel the sync.

        Airflow calls this from its SIGTERM handler in the task's main thread,
        which is paused mid-sync: the ledger update runs in a helper thread with
        a bounded wait (the paused sync may hold locks it needs), then
        SyncCancelled unwinds the sync, whose transaction rolls back.
        """
        data_update_id = self._running_id
        if data_update_id is None:
            return
        message = f"cancelled: {self.table} {self.sync_type} sync killed by Airflow (on_kill)"
        marker = threading.Thread(
            target=self._mark_failed, args=(data_update_id, message), name="datasync-on-kill", daemon=True
        )
        marker.start()
        marker.join(ON_KILL_WAIT_SECONDS)
        raise SyncCancelled(message)

    def _mark_failed(self, data_update_id: int, message: str) -> None:
        from datasync.engine.ledger import Ledger

        try:
            target = self.open_target()
        except Exception:  # noqa: BLE001 - the next sync or the recovery DAG closes the row
            log.warning("on_kill: cannot open the target to mark DataUpdate %s failed", data_update_id, exc_info=True)
            return
        try:
            if Ledger(target).fail(data_update_id, message):
                log.warning("on_kill: DataUpdate %s marked failed", data_update_id)
        except Exception:  # noqa: BLE001
            log.warning("on_kill: could not mark DataUpdate %s failed", data_update_id, exc_info=True)
        finally:
            target.close()


    # ------------------------------------------------------------------ OpenLineage (datasync.airflow.lineage)
    # COMPLETE and FAIL are built in a forked child of the task: they use what START and execute kept
    def get_openlineage_facets_on_start(self) -> Any:
        from datasync.airflow.lineage import sync_datasets, sync_lineage

        self._lineage_datasets = sync_datasets(self.config, self.config.table(self.table))
        return sync_lineage(self.config, self.table, datasets=self._lineage_datasets)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from datasync.airflow.lineage import sync_lineage

        return sync_lineage(self.config, self.table, self._result, getattr(self, "_lineage_datasets", None))

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        from datasync.airflow.lineage import sync_lineage

        return sync_lineage(self.config, self.table, None, getattr(self, "_lineage_datasets", None))


class PostProcessOperator(_DataSyncBase):
    """The table's post-processor after a committed sync (the ``sync`` task's XCom), with its own retries.

    Runs only when the sync task succeeded (a skipped sync skips it too); a failure
    here fails this task only, so retrying it never re-runs the sync.
    """

    ui_color = "#f5e0cf"

    def execute(self, context: Any) -> str:
        from datasync.engine import service
        from datasync.engine.sync import SyncResult

        data = context["ti"].xcom_pull(task_ids="sync")
        if not data:
            raise AirflowSkipException(f"{self.table}: no committed sync in this run; nothing to post-process")
        result = SyncResult.from_dict(data)
        try:
            service.run_post_processor(self.config, result, connector=HookConnector())
        except PermanentSyncError as exc:
            raise AirflowFailException(f"{self.table} post-processor: {exc}") from exc
        name = self.config.table(self.table).post_processor_type_name
        log.info("%s: post-processor %s done after DataUpdate %s", self.table, name, result.data_update_id)
        return f"{name} after DataUpdate {result.data_update_id}"


class MssqlMergeOperator(DataSyncOperator):
    """DataSyncOperator for a SQL Server target (MsSqlHook connection, bulk copy, guarded MERGE)."""

    ui_color = "#e8d5f0"
    target_conn_type = "mssql"


class RecoveryOperator(_DataSyncBase):
    """Closes ledger rows of syncs that died (tables whose lock is free); returns {table: rows closed}."""

    def __init__(self, *, config: DataSyncConfig, **kwargs: Any):
        super().__init__(config=config, table="*", sync_type="Recovery", **kwargs)

    def execute(self, context: Any) -> dict[str, int]:
        from datasync.engine import service

        closed = service.recover(self.config, connector=HookConnector())
        if closed:
            for table, count in closed.items():
                log.warning("%s: closed %d interrupted sync(s)", table, count)
        else:
            log.info("no interrupted syncs")
        return closed


class PurgeOperator(_DataSyncBase):
    """Deletes ledger rows older than PurgeRetentionDays (keeps each table's latest success per type)."""

    def __init__(self, *, config: DataSyncConfig, **kwargs: Any):
        super().__init__(config=config, table="*", sync_type="Purge", **kwargs)

    def execute(self, context: Any) -> int:
        from datasync.engine import service

        deleted = service.purge(self.config, connector=HookConnector())
        log.info("purged %d DataUpdate rows older than %d days", deleted, self.config.purge_retention_days)
        return deleted


class CacheDiffers(AirflowFailException):
    """datasync verify found the cache different from its source (not retried: the report is the finding)."""


class VerifyOperator(_DataSyncBase):
    """``datasync verify`` of one table: counts, key set, values per key range; XCom: the report.

    Fails (not retried) when the cache differs from the source, naming the counts and sample keys.
    Skipped while the table has never synced (a fresh install's first verify runs before its Mass).
    """

    def __init__(self, *, config: DataSyncConfig, table: str, sample: int = 10, **kwargs: Any):
        kwargs.setdefault("retries", 0)
        super().__init__(config=config, table=table, sync_type="Verify", **kwargs)
        self.sample = sample

    def execute(self, context: Any) -> dict[str, Any]:
        from datasync.engine import service

        if not service.last_success(self.config, self.table, connector=HookConnector()):
            raise AirflowSkipException(f"{self.table}: never synced yet; nothing to verify")
        report = service.verify_table(self.config, self.table, sample=self.sample, connector=HookConnector())
        for line in report.lines():
            log.info("%s", line)
        data = report.as_dict()
        if not report.equal:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key="return_value", value=data)
            raise CacheDiffers("; ".join(report.lines()))
        return data


class CacheUnhealthy(AirflowFailException):
    """The health run's verdict: the cache is Unhealthy (the run fails; the health mail is the alert)."""

    datasync_health_verdict = True


class HealthOperator(_DataSyncBase):
    """Healthy / Degraded / Unhealthy with per-table {Table}_LastSync and {Table}_Status.

    Returns the report (XCom) and logs it; mails the recipients when the cache
    is Degraded or Unhealthy and the per-table statuses differ from the last
    mail's (so a lasting problem is mailed once, each change again). Unhealthy
    fails the run (red in the grid, not retried); Degraded is a warning in the log.
    """

    def __init__(self, *, config: DataSyncConfig, **kwargs: Any):
        kwargs.setdefault("retries", 0)
        super().__init__(config=config, table="*", sync_type="Health", **kwargs)

    def execute(self, context: Any) -> dict[str, Any]:
        from datasync.airflow import alerts
        from datasync.engine import service

        report = service.health(self.config, connector=HookConnector())
        data = report.as_dict()
        verdict = log.error if report.status == "Unhealthy" else log.warning if report.status == "Degraded" else log.info
        verdict("datasync health: %s (%s)", report.status, report.description)
        for name, table in report.tables.items():
            (log.info if table.status == "Healthy" else log.warning)(
                "  %s: %s, last sync %s%s",
                name,
                table.status,
                table.last_sync.isoformat() if table.last_sync else "never",
                f" ({'; '.join(table.problems)})" if table.problems else "",
            )
        statuses = {name: t.status for name, t in report.tables.items() if t.status != "Healthy"}
        data["description"] = report.description
        data["mailed"] = []
        data["alerted_statuses"] = statuses
        if report.status != "Healthy":
            previous = self._previous(context)
            if previous is not None and previous.get("alerted_statuses") == statuses and previous.get("mail_sent"):
                log.info("health unchanged since the last mail; no new mail")
                data["mail_sent"] = True
            else:
                data["mailed"] = alerts.send_health_mail(self.config, report)
                data["mail_sent"] = bool(data["mailed"])
                if data["mailed"]:
                    log.warning("health %s mailed to %s", report.status, ", ".join(data["mailed"]))
        if report.status == "Unhealthy":
            ti = context.get("ti")
            if ti is not None:  # the next run compares with this one (a failed task returns nothing)
                ti.xcom_push(key="return_value", value=data)
            raise CacheUnhealthy(report.description)
        return data

    @staticmethod
    def _previous(context: Any) -> dict[str, Any] | None:
        ti = context.get("ti")
        if ti is None:
            return None
        try:
            value = ti.xcom_pull(task_ids=ti.task_id, include_prior_dates=True)
        except Exception:  # noqa: BLE001 - no history: mail
            return None
        if isinstance(value, Sequence) and not isinstance(value, (str, dict)):
            value = value[-1] if value else None
        return value if isinstance(value, dict) else None
