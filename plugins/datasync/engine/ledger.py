"""The DataUpdate ledger: one row per sync operation, the memory of the schedule.

NumberRecords is -2 while a sync runs, -1 when it failed, else the rows fetched.
Times are UTC. Holding a table's lock means no other sync of it runs, so any -2
row of that table is an orphan and is closed exactly, never guessed by age.
The .NET service's DataUpdate is taken over in place (datasync.engine.ledger_upgrade):
its rows keep counting for the schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from datasync.core.times import utcnow
from datasync.core.types import LedgerState, SyncType
from datasync.engine import ledger_upgrade
from datasync.engine.schedule import TableFacts, facts_from_rows
from datasync.targets.base import Target

MAX_ERROR_LENGTH = 4000
ORPHAN_MESSAGE = "interrupted: the process running this sync stopped before it finished (closed by {by})"


@dataclass(frozen=True)
class LedgerRow:
    data_update_id: int
    table_name: str
    update_type: str
    operation_id: str | None  # None: a row of the .NET service
    run_id: str | None
    start_dt: datetime
    end_dt: datetime | None
    minimum_dt: datetime | None
    number_records: int
    was_successful: bool
    rows_inserted: int | None
    rows_updated: int | None
    error_message: str | None
    #: rows delete detection removed; None when the run did not detect deletes
    rows_deleted: int | None = None
    #: "<post-processor>: <error>" when the post-processor after this committed sync failed
    post_process_error: str | None = None
    #: since when the table's post-processor has been failing (carried over from sync to sync)
    post_process_failed_dt: datetime | None = None

    @property
    def status(self) -> str:
        if self.number_records == LedgerState.IN_PROGRESS:
            return "running"
        return "success" if self.was_successful else "failed"


class Ledger:
    """DataUpdate reads and writes through one target connection."""

    def __init__(self, target: Target):
        self.target = target

    def ensure(self, legacy_zone: ZoneInfo | None = None) -> None:
        """Create DataUpdate, or upgrade the .NET service's table in place (once per connection).

        ``legacy_zone``: the zone of the .NET rows' local times (``config.ledger_zone``);
        needed only when such rows are still to be converted.
        """
        if not self.target.ledger_ready:
            ledger_upgrade.ensure(self.target, legacy_zone)
            self.target.ledger_ready = True

    def start(
        self, table: str, update_type: str, operation_id: str, run_id: str | None, minimum_dt: datetime | None
    ) -> int:
        rows = self.target.fetch(
            "ledger",
            "start",
            {
                "table": table,
                "type": update_type,
                "operation_id": operation_id,
                "run_id": run_id,
                "start": utcnow(),
                "minimum_dt": minimum_dt,
            },
        )
        return int(rows[0][0])

    def finish(
        self, data_update_id: int, records: int, inserted: int, updated: int, deleted: int | None = None
    ) -> None:
        """Mark the row successful; ``deleted``: rows delete detection removed (None: it did not run)."""
        self.target.run(
            "ledger",
            "finish",
            {
                "id": data_update_id, "end": utcnow(), "records": records, "inserted": inserted, "updated": updated,
                "deleted": deleted,
            },
        )

    def fail(self, data_update_id: int, error: str) -> bool:
        """Mark a running row failed; False if it was no longer running (already closed)."""
        return (
            self.target.run(
                "ledger", "fail", {"id": data_update_id, "end": utcnow(), "error": error[:MAX_ERROR_LENGTH]}
            )
            > 0
        )

    def close_orphans(self, table: str, by: str = "the next sync of this table") -> int:
        """Close every in-progress row of ``table``; call only while holding its lock."""
        return self.target.run(
            "ledger", "close_orphans", {"table": table, "end": utcnow(), "error": ORPHAN_MESSAGE.format(by=by)}
        )

    def in_progress_tables(self) -> list[str]:
        return [r[0] for r in self.target.fetch("ledger", "in_progress_tables")]

    def last_success(self, table: str) -> dict[str, datetime]:
        """StartDT of the last successful sync of each type of ``table``."""
        out: dict[str, datetime] = {}
        for update_type, start in self.target.fetch("ledger", "last_success", {"table": table}):
            dt = self.target.to_datetime(start)
            name = _type_name(update_type)
            if dt is not None and (name not in out or dt > out[name]):
                out[name] = dt
        return out

    def last_delete_detection(self, table: str) -> datetime | None:
        """StartDT of the last successful run of ``table`` that detected deletes."""
        rows = self.target.fetch("ledger", "last_delete_detection", {"table": table})
        return self.target.to_datetime(rows[0][0]) if rows else None

    def running_types(self, table: str) -> set[str]:
        return {_type_name(r[0]) for r in self.target.fetch("ledger", "running", {"table": table})}

    def recent(self, table: str | None = None, limit: int = 50) -> list[LedgerRow]:
        params: dict[str, Any] = {"limit": limit}
        if table:
            params["table"] = table
        return [self._row(r) for r in self.target.fetch("ledger", "recent", params, table=table)]

    def since(self, since: datetime) -> list[LedgerRow]:
        return [self._row(r) for r in self.target.fetch("ledger", "since", {"since": since})]

    def latest(self) -> list[LedgerRow]:
        """In one statement: each table's and type's last success, last finished run, last failure, and running rows."""
        return [self._row(r) for r in self.target.fetch("ledger", "latest")]

    def schedule_facts(self) -> dict[str, TableFacts]:
        """Per table (lower-cased name): last success per type, running syncs, failures since (one read)."""
        t = self.target.to_datetime
        return facts_from_rows(
            (table, _type_name(kind), t(start), int(records), bool(ok))
            for table, kind, start, records, ok in self.target.fetch("ledger", "schedule_facts")
        )

    def post_process_failed(self, table: str, data_update_id: int, error: str) -> datetime:
        """Mark the committed sync ``data_update_id``: its post-processor failed; returns since when it fails.

        Since when: the previous sync's mark when that post-processor failed too, else now.
        """
        rows = self.target.fetch("ledger", "previous_post_process", {"table": table, "id": data_update_id})
        previous = self.target.to_datetime(rows[0][0]) if rows and rows[0][0] is not None else None
        since = previous or utcnow()
        with self.target.transaction():
            self.target.run(
                "ledger", "mark_post_process", {"id": data_update_id, "error": error[:MAX_ERROR_LENGTH], "since": since}
            )
        return since

    def post_process_succeeded(self, data_update_id: int) -> None:
        """Clear the mark of ``data_update_id`` (a retry of its post-processor succeeded)."""
        with self.target.transaction():
            self.target.run("ledger", "mark_post_process", {"id": data_update_id, "error": None, "since": None})

    def purge(self, retention_days: int) -> int:
        cutoff = utcnow() - timedelta(days=retention_days)
        with self.target.transaction():
            return self.target.run("ledger", "purge", {"cutoff": cutoff})

    def _row(self, r: tuple) -> LedgerRow:
        t = self.target.to_datetime
        return LedgerRow(
            data_update_id=int(r[0]),
            table_name=r[1],
            update_type=r[2],
            operation_id=r[3],
            run_id=r[4],
            start_dt=t(r[5]),  # type: ignore[arg-type]
            end_dt=t(r[6]),
            minimum_dt=t(r[7]),
            number_records=int(r[8]),
            was_successful=bool(r[9]),
            rows_inserted=None if r[10] is None else int(r[10]),
            rows_updated=None if r[11] is None else int(r[11]),
            error_message=r[12],
            rows_deleted=None if len(r) < 14 or r[13] is None else int(r[13]),
            post_process_error=r[14] if len(r) > 14 else None,
            post_process_failed_dt=t(r[15]) if len(r) > 15 else None,
        )


def _type_name(update_type: str) -> str:
    """'Mass' for 'Mass', 'MASS' or 'mass' (the .NET service's spelling may differ); others as stored."""
    try:
        return str(SyncType.parse(update_type))
    except ValueError:
        return update_type
