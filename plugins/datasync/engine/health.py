"""Health of the cache, the replacement for the seed's SLA-miss e-mails and its IHealthCheck.

Unhealthy: a table's latest finished sync of some type failed within the
failure window. Degraded: an enabled schedule is overdue, its last success
(of that type or a higher one: a Mass satisfies Daily and Hourly, DESIGN §6)
older than its interval plus a grace share, or never. Unhealthy too: the
post-processor after the table's latest committed sync failed (marked on that
ledger row, with since when; its next success clears it). Healthy otherwise.
Per table ``{Table}_LastSync`` and ``{Table}_Status`` ("Current" or "Overdue")
as the seed's health check had, plus richer per-table and per-type facts for
the HTTP endpoint and the DataSync page. The ledger is read once
(``Ledger.latest``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from datasync.config import DataSyncConfig
from datasync.core.types import HealthStatus, LedgerState, SyncType
from datasync.engine.ledger import Ledger, LedgerRow

OVERDUE_GRACE = 0.5  # a schedule is overdue after interval x (1 + grace)
FAILURE_WINDOW = timedelta(hours=24)
CURRENT = "Current"
OVERDUE = "Overdue"

DESCRIPTIONS = {
    HealthStatus.HEALTHY: "Every table is current",
    HealthStatus.DEGRADED: "Some tables are overdue",
    HealthStatus.UNHEALTHY: "Some tables have recent sync failures",
}


@dataclass
class TypeHealth:
    """One schedule (Mass, Daily, Hourly) of a table as the ledger has it."""

    sync_type: str
    interval: timedelta
    last_success: datetime | None = None  # StartDT of this type's last success
    satisfied_at: datetime | None = None  # ... of this type or a higher one
    last_run: LedgerRow | None = None  # the last finished run of this type
    last_failure: LedgerRow | None = None
    running: LedgerRow | None = None
    overdue_since: datetime | None = None  # when it became overdue (None: current, or never synced)

    @property
    def overdue(self) -> bool:
        return self.satisfied_at is None or self.overdue_since is not None

    def as_dict(self) -> dict[str, Any]:
        run = self.last_run
        return {
            "interval_minutes": int(self.interval.total_seconds() // 60),
            "last_success": _iso(self.last_success),
            "satisfied_at": _iso(self.satisfied_at),
            "status": OVERDUE if self.overdue else CURRENT,
            "overdue_since": _iso(self.overdue_since),
            "last_run": None if run is None else {
                "state": run.status,
                "start": _iso(run.start_dt),
                "end": _iso(run.end_dt),
                "rows": run.number_records if run.was_successful else None,
                "inserted": run.rows_inserted,
                "updated": run.rows_updated,
                "operation_id": run.operation_id,
                "run_id": run.run_id,
            },
            "last_error": None if self.last_failure is None else {
                "at": _iso(self.last_failure.start_dt),
                "message": self.last_failure.error_message,
            },
            "running_since": _iso(self.running.start_dt) if self.running else None,
        }


@dataclass
class TableHealth:
    table: str
    status: HealthStatus = HealthStatus.HEALTHY
    last_sync: datetime | None = None
    problems: list[str] = field(default_factory=list)
    types: dict[str, TypeHealth] = field(default_factory=dict)
    #: the latest committed sync's post-processor failure: "<post-processor>: <error>", and since when
    post_process_error: str | None = None
    post_process_failed_since: datetime | None = None

    def worsen(self, status: HealthStatus, problem: str) -> None:
        self.problems.append(problem)
        self.status = self.status.worst(status)

    @property
    def overdue(self) -> bool:
        return any(t.overdue for t in self.types.values())

    @property
    def last_run(self) -> LedgerRow | None:
        runs = [t.last_run for t in self.types.values() if t.last_run is not None]
        return max(runs, key=lambda r: r.data_update_id, default=None)

    @property
    def last_error(self) -> LedgerRow | None:
        failures = [t.last_failure for t in self.types.values() if t.last_failure is not None]
        return max(failures, key=lambda r: r.data_update_id, default=None)


@dataclass
class HealthReport:
    status: HealthStatus
    checked_at: datetime
    tables: dict[str, TableHealth]

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    @property
    def description(self) -> str:
        bad = [t.table for t in self.tables.values() if t.status == self.status and t.status != HealthStatus.HEALTHY]
        return DESCRIPTIONS[self.status] + (f": {', '.join(bad)}" if bad else "")

    @property
    def unhealthy_tables(self) -> list[TableHealth]:
        return [t for t in self.tables.values() if t.status != HealthStatus.HEALTHY]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "checked_at": self.checked_at.isoformat()}
        for name, t in self.tables.items():
            out[f"{name}_LastSync"] = t.last_sync.isoformat() if t.last_sync else None
            out[f"{name}_Status"] = t.status
            if t.problems:
                out[f"{name}_Problems"] = t.problems
        return out

    def as_health_check(self) -> dict[str, Any]:
        """The seed's IHealthCheck result: status, description, data with its keys and ours."""
        data: dict[str, Any] = {}
        for name, t in self.tables.items():
            data[f"{name}_LastSync"] = _iso(t.last_sync) or "Never"
            data[f"{name}_Status"] = OVERDUE if t.overdue or t.last_sync is None else CURRENT
            data[f"{name}_Health"] = str(t.status)
            data[f"{name}_Problems"] = list(t.problems)
            data[f"{name}_Types"] = {k: v.as_dict() for k, v in t.types.items()}
            if t.post_process_error:
                data[f"{name}_PostProcessor"] = {
                    "error": t.post_process_error, "failed_since": _iso(t.post_process_failed_since),
                }
        return {
            "status": str(self.status),
            "description": self.description,
            "checked_at": self.checked_at.isoformat(),
            "data": data,
        }


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def evaluate(config: DataSyncConfig, ledger: Ledger, now: datetime) -> HealthReport:
    """Judge every enabled table from one read of the ledger."""
    latest: dict[tuple[str, str], list[LedgerRow]] = {}
    for row in ledger.latest():
        latest.setdefault((row.table_name.lower(), _type_name(row.update_type)), []).append(row)
    tables: dict[str, TableHealth] = {}
    for ds in config.enabled_tables():
        health = TableHealth(ds.table_name)
        successes: dict[str, datetime] = {}
        for sync_type in SyncType:
            rows = latest.get((ds.table_name.lower(), str(sync_type)), [])
            ok = [r.start_dt for r in rows if r.was_successful]
            if ok:
                successes[str(sync_type)] = max(ok)
        health.last_sync = max(successes.values(), default=None)
        for sync_type in ds.enabled_types():
            rows = latest.get((ds.table_name.lower(), str(sync_type)), [])
            th = _type_health(ds.schedule(sync_type).interval, str(sync_type), rows, successes)
            health.types[str(sync_type)] = th
            _judge(health, th, now)
        _judge_post_process(health, [r for t in SyncType for r in latest.get((ds.table_name.lower(), str(t)), [])])
        tables[ds.table_name] = health
    worst = HealthStatus.HEALTHY
    for table in tables.values():
        worst = worst.worst(table.status)
    return HealthReport(worst, now, tables)


def _type_health(interval: timedelta, sync_type: str, rows: list[LedgerRow], successes: dict[str, datetime]) -> TypeHealth:
    th = TypeHealth(sync_type, interval, last_success=successes.get(sync_type))
    covering = [successes[t] for t in [sync_type, *SyncType(sync_type).higher] if t in successes]
    th.satisfied_at = max(covering, default=None)
    finished = [r for r in rows if r.number_records != LedgerState.IN_PROGRESS]
    th.last_run = max(finished, key=lambda r: r.data_update_id, default=None)
    th.last_failure = max((r for r in finished if not r.was_successful), key=lambda r: r.data_update_id, default=None)
    th.running = next((r for r in rows if r.number_records == LedgerState.IN_PROGRESS), None)
    return th


def _judge(health: TableHealth, th: TypeHealth, now: datetime) -> None:
    allowed = th.interval * (1 + OVERDUE_GRACE)
    latest = th.last_run
    if latest is not None and not latest.was_successful and now - latest.start_dt <= FAILURE_WINDOW:
        health.worsen(HealthStatus.UNHEALTHY, f"{th.sync_type}: last run failed: {latest.error_message or 'no message'}")
    if th.satisfied_at is None:
        health.worsen(HealthStatus.DEGRADED, f"{th.sync_type}: never synced successfully")
    elif now - th.satisfied_at > allowed:
        th.overdue_since = th.satisfied_at + allowed
        health.worsen(
            HealthStatus.DEGRADED,
            f"{th.sync_type}: overdue since {th.overdue_since.isoformat()}, last success {th.satisfied_at.isoformat()}",
        )


def _judge_post_process(health: TableHealth, rows: list[LedgerRow]) -> None:
    """Unhealthy while the post-processor after the table's latest committed sync is marked failed."""
    committed = max((r for r in rows if r.was_successful), key=lambda r: r.data_update_id, default=None)
    if committed is None or not committed.post_process_error:
        return
    health.post_process_error = committed.post_process_error
    health.post_process_failed_since = committed.post_process_failed_dt
    since = f" since {committed.post_process_failed_dt.isoformat()}" if committed.post_process_failed_dt else ""
    health.worsen(HealthStatus.UNHEALTHY, f"post-processor {committed.post_process_error.replace(': ', ' failed: ', 1)}{since}")


def _type_name(update_type: str) -> str:
    try:
        return str(SyncType.parse(update_type))
    except ValueError:
        return update_type
