"""Health of the cache, the replacement for the seed's SLA-miss e-mails.

Unhealthy: a table's latest finished sync of some type failed within the
failure window. Degraded: an enabled schedule is overdue (last success older
than its interval plus a grace share). Healthy otherwise. Per table
``{Table}_LastSync`` and ``{Table}_Status`` as the seed's health check had.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from datasync.config import DataSyncConfig
from datasync.core.types import HealthStatus, LedgerState
from datasync.engine.ledger import Ledger, LedgerRow

OVERDUE_GRACE = 0.5  # a schedule is overdue after interval x (1 + grace)
FAILURE_WINDOW = timedelta(hours=24)


@dataclass
class TableHealth:
    table: str
    status: HealthStatus = HealthStatus.HEALTHY
    last_sync: datetime | None = None
    problems: list[str] = field(default_factory=list)

    def worsen(self, status: HealthStatus, problem: str) -> None:
        self.problems.append(problem)
        self.status = self.status.worst(status)


@dataclass
class HealthReport:
    status: HealthStatus
    checked_at: datetime
    tables: dict[str, TableHealth]

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

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


def evaluate(config: DataSyncConfig, ledger: Ledger, now: datetime) -> HealthReport:
    """Judge every enabled table from the ledger."""
    recent = ledger.since(now - max(FAILURE_WINDOW, _longest_interval(config) * (1 + OVERDUE_GRACE)))
    tables: dict[str, TableHealth] = {}
    for ds in config.enabled_tables():
        health = TableHealth(ds.table_name)
        rows = [r for r in recent if r.table_name.lower() == ds.table_name.lower()]
        last_success = ledger.last_success(ds.table_name)
        health.last_sync = max(last_success.values(), default=None)
        for sync_type in ds.enabled_types():
            _judge_failures(health, sync_type, rows, now)
            last = last_success.get(sync_type)
            allowed = ds.schedule(sync_type).interval * (1 + OVERDUE_GRACE)
            if last is None:
                health.worsen(HealthStatus.DEGRADED, f"{sync_type}: never synced successfully")
            elif now - last > allowed:
                health.worsen(HealthStatus.DEGRADED, f"{sync_type}: overdue, last success {last.isoformat()}")
        tables[ds.table_name] = health
    worst = HealthStatus.HEALTHY
    for table in tables.values():
        worst = worst.worst(table.status)
    return HealthReport(worst, now, tables)


def _judge_failures(health: TableHealth, sync_type: str, rows: list[LedgerRow], now: datetime) -> None:
    finished = [r for r in rows if r.update_type == sync_type and r.number_records != LedgerState.IN_PROGRESS]
    if not finished:
        return
    latest = max(finished, key=lambda r: r.data_update_id)
    if not latest.was_successful and now - latest.start_dt <= FAILURE_WINDOW:
        health.worsen(HealthStatus.UNHEALTHY, f"{sync_type}: last run failed: {latest.error_message or 'no message'}")


def _longest_interval(config: DataSyncConfig) -> timedelta:
    return max(
        (ds.schedule(t).interval for ds in config.enabled_tables() for t in ds.enabled_types()),
        default=timedelta(0),
    )
