"""PostgreSQL dialect specifics on the real server at 127.0.0.1:5432: COPY round trips,
advisory locks, exact merge counts, DDL races, transient-error classification.

The scenario battery (tests/battery) runs the engine scenarios on every target;
this file pins what only the PostgreSQL dialect does.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest

from datasync.airflow.connections import HookConnector
from datasync.connections import DirectConnector
from datasync.core.errors import TableLockTimeout
from datasync.core.schema import Column, TableSchema
from datasync.core.identifiers import short_name
from datasync.targets.postgres import PostgresTarget, advisory_key

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

SCHEMA = TableSchema(
    name="RoundTrip",
    columns=(
        Column("Id", "int", nullable=False),
        Column("Text", "string", length=20),
        Column("Big", "string"),
        Column("Amount", "decimal", precision=18, scale=4),
        Column("Ratio", "float"),
        Column("Day", "date"),
        Column("LastUpdateDT", "datetime", nullable=False),
    ),
    primary_key=("Id",),
    indexes=(("Text",),),
)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database for this test, dropped afterwards."""
    name = f"datasync_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def target(pg_url: str) -> Iterator[PostgresTarget]:
    t = PostgresTarget.connect(pg_url, bulk_copy_batch_size=2)
    yield t
    t.close()


def batch(rows: list[dict]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=SCHEMA.arrow_schema())


def rec(i: int, text: str | None = "t", ts: str = "2024-03-01 10:00:00", **kw) -> dict:
    base = {
        "Id": i,
        "Text": text,
        "Big": None,
        "Amount": Decimal("1.2500"),
        "Ratio": 0.5,
        "Day": date(2024, 2, 29),
        "LastUpdateDT": datetime.fromisoformat(ts),
    }
    base.update(kw)
    return base


@pytest.mark.parametrize("form", ["binary", "csv"])
def test_copy_round_trips_null_empty_quotes_unicode_decimals(target: PostgresTarget, form: str):
    """Binary COPY into datasync's own table; CSV into one created with other types (an INTEGER key)."""
    if form == "binary":
        target.ensure_table(SCHEMA)
    else:
        target.execute(
            'CREATE TABLE "RoundTrip" ("Id" INTEGER PRIMARY KEY, "Text" VARCHAR(20), "Big" TEXT, '
            '"Amount" NUMERIC(18,4), "Ratio" DOUBLE PRECISION, "Day" DATE, "LastUpdateDT" TIMESTAMP NOT NULL)'
        )
    sent = []
    render = target.render
    target.render = lambda family, statement, **kw: sent.append(statement) or render(family, statement, **kw)
    tricky = [
        rec(1, text=None, Big=None, Amount=None, Ratio=None, Day=None),
        rec(2, text="", Big=""),
        rec(3, text='say "hi", ok', Big="line1\nline2\r\nline3\ttab\\back"),
        rec(4, text="Größe ½ 東京 🚀", Big="NULL"),
        rec(5, text="\\N", Big=",", Amount=Decimal("-12345678901234.5678"), Ratio=-1.5e-300),
        rec(6, text="  padded  ", Big='"', Amount=Decimal("0.0001"), Ratio=1e300),
        rec(7, Amount=Decimal("99999999999999.9999"), Day=date(1900, 1, 1), ts="2024-02-29 23:59:59.999999"),
        rec(8, Amount=Decimal("-0.0001"), Day=date(9999, 12, 31), ts="1970-01-01 00:00:00.000001"),
        rec(9, Amount=Decimal("0"), Ratio=float("inf"), ts="1899-12-31 12:00:00"),
        rec(10, Amount=Decimal("10000.0000"), Ratio=0.0, text="x" * 20),
    ]
    target.bulk_load(SCHEMA.name, SCHEMA, batch(tricky), temp=False)
    assert [s for s in sent if s.startswith("copy_")] == [f"copy_{form}"]
    got = target.query('SELECT * FROM "RoundTrip" ORDER BY "Id"')
    want = [tuple(r.values()) for r in tricky]
    assert got == want
    # NULL and the empty string stay distinct
    assert target.query('SELECT "Id" FROM "RoundTrip" WHERE "Text" IS NULL') == [(1,)]
    assert target.query("""SELECT "Id" FROM "RoundTrip" WHERE "Text" = '' """) == [(2,)]


def test_cache_tables_keep_room_on_each_page_for_hot_updates(target: PostgresTarget):
    target.ensure_table(SCHEMA)
    assert target.query("SELECT reloptions FROM pg_class WHERE relname = 'RoundTrip'") == [(["fillfactor=90"],)]


@pytest.mark.parametrize("given, kept", [(None, "90"), ("70", "70")])
def test_a_mass_gives_an_older_table_its_fill_factor_and_keeps_a_chosen_one(
    target: PostgresTarget, given: str | None, kept: str
):
    options = f" WITH (fillfactor = {given})" if given else ""
    target.execute(
        'CREATE TABLE "RoundTrip" ("Id" BIGINT PRIMARY KEY, "Text" VARCHAR(20), "Big" TEXT, "Amount" NUMERIC(18,4), '
        f'"Ratio" DOUBLE PRECISION, "Day" DATE, "LastUpdateDT" TIMESTAMP NOT NULL){options}'
    )
    with target.transaction():
        target.begin_mass(SCHEMA)
        target.bulk_load(SCHEMA.name, SCHEMA, batch([rec(1), rec(2)]), temp=False)
        target.end_mass(SCHEMA, reindex=True)
    assert target.query("SELECT reloptions FROM pg_class WHERE relname = 'RoundTrip'") == [([f"fillfactor={kept}"],)]
    assert target.query('SELECT COUNT(*) FROM "RoundTrip"') == [(2,)]


def test_staging_loads_binary_and_a_too_long_value_fails_either_way(target: PostgresTarget):
    target.ensure_table(SCHEMA)
    target.create_staging(SCHEMA, "Stage")
    target.bulk_load("Stage", SCHEMA, batch([rec(1, text="y" * 20), rec(2)]), temp=True)
    assert target.query('SELECT "Id", "Text" FROM pg_temp."Stage" ORDER BY "Id"') == [(1, "y" * 20), (2, "t")]
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        target.bulk_load("Stage", SCHEMA, batch([rec(3, text="z" * 21)]), temp=True)
    assert target.query('SELECT COUNT(*) FROM pg_temp."Stage"') == [(2,)]


def test_merge_counts_are_exact_and_guarded(target: PostgresTarget):
    target.ensure_table(SCHEMA)
    target.bulk_load(SCHEMA.name, SCHEMA, batch([rec(1), rec(2), rec(3)]), temp=False)
    staging, dedup = target.staging_names(SCHEMA.name, "op1")
    target.create_staging(SCHEMA, staging)
    target.bulk_load(
        staging,
        SCHEMA,
        batch(
            [
                rec(1, text="newer", ts="2024-03-02 00:00:00"),  # update
                rec(2, text="older", ts="2024-02-01 00:00:00"),  # guarded: unchanged
                rec(3, text="same", ts="2024-03-01 10:00:00"),  # equal LastUpdateDT: unchanged
                rec(4, text="first", ts="2024-03-05 00:00:00"),  # duplicate key: latest wins
                rec(4, text="latest", ts="2024-03-06 00:00:00"),
                rec(4, text="between", ts="2024-03-05 12:00:00"),
                rec(5, text="tie-a", ts="2024-03-07 00:00:00"),  # tie: the later-loaded row wins
                rec(5, text="tie-b", ts="2024-03-07 00:00:00"),
            ]
        ),
        temp=True,
    )
    with target.transaction():
        counts = target.merge(SCHEMA, staging, dedup)
    target.drop_staging([staging, dedup])
    assert (counts.inserted, counts.updated) == (2, 1)
    assert target.query('SELECT "Id", "Text" FROM "RoundTrip" ORDER BY "Id"') == [
        (1, "newer"),
        (2, "t"),
        (3, "t"),
        (4, "latest"),
        (5, "tie-b"),
    ]
    assert target.query("SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND relkind = 'r'") == [(0,)]


def test_names_keep_their_case(target: PostgresTarget):
    target.ensure_ledger()
    target.ensure_table(SCHEMA)
    tables = {r[0] for r in target.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"RoundTrip", "DataUpdate"} <= tables
    cols = [r[0] for r in target.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'DataUpdate' ORDER BY ordinal_position"
    )]
    assert cols[:3] == ["DataUpdateID", "TableName", "UpdateType"]
    assert target.query("SELECT indexname FROM pg_indexes WHERE tablename = 'RoundTrip' ORDER BY 1") == [
        ("IX_RoundTrip_Text",),
        ("PK_RoundTrip",),
    ]


def test_mass_drops_and_rebuilds_indexes_in_one_transaction(target: PostgresTarget):
    target.ensure_table(SCHEMA)
    target.bulk_load(SCHEMA.name, SCHEMA, batch([rec(1), rec(2)]), temp=False)
    with pytest.raises(RuntimeError, match="boom"), target.transaction():
        target.begin_mass(SCHEMA)
        assert target.query('SELECT count(*) FROM "RoundTrip"') == [(0,)]
        raise RuntimeError("boom")
    assert target.query('SELECT count(*) FROM "RoundTrip"') == [(2,)]
    assert len(target.query("SELECT 1 FROM pg_indexes WHERE tablename = 'RoundTrip'")) == 2
    with target.transaction():
        target.begin_mass(SCHEMA)
        target.bulk_load(SCHEMA.name, SCHEMA, batch([rec(7)]), temp=False)
        target.end_mass(SCHEMA, reindex=True)
    assert target.query('SELECT "Id" FROM "RoundTrip"') == [(7,)]
    assert len(target.query("SELECT 1 FROM pg_indexes WHERE tablename = 'RoundTrip'")) == 2


def test_advisory_lock_excludes_a_second_session_and_dies_with_the_first(pg_url: str):
    a = PostgresTarget.connect(pg_url)
    b = PostgresTarget.connect(pg_url)
    try:
        with a.table_lock("WorkOrder_Curr", 0):
            with pytest.raises(TableLockTimeout, match="WorkOrder_Curr"):
                with b.try_table_lock("WorkOrder_Curr"):
                    pass
            with pytest.raises(TableLockTimeout):
                with b.table_lock("workorder_curr", 0.2):  # names are case-insensitive, as in the config
                    pass
            with b.try_table_lock("ItemMaster"):  # other tables are independent
                pass
        with b.try_table_lock("WorkOrder_Curr"):
            pass
        # a waiting session gets the lock as soon as the holder's session ends (as when it is killed)
        a.query("SELECT pg_advisory_lock(%(k)s)", {"k": advisory_key("table", "WorkOrder_Curr")})
        got = threading.Event()

        def wait() -> None:
            with b.table_lock("WorkOrder_Curr", 60):
                got.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        assert not got.is_set()
        a.close()
        waiter.join(60)
        assert got.is_set()
        # the lock_timeout used while waiting is not left on the session
        assert b.query("SELECT current_setting('lock_timeout')") == [("0",)]
    finally:
        a.close()
        b.close()


def test_concurrent_ensure_on_a_fresh_database_does_not_race(pg_url: str):
    targets = [PostgresTarget.connect(pg_url) for _ in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def ensure(t: PostgresTarget) -> None:
        try:
            barrier.wait()
            t.ensure_ledger()
            t.ensure_table(SCHEMA)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ensure, args=(t,)) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in targets:
        t.close()
    assert errors == []


def test_lost_connection_is_transient_bad_sql_is_not(pg_url: str):
    t = PostgresTarget.connect(pg_url)
    other = PostgresTarget.connect(pg_url)
    try:
        with pytest.raises(psycopg.Error) as bad:
            t.query("SELECT no_such_column FROM pg_class")
        assert not t.is_transient(bad.value)
        pid = t.query("SELECT pg_backend_pid()")[0][0]
        other.query("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        with pytest.raises(psycopg.OperationalError) as lost:
            t.query("SELECT 1")
        assert t.is_transient(lost.value)
        assert not t.is_transient(ValueError("x"))
    finally:
        t.close()
        other.close()


def test_long_names_are_shortened_stably():
    assert short_name("x" * 63, 63) == "x" * 63
    long = "IX_" + "A" * 70
    assert len(short_name(long, 63)) == 63 and short_name(long, 63) == short_name(long, 63)
    assert short_name(long + "1", 63) != short_name(long + "2", 63)
    assert advisory_key("table", "Items") == advisory_key("table", "ITEMS") != advisory_key("table", "Other")


@pytest.mark.parametrize("connector", [HookConnector, DirectConnector], ids=["hook", "direct"])
def test_open_target_from_airflow_connection(pg_url: str, monkeypatch: pytest.MonkeyPatch, connector):
    dbname = pg_url.rsplit("=", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_PG_TEST", f"postgres://postgres@127.0.0.1:5432/{dbname}")
    t = connector().target("datasync_pg_test")
    try:
        assert isinstance(t, PostgresTarget)
        assert isinstance(t.conn, psycopg.Connection) and t.conn.autocommit
        assert t.query("SELECT current_database(), current_setting('TimeZone')") == [(dbname, "UTC")]
    finally:
        t.close()
