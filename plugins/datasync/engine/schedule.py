"""Schedule semantics (DESIGN §6): what each table should run now, decided from ledger facts.

Pure functions, no clock and no Airflow: the Airflow dispatcher, ``datasync
run-due``, the priority gate and health call the same code, and a test drives it
through a simulated week with a fake clock.

- Satisfied by: a type counts the last success of that type or a higher one.
- Due: never satisfied, or its table's slot has come (see ``due_at``): at most
  one interval after the satisfying success, never sooner than half an interval.
- Slots: each table has a stable offset inside every interval (a hash of its
  name), so tables do not all start on the same second; a type drifts onto its
  slot within a cycle or two and stays there.
- A failed type stays due and waits a backoff from the failure's start:
  CheckInterval, doubling per consecutive failure, capped at its own interval.
  While it waits, lower types run: a failing Mass does not stop Daily/Hourly.
- Of the runnable types of a table only the highest runs; a table with a sync
  in progress is skipped (busy), never failed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from datasync.config import DataSourceConfig, DataSyncConfig
from datasync.core.types import SyncType

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
"""Slots are counted from here (a Monday, 00:00 UTC)."""
MAX_DOUBLINGS = 30


@dataclass
class TableFacts:
    """What the ledger says about one table: the schedule needs nothing else."""

    last_success: dict[str, datetime] = field(default_factory=dict)  # StartDT of each type's last success
    running: dict[str, datetime] = field(default_factory=dict)  # type -> StartDT of a sync in progress
    failures: dict[str, list[datetime]] = field(default_factory=dict)  # StartDT of failures after its last success


def offset_fraction(table_name: str) -> float:
    """The table's stable place inside any interval, in [0, 1): the same on every machine and run."""
    digest = hashlib.sha256(table_name.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def slot_at_or_before(moment: datetime, interval: timedelta, fraction: float) -> datetime:
    """The latest slot (EPOCH + fraction x interval + k x interval) not after ``moment``."""
    first = EPOCH + interval * fraction
    steps = (moment - first) // interval
    return first + interval * steps


def satisfied_at(sync_type: str, last_success: dict[str, datetime]) -> datetime | None:
    """StartDT of the last success of ``sync_type`` or a higher type (a Mass satisfies Daily and Hourly)."""
    covering = [last_success[t] for t in (sync_type, *SyncType(sync_type).higher) if t in last_success]
    return max(covering, default=None)


def due_at(table: DataSourceConfig, sync_type: str, last_success: dict[str, datetime]) -> datetime | None:
    """When ``sync_type`` of ``table`` is next due; None: due now (never satisfied).

    The table's last slot up to satisfied + interval, but not before satisfied +
    interval/2: never staler than one interval, never twice as often, and on the
    slot from the second run on.
    """
    sat = satisfied_at(sync_type, last_success)
    if sat is None:
        return None
    interval = table.schedule(sync_type).interval
    slot = slot_at_or_before(sat + interval, interval, offset_fraction(table.table_name))
    return max(slot, sat + interval / 2)


def is_enabled(table: DataSourceConfig, sync_type: str) -> bool:
    return table.is_enabled and table.schedule(sync_type).enabled


def is_due(table: DataSourceConfig, sync_type: str, last_success: dict[str, datetime], now: datetime) -> bool:
    """Enabled, and never satisfied or its due time has come."""
    if not is_enabled(table, sync_type):
        return False
    at = due_at(table, sync_type, last_success)
    return at is None or at <= now


def backoff(check_interval: timedelta, interval: timedelta, failures: int) -> timedelta:
    """Wait after the ``failures``-th consecutive failure: CheckInterval doubling, capped at the type's interval."""
    if failures <= 0:
        return timedelta(0)
    delay = check_interval * 2 ** min(failures - 1, MAX_DOUBLINGS)
    return max(check_interval, min(delay, interval))


def consecutive_failures(sync_type: str, facts: TableFacts) -> list[datetime]:
    """Failures of ``sync_type`` since the last success that satisfies it (oldest first)."""
    sat = satisfied_at(sync_type, facts.last_success)
    return sorted(f for f in facts.failures.get(sync_type, []) if sat is None or f > sat)


def retry_at(config: DataSyncConfig, table: DataSourceConfig, sync_type: str, facts: TableFacts) -> datetime | None:
    """When a failed type may run again (None: it has not failed since it was last satisfied)."""
    failed = consecutive_failures(sync_type, facts)
    if not failed:
        return None
    return failed[-1] + backoff(config.check_interval, table.schedule(sync_type).interval, len(failed))


@dataclass(frozen=True)
class Decision:
    """What one table does in this cycle: run one type, or nothing, and why."""

    table: str
    sync_type: str | None  # the type to run; None: nothing runs
    reason: str
    busy: bool = False  # a sync of the table is in progress
    retry: int = 0  # this run retries a type that failed this many times in a row

    @property
    def run(self) -> bool:
        return self.sync_type is not None


def _fmt(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def decide(config: DataSyncConfig, table: DataSourceConfig, facts: TableFacts, now: datetime) -> Decision:
    """The highest due type that is not waiting out a backoff; busy tables run nothing."""
    name = table.table_name
    types = [t for t in table.enabled_types()]
    due = [t for t in types if is_due(table, t, facts.last_success, now)]
    if facts.running:
        sync_type, since = max(facts.running.items(), key=lambda kv: kv[1])
        others = [t for t in due if t not in facts.running]
        waiting = f"; {', '.join(others)} due, starts when it is done" if others else ""
        return Decision(name, None, f"{name}: busy, {sync_type} sync running since {_fmt(since)}{waiting}", busy=True)
    waits = []
    for sync_type in due:
        retry = retry_at(config, table, sync_type, facts)
        if retry is not None and retry > now:
            n = len(consecutive_failures(sync_type, facts))
            waits.append(f"{sync_type} failed {n}x, retried at {_fmt(retry)}")
            continue
        why = _why_due(table, sync_type, facts)
        note = f" ({'; '.join(waits)})" if waits else ""
        retries = len(consecutive_failures(sync_type, facts))
        return Decision(name, str(sync_type), f"{name}: {sync_type} {why}{note}", retry=retries)
    if waits:
        return Decision(name, None, f"{name}: nothing runs: {'; '.join(waits)}")
    nxt = min((_next(table, t, facts) for t in types), default=None)
    return Decision(name, None, f"{name}: current" + (f", next sync due {_fmt(nxt)}" if nxt else ""))


def _why_due(table: DataSourceConfig, sync_type: str, facts: TableFacts) -> str:
    failed = consecutive_failures(sync_type, facts)
    if failed:
        return f"retry {len(failed)} after the failure at {_fmt(failed[-1])}"
    at = due_at(table, sync_type, facts.last_success)
    return "never synced" if at is None else f"due since {_fmt(at)}"


def _next(table: DataSourceConfig, sync_type: str, facts: TableFacts) -> datetime:
    at = due_at(table, sync_type, facts.last_success)
    return at if at is not None else EPOCH


def plan(config: DataSyncConfig, facts: dict[str, TableFacts], now: datetime) -> list[Decision]:
    """One cycle of the seed's loop: a decision per enabled table, runs first, highest type first."""
    lower = {k.lower(): v for k, v in facts.items()}
    decisions = [decide(config, t, lower.get(t.table_name.lower(), TableFacts()), now) for t in config.enabled_tables()]
    return sorted(decisions, key=lambda d: (not d.run, SyncType(d.sync_type).priority if d.run else 0))


def due_syncs(
    config: DataSyncConfig, facts: dict[str, TableFacts], now: datetime
) -> list[tuple[DataSourceConfig, str]]:
    """(table, type) pairs to run now, highest priority first; at most one type per table."""
    return [(config.table(d.table), d.sync_type) for d in plan(config, facts, now) if d.sync_type]


@dataclass(frozen=True)
class GateDecision:
    run: bool
    reason: str


def priority_gate(
    config: DataSyncConfig, table: DataSourceConfig, sync_type: str, facts: TableFacts, now: datetime
) -> GateDecision:
    """May a scheduled run of ``sync_type`` start? Not while a sync of the table runs, nor while a
    higher type is due and not waiting out a backoff (a failing higher type never blocks)."""
    name = table.table_name
    if sync_type == SyncType.MASS:
        return GateDecision(True, f"{name}: a Mass never yields (it waits for the table's lock)")
    if facts.running:
        running = ", ".join(sorted(facts.running))
        return GateDecision(False, f"{name}: {running} sync is running; {sync_type} skipped")
    for higher in SyncType(sync_type).higher:
        if not is_due(table, higher, facts.last_success, now):
            continue
        retry = retry_at(config, table, higher, facts)
        if retry is None or retry <= now:
            return GateDecision(False, f"{name}: {higher} sync is due; {sync_type} skipped")
    return GateDecision(True, f"{name}: {sync_type} may run")


def facts_from_rows(rows: Iterable[tuple[str, str, datetime, int, bool]]) -> dict[str, TableFacts]:
    """Per table (lower-cased name) from ledger rows (table, type, StartDT, NumberRecords, WasSuccessful).

    Only each type's last success, the running rows and the failures are needed.
    """
    out: dict[str, TableFacts] = {}
    for table, sync_type, start, records, ok in rows:
        f = out.setdefault(table.lower(), TableFacts())
        if records == -2:
            f.running[sync_type] = start
        elif ok:
            if sync_type not in f.last_success or start > f.last_success[sync_type]:
                f.last_success[sync_type] = start
        else:
            f.failures.setdefault(sync_type, []).append(start)
    return out


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
