"""Schedule semantics of the seed service: due, priority, MinimumDT with lookback.

Pure functions over ledger facts, so the Airflow gate, ``run-due`` and health
agree on what is due, and tests need no clock tricks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from datasync.config import DataSourceConfig, DataSyncConfig
from datasync.core.types import SyncType



def is_due(table: DataSourceConfig, sync_type: str, last_success: dict[str, datetime], now: datetime) -> bool:
    """Due: enabled, and no success of this type yet or last success + interval <= now."""
    sched = table.schedule(sync_type)
    if not (table.is_enabled and sched.enabled):
        return False
    last = last_success.get(sync_type)
    return last is None or last + sched.interval <= now


@dataclass(frozen=True)
class GateDecision:
    run: bool
    reason: str


def priority_gate(
    table: DataSourceConfig,
    sync_type: str,
    last_success: dict[str, datetime],
    running: set[str],
    now: datetime,
) -> GateDecision:
    """Mass never skips; Daily/Hourly skip while a higher type of the table is due or running."""
    for higher in SyncType(sync_type).higher:
        if higher in running:
            return GateDecision(False, f"{table.table_name}: {higher} sync is running; {sync_type} skipped")
        if is_due(table, higher, last_success, now):
            return GateDecision(False, f"{table.table_name}: {higher} sync is due; {sync_type} skipped")
    return GateDecision(True, f"{table.table_name}: {sync_type} may run")


def minimum_dt(
    config: DataSyncConfig, table: DataSourceConfig, sync_type: str, last_success: dict[str, datetime]
) -> datetime | None:
    """MinimumDT (UTC) for an incremental sync, or None for a full fetch.

    LastDailyUpdateDT (StartDT of the last successful Daily or Mass) minus
    LookbackMultiplier x DailyInterval; Mass always fetches everything.
    """
    if sync_type == "Mass":
        return None
    anchors = [last_success[t] for t in ("Daily", "Mass") if t in last_success]
    if not anchors:
        return None
    lookback = table.daily_config.interval_minutes or table.schedule(sync_type).interval_minutes
    return max(anchors) - timedelta(minutes=config.lookback_multiplier * lookback)


def due_syncs(
    config: DataSyncConfig, ledger_facts: dict[str, tuple[dict[str, datetime], set[str]]], now: datetime
) -> list[tuple[DataSourceConfig, str]]:
    """(table, type) pairs to run now, highest priority first; at most one type per table."""
    out = []
    for table in config.enabled_tables():
        last, running = ledger_facts.get(table.table_name, ({}, set()))
        for sync_type in table.enabled_types():
            if running & {sync_type} or not is_due(table, sync_type, last, now):
                continue
            if priority_gate(table, sync_type, last, running, now).run:
                out.append((table, sync_type))
                break
    return sorted(out, key=lambda pair: SyncType(pair[1]).priority)
