"""SQL Server scenarios against a real server (marker ``mssql``).

Skipped unless DATASYNC_TEST_MSSQL_URL is an Airflow connection URI of a login that may create
databases, e.g. ``mssql://sa:Passw0rd!@127.0.0.1:1433/master`` (see docs/sqlserver.md:
``docker compose up -d --wait mssql``). The module creates its own database with a
case-sensitive collation different from the server default (so tempdb's collation differs
from the target's, as on many production servers) and drops it afterwards.

The dialect-neutral scenarios (mass/daily/hourly, duplicates, guard, failures, kills) run here
too through the battery's ``mssql`` parameter (tests/battery). These are the SQL Server
specifics: what bulk copy stores, the catalog query behind index disabling, TRUNCATE + bulk
load in one transaction against readers and a killed session, applocks, the ledger's types.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pytest

from datasync.engine.configuration import parse_config
from datasync.airflow.connections import HookConnector
from datasync.core.errors import TableLockTimeout
from datasync.fetchers.base import Fetcher
from datasync.fetchers.registry import register
from datasync.engine.ledger import Ledger
from datasync.core.schema import Column, TableSchema
from datasync.engine.sync import SyncRequest, run_sync
from datasync.targets.mssql import MssqlTarget
from conftest import table_entry
from memory_fetcher import MemoryFetcher, NullReader

URL_ENV = "DATASYNC_TEST_MSSQL_URL"
CONN_ID = "datasync_mssql_live"
COLLATION = "Latin1_General_100_CS_AS"  # not the server default: tempdb compares differently
WAIT_S = 60

pytestmark = [
    pytest.mark.mssql,
    pytest.mark.skipif(
        not os.environ.get(URL_ENV),
        reason=f"no SQL Server: set {URL_ENV} (docker compose up -d --wait mssql; see docs/sqlserver.md)",
    ),
]


# ------------------------------------------------------------------------------ server fixtures
def _admin_params() -> dict[str, Any]:
    from airflow.models.connection import Connection

    base = Connection(uri=os.environ[URL_ENV])
    return {
        "server": base.host,
        "port": str(base.port or 1433),
        "user": base.login,
        "password": base.password,
        "autocommit": True,
        "login_timeout": 20,
    }


def admin(database: str | None = None) -> Any:
    import pymssql

    params = _admin_params()
    if database:
        params["database"] = database
    return pymssql.connect(**params)


def scalar(conn: Any, sql: str, params: Any = None) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, params) if params is not None else cur.execute(sql)
        row = cur.fetchone()
    return None if row is None else row[0]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"datasync_live_{uuid.uuid4().hex[:10]}"
    with admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE [{name}] COLLATE {COLLATION}")
        cur.execute(f"ALTER DATABASE [{name}] SET RECOVERY SIMPLE")
    p = _admin_params()
    uri = f"mssql://{quote(p['user'] or '', safe='')}:{quote(p['password'] or '', safe='')}@{p['server']}:{p['port']}/{name}"
    old = os.environ.get(f"AIRFLOW_CONN_{CONN_ID.upper()}")
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = uri
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop(f"AIRFLOW_CONN_{CONN_ID.upper()}", None)
        else:
            os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = old
        with admin() as conn, conn.cursor() as cur:
            cur.execute(f"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
            cur.execute(f"DROP DATABASE [{name}]")


def connect(bulk_copy_batch_size: int = 2) -> MssqlTarget:
    target = HookConnector().target(CONN_ID, bulk_copy_batch_size)
    assert isinstance(target, MssqlTarget)
    return target


@pytest.fixture
def target(database: str) -> Iterator[MssqlTarget]:
    t = connect()
    yield t
    t.close()


def spid(target: MssqlTarget) -> int:
    return int(target.query("SELECT @@SPID AS [spid]")[0][0])


def kill(session: int) -> None:
    with admin() as conn, conn.cursor() as cur:
        cur.execute(f"KILL {int(session)}")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def config(*entries: dict, batch_size: int = 5, lock_timeout: float = 0) -> Any:
    return parse_config(
        {"BatchSize": batch_size, "BulkCopyBatchSize": 2, "LockTimeoutSeconds": lock_timeout, "DataSources": list(entries)}
    )


def sync(cfg: Any, table: str, sync_type: str, **kw: Any) -> Any:
    """One sync on its own connection, as a DAG task runs it."""
    t = connect()
    try:
        return run_sync(cfg, SyncRequest(table, sync_type, **kw), t, NullReader)
    finally:
        t.close()


# ------------------------------------------------------------------------------ test fetchers
VALUE_SCHEMA_COLUMNS = (
    Column("Id", "int", nullable=False),
    Column("Code", "string", length=12, nullable=False),
    Column("Name", "string", length=40),
    Column("Notes", "string"),
    Column("Qty", "decimal", precision=18, scale=4),
    Column("Day", "date"),
    Column("Ratio", "float"),
    Column("Big", "int"),
    Column("EventTime", "datetime"),
    Column("LastUpdateDT", "datetime", nullable=False),
)


@register
class LiveValuesFetcher(Fetcher):
    """Rows of every column kind, from ``rows[table]``; key (Id, Code), index on Name."""

    rows: dict[str, list[dict[str, Any]]] = {}

    def schema(self) -> TableSchema:
        return TableSchema(self.table.table_name, VALUE_SCHEMA_COLUMNS, ("Id", "Code"), indexes=(("Name",),))

    def fetch(self, minimum_dt: datetime | None) -> Iterator[pa.RecordBatch]:
        rows = self.rows.get(self.table.table_name, [])
        for start in range(0, len(rows), self.batch_size):
            yield pa.RecordBatch.from_pylist(rows[start : start + self.batch_size], schema=self.schema().arrow_schema())


@register
class GateFetcher(Fetcher):
    """MemoryFetcher's schema; after the first batch it sets ``reached`` and waits for ``gate``."""

    rows: list[dict[str, Any]] = []
    reached = threading.Event()
    gate = threading.Event()

    def schema(self) -> TableSchema:
        return MemoryFetcher(self.table, self.source, None, self.batch_size).schema()

    def fetch(self, minimum_dt: datetime | None) -> Iterator[pa.RecordBatch]:
        arrow = self.schema().arrow_schema()
        for n, start in enumerate(range(0, len(self.rows), self.batch_size)):
            if n == 1:
                self.reached.set()
                assert self.gate.wait(WAIT_S), "the test never opened the gate"
            yield pa.RecordBatch.from_pylist(self.rows[start : start + self.batch_size], schema=arrow)


def item(i: int, name: str = "n", ts: datetime = datetime(2024, 3, 1, 10, 0, 0), site: str = "M30") -> dict[str, Any]:
    return {"Id": i, "Site": site, "Name": name, "Qty": Decimal("1.50"), "Day": date(2024, 2, 29), "LastUpdateDT": ts}


VALUE_ROWS = [
    {"Id": 1, "Code": "A", "Name": "héllo ✓ 漢字 😀", "Notes": "x" * 5000, "Qty": Decimal("1.5000"),
     "Day": date(2024, 2, 29), "Ratio": 0.25, "Big": 3_000_000_000, "EventTime": datetime(2024, 3, 1, 10, 0, 0, 123456),
     "LastUpdateDT": datetime(2024, 3, 1, 10, 0, 0, 654321)},
    {"Id": 2, "Code": "", "Name": "", "Notes": "", "Qty": Decimal("-0.0001"), "Day": date(1999, 12, 31),
     "Ratio": -1.5, "Big": -1, "EventTime": datetime(1900, 1, 1), "LastUpdateDT": datetime(1900, 1, 1)},
    {"Id": 3, "Code": "c", "Name": None, "Notes": None, "Qty": None, "Day": None, "Ratio": None, "Big": None,
     "EventTime": None, "LastUpdateDT": datetime(2024, 3, 1, 23, 59, 59, 999999)},
    {"Id": 3, "Code": "C", "Name": "O'Brien; DROP TABLE x --", "Notes": "trailing  ", "Qty": Decimal("99999999999999.9999"),
     "Day": date(2000, 1, 1), "Ratio": 1e300, "Big": 2**62, "EventTime": datetime(2024, 1, 1),
     "LastUpdateDT": datetime(2024, 1, 1)},
]


def read_values(target: MssqlTarget, table: str) -> list[tuple]:
    cols = ", ".join(f"[{c.name}]" for c in VALUE_SCHEMA_COLUMNS)
    # sorted here: a case-sensitive collation orders 'c' and 'C' its own way
    return sorted(target.query(f"SELECT {cols} FROM [{table}]"), key=lambda t: (t[0], t[1]))


def expected_values() -> list[tuple]:
    out = []
    for r in VALUE_ROWS:
        values = [r[c.name] for c in VALUE_SCHEMA_COLUMNS]
        out.append(tuple("trailing" if v == "trailing  " else v for v in values))  # bulk copy trims trailing blanks
    return sorted(out, key=lambda t: (t[0], t[1]))


# ================================================================================== tests
@pytest.mark.parametrize("sync_type", ["Daily", "Mass"])
def test_bulk_copy_stores_every_value_exactly(target, sync_type):
    """NULL vs '', unicode beyond the BMP, NVARCHAR(MAX), DECIMAL scale, DATE, DATETIME2 microseconds,
    BIGINT past 2^31, FLOAT; through staging + MERGE (Daily) and straight into the table (Mass)."""
    table = unique("Vals")
    LiveValuesFetcher.rows[table] = VALUE_ROWS
    cfg = config(table_entry(table, "LiveValuesFetcher"), batch_size=3)
    result = sync(cfg, table, sync_type)
    assert (result.rows, result.inserted, result.updated) == (4, 4, 0)
    assert read_values(target, table) == expected_values()
    # '' and NULL are different values in the table
    assert target.query(f"SELECT [Id] AS [id] FROM [{table}] WHERE [Name] = N'' ORDER BY [Id]") == [(2,)]
    assert target.query(f"SELECT [Id] AS [id] FROM [{table}] WHERE [Name] IS NULL ORDER BY [Id]") == [(3,)]


def test_case_sensitive_keys_merge_without_collation_conflict(target):
    """tempdb's collation differs from the database's: staging columns follow the database, so the
    MERGE compiles and 'c'/'C' are two keys here, as the target's primary key says."""
    table = unique("Items")
    MemoryFetcher.sources[table] = [item(1, site="m30"), item(1, site="M30"), item(2)]
    cfg = config(table_entry(table, "MemoryFetcher"))
    assert sync(cfg, table, "Daily").inserted == 3
    MemoryFetcher.sources[table] = [
        item(1, site="m30", name="newer", ts=datetime(2024, 3, 2)),
        item(1, site="m30", name="newest", ts=datetime(2024, 3, 3)),  # duplicate key in the batch
        item(2, name="older", ts=datetime(2024, 1, 1)),  # the guard keeps the newer target row
        item(3, name="new"),
    ]
    result = sync(cfg, table, "Daily")
    assert (result.rows, result.inserted, result.updated) == (4, 1, 1)
    rows = target.query(f"SELECT [Id], [Site], [Name] FROM [{table}] ORDER BY [Id], [Site]")
    assert sorted(rows) == sorted([(1, "M30", "n"), (1, "m30", "newest"), (2, "M30", "n"), (3, "M30", "new")])


def test_catalog_query_finds_only_disposable_indexes(target):
    table = unique("Idx")
    target.execute(f"CREATE TABLE [{table}] ([Id] BIGINT NOT NULL, [A] INT NULL, [B] INT NULL, [C] INT NULL, [D] INT NULL, "
                   f"CONSTRAINT [PK_{table}] PRIMARY KEY CLUSTERED ([Id]))")
    target.execute(f"CREATE NONCLUSTERED INDEX [IX_A] ON [{table}] ([A])")
    target.execute(f"CREATE UNIQUE NONCLUSTERED INDEX [UX_B] ON [{table}] ([B])")
    target.execute(f"ALTER TABLE [{table}] ADD CONSTRAINT [UQ_C] UNIQUE NONCLUSTERED ([C])")
    target.execute(f"CREATE NONCLUSTERED INDEX [IX_D] ON [{table}] ([D])")
    target.execute(f"ALTER INDEX [IX_D] ON [{table}] DISABLE")  # a DBA's: left alone
    assert target.fetch("mass", "disposable_indexes", {"table": f"[{table}]"}) == [("IX_A",)]


@pytest.mark.parametrize("reindex", [True, False])
def test_mass_reenables_indexes_and_keeps_the_primary_key(target, reindex):
    table = unique("Mass")
    MemoryFetcher.sources[table] = [item(i) for i in range(1, 12)]
    mass = {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": reindex}
    cfg = config(table_entry(table, "MemoryFetcher", MassConfig=mass))
    assert sync(cfg, table, "Mass").inserted == 11
    MemoryFetcher.sources[table] = [item(i, name="again") for i in range(5, 9)]
    assert sync(cfg, table, "Mass").inserted == 4
    assert target.query(f"SELECT [Id], [Name] FROM [{table}] ORDER BY [Id]") == [(i, "again") for i in range(5, 9)]
    indexes = target.query(
        "SELECT [name], [type_desc], [is_primary_key], [is_disabled] FROM [sys].[indexes] "
        "WHERE [object_id] = OBJECT_ID(%(t)s) AND [type] > 0 ORDER BY [index_id]",
        {"t": f"[{table}]"},
    )
    assert indexes == [(f"PK_{table}", "CLUSTERED", True, False), (f"IX_{table}_Name", "NONCLUSTERED", False, False)]


def test_readers_wait_during_mass_and_a_killed_session_leaves_the_old_contents(database):
    """Mid-load (TRUNCATE and one batch done, transaction open): a reader cannot see the emptied
    table (its lock request times out), KILL of the sync's session rolls everything back and frees
    the applock, and the next sync closes the orphaned ledger row."""
    table = unique("Kill")
    MemoryFetcher.sources[table] = [item(i, name="old") for i in range(1, 11)]
    cfg = config(table_entry(table, "MemoryFetcher"), batch_size=3)
    assert sync(cfg, table, "Mass").inserted == 10

    # the same table, now fed by the gate fetcher
    gcfg = config(table_entry(table, "GateFetcher"), batch_size=3)
    GateFetcher.rows = [item(i, name="new") for i in range(1, 8)]
    GateFetcher.reached.clear()
    GateFetcher.gate.clear()
    outcome: dict[str, Any] = {}
    sync_target = connect()
    outcome["spid"] = spid(sync_target)

    def run() -> None:
        try:
            run_sync(gcfg, SyncRequest(table, "Mass"), sync_target, NullReader)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        assert GateFetcher.reached.wait(WAIT_S), "the sync never reached its second batch"
        reader = admin(database)
        with reader.cursor() as cur:
            cur.execute("SET LOCK_TIMEOUT 1500")
            with pytest.raises(Exception) as waited:
                cur.execute(f"SELECT COUNT_BIG(*) AS [n] FROM [{table}]")
                cur.fetchall()
        assert "1222" in str(waited.value) or "Lock request time out" in str(waited.value)
        reader.close()
        kill(outcome["spid"])
    finally:
        GateFetcher.gate.set()
        worker.join(WAIT_S)
    assert "error" in outcome, "the killed sync must fail"
    sync_target.close()

    check = connect()
    try:
        assert check.query(f"SELECT [Id], [Name] FROM [{table}] ORDER BY [Id]") == [(i, "old") for i in range(1, 11)]
        rows = Ledger(check).recent(table)
        assert rows[0].update_type == "Mass" and rows[0].number_records == -2  # nobody closed it yet
    finally:
        check.close()
    MemoryFetcher.sources[table] = [item(i, name="after") for i in range(1, 4)]
    assert sync(cfg, table, "Mass").inserted == 3  # the applock died with the session
    check = connect()
    try:
        statuses = [(r.number_records, r.was_successful) for r in Ledger(check).recent(table)]
        assert statuses[:2] == [(3, True), (-1, False)]
        assert "interrupted" in Ledger(check).recent(table)[1].error_message
    finally:
        check.close()


def test_applock_excludes_other_sessions_and_dies_with_its_session(database):
    holder, other = connect(), connect()
    try:
        with holder.table_lock("Locked", 0):
            with pytest.raises(TableLockTimeout):
                with other.try_table_lock("Locked"):
                    pass
            started = time.monotonic()
            with pytest.raises(TableLockTimeout):
                with other.table_lock("LOCKED", 1.0):  # names compare like the server's identifiers
                    pass
            assert time.monotonic() - started >= 0.9
            kill(spid(holder))
            with other.table_lock("Locked", 5):
                pass
    finally:
        holder.close()
        other.close()


def test_ledger_round_trip_in_utc_with_microseconds(target):
    ledger = Ledger(target)
    ledger.ensure()
    ledger.ensure()  # idempotent
    table = unique("Ledger")
    minimum = datetime(2024, 2, 27, 1, 2, 3, 456789, tzinfo=timezone.utc)
    row_id = ledger.start(table, "Daily", "op1", "manual__x", minimum)
    assert ledger.running_types(table) == {"Daily"}
    assert table in ledger.in_progress_tables()
    ledger.finish(row_id, 10, 7, 3)
    (row,) = ledger.recent(table)
    assert (row.number_records, row.was_successful, row.rows_inserted, row.rows_updated) == (10, True, 7, 3)
    assert row.minimum_dt == minimum
    assert row.start_dt.tzinfo is not None and abs(row.start_dt - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert ledger.last_success(table) == {"Daily": row.start_dt}
    failed = ledger.start(table, "Hourly", "op2", None, None)
    assert ledger.fail(failed, "RuntimeError: it's broken") is True
    assert ledger.fail(failed, "again") is False
    orphan = ledger.start(table, "Mass", "op3", None, None)
    assert ledger.close_orphans(table) == 1
    assert [r.data_update_id for r in ledger.recent(table, limit=2)] == [orphan, failed]
    types = dict(target.query(
        "SELECT [c].[name], TYPE_NAME([c].[system_type_id]) AS [type] FROM [sys].[columns] AS [c] "
        "WHERE [c].[object_id] = OBJECT_ID(N'[DataUpdate]')"
    ))
    assert types["StartDT"] == "datetime2" and types["WasSuccessful"] == "bit" and types["DataUpdateID"] == "bigint"
    filtered = dict(target.query(
        "SELECT [name], [filter_definition] FROM [sys].[indexes] WHERE [object_id] = OBJECT_ID(N'[DataUpdate]') "
        "AND [has_filter] = 1"
    ))
    assert set(filtered) == {"IX_DataUpdate_LastSuccess", "IX_DataUpdate_InProgress"}


def test_staging_tables_are_gone_after_a_sync_on_the_same_session(target):
    table = unique("Tmp")
    MemoryFetcher.sources[table] = [item(1), item(2)]
    cfg = config(table_entry(table, "MemoryFetcher"))
    result = run_sync(cfg, SyncRequest(table, "Daily", operation_id="abc123"), target, NullReader)
    assert result.inserted == 2
    for name in (f"#Staging{table}_abc123", f"#{table}_abc123"):
        assert scalar(target.conn, "SELECT OBJECT_ID(%s) AS [id]", (f"tempdb..{name}",)) is None
