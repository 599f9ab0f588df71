"""Taking over the .NET service's DataUpdate table in place: every row kept, times made UTC.

The .NET JdeScoping.DataSync service keeps DataUpdate with DataUpdateID
(identity), TableName, UpdateType, StartDT, EndDT, NumberRecords and
WasSuccessful, its times from GETDATE(): the server's local time. datasync
writes UTC and needs OperationId, RunId, MinimumDT, RowsInserted, RowsUpdated,
ErrorMessage, RowsDeleted (delete detection) and PostProcessError with
PostProcessFailedDT (a failed post-processor after that sync; these added in place to a
ledger an earlier datasync created, too), and health's indexes (``LATEST_INDEXES``: created in
place on either kind of ledger when the catalog lacks them). ``datasync init-db`` upgrades such a table, and so does the
first sync (through ``Ledger.ensure``) if init-db was not run.

How old local-time rows and new UTC rows coexist: they do not, for long. A row
datasync writes always has an OperationId, so a row without one was written by
the .NET service. The upgrade converts those rows once, in place, from the
ledger's zone (``LedgerTimeZone``, default the JDE source's TimeZone) to UTC and
marks each with ``ConvertedFromTimeZone`` = that zone. Afterwards every row is
UTC, so the schedule (MAX(StartDT) per type), purge and health compare like with
like inside SQL, and a table whose last .NET Mass ran two days ago is not
mass-synced again before its interval. The marker keeps the conversion
auditable and makes it idempotent: a row is converted exactly when it has
neither an OperationId nor a ConvertedFromTimeZone, so rows a still-running
.NET service writes during the switch are converted by the next upgrade check.
Local times are read with zoneinfo: the autumn hour that occurs twice is read
as its first (daylight) occurrence.

Rows the .NET service left at NumberRecords = -2 are closed as failed (-1) with
a message saying so: no datasync sync owns a row without an OperationId and
the .NET service holds none of datasync's locks, so such a row is an orphan
and would otherwise count as "running" and hold the table's lower types back.

All of it runs in one transaction under the DDL lock (missing columns added as
nullable, rows converted, orphans closed, datasync's indexes created if
missing): a concurrent first sync waits for the lock and then finds the table
upgraded; a failure leaves the table as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from datasync.core.errors import PermanentSyncError
from datasync.core.schema import Column
from datasync.core.times import from_source_time, utc_naive, utcnow
from datasync.targets.base import LEDGER_TABLE, Target
from datasync.targets.catalog import ExistingTable, Rules, family

log = logging.getLogger(__name__)

#: what the .NET table has and datasync keeps as it is: column -> the kind of value it must hold
REQUIRED = {
    "DataUpdateID": "int",
    "TableName": "string",
    "UpdateType": "string",
    "StartDT": "datetime",
    "NumberRecords": "int",
    "WasSuccessful": ("int", "bit"),
}
#: what the upgrade adds (nullable), in this order; the dialect gives each its DDL type
ADDED_COLUMNS = (
    Column("EndDT", "datetime"),
    Column("OperationId", "string", length=64),
    Column("RunId", "string", length=250),
    Column("MinimumDT", "datetime"),
    Column("RowsInserted", "int"),
    Column("RowsUpdated", "int"),
    Column("ErrorMessage", "string"),
    Column("ConvertedFromTimeZone", "string", length=64),
    Column("RowsDeleted", "int"),
    Column("PostProcessError", "string"),
    Column("PostProcessFailedDT", "datetime"),
)
ADDED = tuple(c.name for c in ADDED_COLUMNS)
#: indexes health's one read (``Ledger.latest``) seeks in; created by the upgrade when missing
LATEST_INDEXES = ("IX_DataUpdate_Latest", "IX_DataUpdate_LatestSuccess", "IX_DataUpdate_LatestFailure")
LEGACY_ORPHAN_MESSAGE = "interrupted: left in progress by the .NET service (closed by the DataUpdate upgrade)"
CONVERT_CHUNK = 1000


class LedgerUpgradeError(PermanentSyncError):
    """DataUpdate exists but is not a table datasync can upgrade."""


@dataclass(frozen=True)
class UpgradePlan:
    """What the upgrade of an existing DataUpdate does."""

    missing_columns: tuple[str, ...]
    legacy_rows: int  # rows in local time still to convert
    missing_indexes: tuple[str, ...] = ()

    @property
    def needed(self) -> bool:
        return bool(self.missing_columns or self.legacy_rows or self.missing_indexes)

    def describe(self, zone: ZoneInfo | None) -> list[str]:
        out = []
        if self.missing_columns:
            out.append(f"add columns {', '.join(self.missing_columns)} (nullable)")
        if self.legacy_rows:
            source = zone.key if zone else "LedgerTimeZone"
            out.append(f"convert {self.legacy_rows} row(s) the .NET service wrote from {source} local time to UTC")
        if self.missing_indexes:
            out.append(f"create indexes {', '.join(self.missing_indexes)}")
        return out


def shape_problems(existing: ExistingTable, rules: Rules) -> list[str]:
    """Why an existing DataUpdate cannot be upgraded (empty when it can)."""
    problems = []
    case_sensitive = rules.case_sensitive_names
    for name, kinds in REQUIRED.items():
        column = existing.find(name, case_sensitive)
        kinds = (kinds,) if isinstance(kinds, str) else kinds
        if column is None:
            problems.append(f"DataUpdate has no column {name}")
        elif rules.enforces_types and family(column.type_name) not in kinds and column.type_name not in kinds:
            problems.append(
                f"DataUpdate.{name} is {column.describe()}; datasync writes {' or '.join(kinds)} values there"
                + (" (Mass, Daily, Hourly: an enum stored as a number cannot be read)" if name == "UpdateType" else "")
            )
    key = existing.find("DataUpdateID", case_sensitive)
    if key is not None and not key.has_default:
        problems.append("DataUpdate.DataUpdateID is not an identity column: datasync lets the database number its rows")
    return problems


def plan(target: Target, existing: ExistingTable) -> UpgradePlan:
    """What upgrading ``existing`` (DataUpdate as the catalog has it) takes; raises if it cannot be upgraded."""
    problems = shape_problems(existing, target.catalog_rules)
    if problems:
        raise LedgerUpgradeError("; ".join(problems))
    case_sensitive = target.catalog_rules.case_sensitive_names
    missing = tuple(c for c in ADDED if existing.find(c, case_sensitive) is None)
    if "OperationId" in missing:  # the .NET shape: every row is the .NET service's
        legacy = target.fetch("ddl", "count_rows", name=LEDGER_TABLE)[0][0]
    else:
        legacy = target.fetch("ledger", "legacy_count", marked="ConvertedFromTimeZone" not in missing)[0][0]
    have = {n.lower() for n in target.index_names(LEDGER_TABLE)}
    return UpgradePlan(missing, int(legacy), tuple(n for n in LATEST_INDEXES if n.lower() not in have))


def ensure(target: Target, zone: ZoneInfo | None) -> UpgradePlan | None:
    """Create DataUpdate, or upgrade the .NET service's one in place; the plan applied, if any.

    ``zone``: the zone of the .NET rows' local times. Without it an upgrade that has rows
    to convert is refused (converting with a guessed zone would shift the schedule).
    """
    existing = target.describe_table(LEDGER_TABLE)
    if existing is None:
        target.ensure_ledger()
        return None
    if not plan(target, existing).needed:
        return None
    with target.ddl_transaction():
        existing = target.describe_table(LEDGER_TABLE)  # another process may have upgraded it meanwhile
        assert existing is not None
        todo = plan(target, existing)
        if not todo.needed:
            return None
        if todo.legacy_rows and zone is None:
            raise LedgerUpgradeError(
                "DataUpdate holds rows the .NET service wrote in local time; converting them needs the ledger's "
                "time zone: run `datasync init-db` (it uses LedgerTimeZone, default the JDE source's TimeZone)"
            )
        for column in ADDED_COLUMNS:
            if column.name in todo.missing_columns:
                target.run("ledger", "add_column", name=column.name, type=target.column_type(column))
        converted = _convert(target, zone) if zone is not None else 0
        closed = target.run(
            "ledger", "close_legacy_orphans", {"end": utcnow(), "error": LEGACY_ORPHAN_MESSAGE}
        )
        target.run_statements("ledger", "ensure_indexes")
    log.warning(
        "DataUpdate upgraded: added %s; converted %d row(s) from %s to UTC; closed %d orphan(s); created %s",
        ", ".join(todo.missing_columns) or "no columns", converted, zone.key if zone else "-", max(closed, 0),
        ", ".join(todo.missing_indexes) or "no indexes",
    )
    return UpgradePlan(todo.missing_columns, converted, todo.missing_indexes)


def _convert(target: Target, zone: ZoneInfo) -> int:
    """Every row without OperationId and ConvertedFromTimeZone: local times to UTC, marked."""
    rows = target.fetch("ledger", "legacy_rows")
    sql = target.render("ledger", "convert_legacy_row")
    params = []
    for data_update_id, start, end in rows:
        params.append(
            {
                "id": data_update_id,
                "start": _utc(target, start, zone),
                "end": _utc(target, end, zone),
                "zone": zone.key,
            }
        )
    for i in range(0, len(params), CONVERT_CHUNK):
        target.execute_many(sql, params[i : i + CONVERT_CHUNK])
    return len(params)


def _utc(target: Target, value: object, zone: ZoneInfo) -> object:
    """A stored local time as the UTC value datasync stores (None stays None)."""
    moment = target.to_datetime(value)  # naive values come back tagged UTC: the wall time is what counts
    if moment is None:
        return None
    return utc_naive(from_source_time(moment.replace(tzinfo=None), zone))
