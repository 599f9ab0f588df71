"""The SQL Server and Oracle readers on their drivers' own outputs, without a server.

No SQL Server or Oracle runs here (their marker suites, tests/test_source_servers.py,
run the same fetchers against real servers). What a server would send is known: the
column types JDE uses there (tests/jde_servers.py) and what each driver makes of a
stored value (pymssql: Python objects per row; python-oracledb: Arrow arrays in data
frames, built here with ``oracledb.from_arrow``, the driver's own DataFrame type).

A replay stands where the DB-API connection would be: it records the SQL and the
parameters the reader sends and hands out those outputs in the driver's chunks. It
evaluates no SQL (so it is no stand-in for the database): the pushed-down filter is
not applied, the fetchers' exact filter in Arrow is, so every fetcher must deliver
exactly the rows the SQLite reader delivers from the same demo source, mass and
daily, through the real reader and fetcher code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import oracledb
import pyarrow as pa
import pymssql
import pytest
from jde_servers import column_decls, mssql_type, oracle_array, oracle_type, pymssql_value
from pymssql import _mssql
from source_fetch import FETCHERS, rows_of
from source_fetch import build as build_fetcher

from datasync_demo import generator as demo
from datasync.core.errors import SchemaDriftError, SourceDataError, TransientSyncError
from datasync.fetchers.base import Fetcher
from datasync.sources import SqliteSourceReader
from datasync.sources.mssql import MssqlSourceReader
from datasync.sources.oracle import OracleSourceReader

SINCE = datetime(2024, 6, 1)


# --------------------------------------------------------------------------- replays of the drivers


class PymssqlReplay:
    """A pymssql connection's client side: rows as pymssql hands them out, in fetchmany chunks."""

    def __init__(self, names: list[str], rows: list[tuple], error: Exception | None = None):
        self.names, self.rows, self.error = names, rows, error
        self.sent: list[str] = []  # each statement as pymssql sends it (its own parameter substitution)
        self.fetch_sizes: list[int] = []
        self.rollbacks = 0

    def cursor(self) -> PymssqlReplay:
        return self

    def execute(self, sql: str, params: Any = None) -> None:
        self.sent.append(sql if params is None else _mssql.substitute_params(sql, params, True, "utf-8").decode())
        if self.error is not None:
            raise self.error
        self.description = [(n, 1, None, None, None, None, None) for n in self.names]
        self._left = iter(self.rows)

    def fetchmany(self, size: int) -> list[tuple]:
        self.fetch_sizes.append(size)
        return [row for _, row in zip(range(size), self._left)]

    def close(self) -> None:
        pass

    def rollback(self) -> None:
        self.rollbacks += 1


class OracledbReplay:
    """A python-oracledb connection's data-frame fetches: one driver DataFrame per ``size`` rows."""

    def __init__(self, table: pa.Table, error: Exception | None = None):
        self.table, self.error = table, error
        self.calls: list[tuple[str, Any, int]] = []

    def fetch_df_batches(self, statement: str, parameters: Any = None, size: int | None = None) -> Iterator[Any]:
        self.calls.append((statement, parameters, size))
        if self.error is not None:
            raise self.error
        for start in range(0, self.table.num_rows, size or 100):
            yield oracledb.from_arrow(self.table.slice(start, size))

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- the demo source, three ways


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("servers") / "jde.db"
    demo.write_demo_source(path, 1500, seed=5)
    return path


def build(reader: Any, fetcher: str, schema: str | None = "PRODDTA", **settings: Any) -> Fetcher:
    return build_fetcher(reader, fetcher, 400, schema, **settings)


def source_table(fetcher: Fetcher) -> str:
    return getattr(fetcher, "physical_table", None) or fetcher.source_table  # type: ignore[attr-defined]


def demo_rows(path: Path, fetcher: Fetcher) -> tuple[list[str], list[tuple]]:
    names = fetcher.source_columns()  # type: ignore[attr-defined]
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f'SELECT {", ".join(chr(34) + n + chr(34) for n in names)} FROM "{source_table(fetcher)}"')
        return names, rows.fetchall()


@pytest.fixture(scope="module")
def sqlite_rows(demo_file: Path) -> dict[tuple[str, bool], list[dict[str, Any]]]:
    reader = SqliteSourceReader(str(demo_file))
    try:
        return {(f, daily): rows_of(build(reader, f, schema=None), SINCE if daily else None) for f in FETCHERS for daily in (False, True)}
    finally:
        reader.close()


def pymssql_rows(path: Path, fetcher: Fetcher) -> tuple[list[str], list[tuple]]:
    names, rows = demo_rows(path, fetcher)
    decls = column_decls(source_table(fetcher))
    types = [mssql_type(n, decls[n]) for n in names]
    return names, [tuple(pymssql_value(v, t) for v, t in zip(row, types)) for row in rows]


def oracle_frame(path: Path, fetcher: Fetcher, **options: Any) -> pa.Table:
    names, rows = demo_rows(path, fetcher)
    decls = column_decls(source_table(fetcher))
    columns = list(zip(*rows))
    return pa.table({n: oracle_array(list(c), oracle_type(n, decls[n]), **options) for n, c in zip(names, columns)})


# --------------------------------------------------------------------------- every fetcher, mass and daily


@pytest.mark.parametrize("daily", [False, True], ids=["mass", "daily"])
@pytest.mark.parametrize("fetcher", FETCHERS)
def test_pymssql_values_become_the_rows_the_sqlite_reader_delivers(
    demo_file: Path, sqlite_rows: dict, fetcher: str, daily: bool
) -> None:
    probe = build(None, fetcher)
    replay = PymssqlReplay(*pymssql_rows(demo_file, probe))
    got = rows_of(build(MssqlSourceReader(replay, chunk_rows=150), fetcher), SINCE if daily else None)
    expected = sqlite_rows[(fetcher, daily)]
    assert got and len(got) == len(expected)
    assert got == expected
    assert set(replay.fetch_sizes) == {150}  # chunks of chunk_rows, re-batched up to the batch size
    assert replay.rollbacks == 1  # the read's implicit transaction ends (an unread rest is cancelled)


@pytest.mark.parametrize("fetch_decimals", [False, True], ids=["double", "decimal"])
@pytest.mark.parametrize("daily", [False, True], ids=["mass", "daily"])
@pytest.mark.parametrize("fetcher", FETCHERS)
def test_oracledb_frames_become_the_rows_the_sqlite_reader_delivers(
    demo_file: Path, sqlite_rows: dict, fetcher: str, daily: bool, fetch_decimals: bool
) -> None:
    replay = OracledbReplay(oracle_frame(demo_file, build(None, fetcher), fetch_decimals=fetch_decimals))
    got = rows_of(build(OracleSourceReader(replay, chunk_rows=250), fetcher), SINCE if daily else None)
    expected = sqlite_rows[(fetcher, daily)]
    assert got and len(got) == len(expected)
    assert got == expected
    (sql, params, size), = replay.calls
    assert size == 250 and 'FROM "PRODDTA".' in sql
    if daily:  # bound by name, only the values the statement uses
        assert params == ({"minimum_dt": SINCE} if fetcher.startswith("Cms") else {"min_julian": 124153})
    else:
        assert params is None


def test_oracle_strings_arrive_as_string_or_large_string() -> None:
    table = pa.table(
        {
            "IMITM": oracle_array([60001], "NUMBER"),
            **{f"IM{a}": oracle_array(["X"], "NCHAR(30)", large_strings=False) for a in
               ("LITM", "AITM", "DSC1", "DSC2", "STKT", "LNTY", "UOM1", "GLPT", "LOTS", "SRCE", "MPST")},
            "IMUPMJ": oracle_array([124060], "NUMBER(6,0)"),
            "IMTDAY": oracle_array([93015], "NUMBER"),
        }
    )  # fmt: skip
    (row,) = rows_of(build(OracleSourceReader(OracledbReplay(table)), "JdeItemFetcher"))
    assert row["LITM"] == "X" and row["ITM"] == 60001 and row["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)


# --------------------------------------------------------------------------- NULLs, padding, FLOAT times


WORK_ORDER_TYPES = {n: mssql_type(n, d) for n, d in demo.F4801}


def work_order(**values: Any) -> dict[str, Any]:
    """One F4801 row as SQLite would hold it: JDE blanks (spaces, 0) where not given."""
    row = {n: (" " * int(d[6:-1]) if d.startswith("NCHAR") else 0) for n, d in demo.F4801}
    return {**row, **values}


NULL_ROWS = [
    work_order(WADOCO=1, WAMCU="M30".rjust(12), WADL01="  BRACKET", WATRDJ=124060, WAUPMJ=124060, WATDAY=93015.0,
               WAUORG=12345),
    work_order(WADOCO=2, WADL01=None, WATRDJ=None, WAUORG=None, WAUPMJ=None, WATDAY=None, WAMCU=None),
    work_order(WADOCO=3, WAUPMJ=124061, WATDAY=None),
]  # fmt: skip


def expect_null_rows(rows: list[dict[str, Any]]) -> None:
    by_key = {r["DOCO"]: r for r in rows}
    first = by_key[1]
    assert first["MCU"] == "M30" and first["DL01"] == "  BRACKET" and first["DCTO"] == ""  # NCHAR padding trimmed
    assert first["TRDJ"] == date(2024, 2, 29) and first["UORG"] == Decimal(12345)
    assert first["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)  # FLOAT-stored HHMMSS
    nulls = by_key[2]
    assert (nulls["DL01"], nulls["MCU"], nulls["TRDJ"], nulls["UORG"]) == (None, None, None, None)
    assert nulls["LastUpdateDT"] == datetime(1900, 1, 1)  # no audit date: still loaded
    assert by_key[3]["LastUpdateDT"] == datetime(2024, 3, 1)  # NULL time: midnight


def test_pymssql_nulls_padding_and_float_times() -> None:
    probe = build(None, "JdeWorkOrderFetcher")
    names = probe.source_columns()
    rows = [tuple(pymssql_value(r[n], WORK_ORDER_TYPES[n]) for n in names) for r in NULL_ROWS]
    assert isinstance(rows[0][names.index("WATRDJ")], Decimal) and isinstance(rows[0][names.index("WATDAY")], float)
    expect_null_rows(rows_of(build(MssqlSourceReader(PymssqlReplay(names, rows)), "JdeWorkOrderFetcher")))


@pytest.mark.parametrize("fetch_decimals", [False, True], ids=["double", "decimal"])
def test_oracledb_nulls_padding_and_number_with_and_without_scale(fetch_decimals: bool) -> None:
    probe = build(None, "JdeWorkOrderFetcher")
    names = probe.source_columns()
    decls = dict(demo.F4801)
    table = pa.table(
        {n: oracle_array([r[n] for r in NULL_ROWS], oracle_type(n, decls[n]), fetch_decimals=fetch_decimals) for n in names}
    )
    assert table.schema.field("WATRDJ").type == pa.int64()  # NUMBER(6,0)
    assert table.schema.field("WADOCO").type == pa.float64()  # NUMBER without precision
    expect_null_rows(rows_of(build(OracleSourceReader(OracledbReplay(table)), "JdeWorkOrderFetcher")))


def test_oracle_number_with_scale_for_cms_quantities() -> None:
    values = {
        "MisDataId": ([7], "NUMBER(10,0)"), "LotNumber": (["LT1"], "NVARCHAR2(30)"), "ItemNumber": ([""], "NVARCHAR2(25)"),
        "WorkOrder": ([1001], "NUMBER(10,0)"), "Step": ([None], "NUMBER(10,0)"), "Machine": (["MC-01"], "NVARCHAR2(30)"),
        "Quantity": ([12.34565], "NUMBER(18,4)"), "Scrap": ([None], "NUMBER(18,4)"),
        "EventTime": (["2024-02-29 09:00:00"], "DATE"), "LastModified": (["2024-02-29 09:30:15"], "DATE"),
    }  # fmt: skip
    for fetch_decimals in (False, True):
        table = pa.table({n: oracle_array(v, t, fetch_decimals=fetch_decimals) for n, (v, t) in values.items()})
        (row,) = rows_of(build(OracleSourceReader(OracledbReplay(table)), "CmsMisDataFetcher"))
        assert row["Quantity"] == Decimal("12.3457") and row["Scrap"] is None and row["Step"] is None
        assert row["ItemNumber"] is None  # Oracle stores '' as NULL
        assert row["EventTime"] == datetime(2024, 2, 29, 9) and row["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)


# --------------------------------------------------------------------------- bad values and driver errors


def test_fraction_in_an_integer_column_names_the_row() -> None:
    probe = build(None, "JdeWorkOrderFetcher")
    names = probe.source_columns()
    rows = [tuple(pymssql_value(r[n], WORK_ORDER_TYPES[n]) for n in names) for r in NULL_ROWS]
    bad = list(rows[2])
    bad[names.index("WATRDJ")] = Decimal("124060.5")  # a NUMERIC(18,1) Julian column
    rows[2] = tuple(bad)
    with pytest.raises(SourceDataError, match=r"F4801\.WATRDJ, row WADOCO=3.*124060\.5"):
        rows_of(build(MssqlSourceReader(PymssqlReplay(names, rows)), "JdeWorkOrderFetcher"))
    decls = dict(demo.F4801)
    table = pa.table({n: oracle_array([r[n] for r in NULL_ROWS], oracle_type(n, decls[n])) for n in names})
    table = table.set_column(names.index("WAITM"), "WAITM", pa.array([1.0, 2.5, 3.0]))
    with pytest.raises(SourceDataError, match=r"F4801\.WAITM, row WADOCO=2.*2\.5"):
        rows_of(build(OracleSourceReader(OracledbReplay(table)), "JdeWorkOrderFetcher"))


SQLSERVER_207 = (207, b"Invalid column name 'WAPARS'.DB-Lib error message 20018, severity 16:\nGeneral SQL Server error")
SQLSERVER_208 = (208, b"Invalid object name 'PRODDTA.F4801'.DB-Lib error message 20018, severity 16")
SQLSERVER_1205 = (1205, b"Transaction (Process ID 61) was deadlocked on lock resources with another process")


@pytest.mark.parametrize(
    "error, kind, text",
    [
        (pymssql.exceptions.ProgrammingError(SQLSERVER_207), SchemaDriftError, "has no column WAPARS"),
        (pymssql.exceptions.ProgrammingError(SQLSERVER_208), SchemaDriftError, "F4801 does not exist"),
        (pymssql.exceptions.OperationalError(SQLSERVER_1205), TransientSyncError, "deadlocked"),
        (pymssql.exceptions.OperationalError((20047, b"DBPROCESS is dead or not enabled")), TransientSyncError, "dead"),
    ],
    ids=["missing-column", "missing-table", "deadlock", "connection-lost"],
)
def test_pymssql_errors_are_drift_or_transient(error: Exception, kind: type, text: str) -> None:
    reader = MssqlSourceReader(PymssqlReplay([], [], error=error))
    with pytest.raises(kind, match=text):
        rows_of(build(reader, "JdeWorkOrderFetcher"))


@pytest.mark.parametrize(
    "message, kind, text",
    [
        ('ORA-00904: "WAPARS": invalid identifier', SchemaDriftError, "has no column WAPARS.*case-sensitive"),
        ("ORA-00942: table or view does not exist", SchemaDriftError, "F4801 does not exist.*PRODDTA"),
        ("ORA-03113: end-of-file on communication channel", TransientSyncError, "ORA-03113"),
        ("DPY-4011: the database or network closed the connection", TransientSyncError, "DPY-4011"),
    ],
)
def test_oracledb_errors_are_drift_or_transient(message: str, kind: type, text: str) -> None:
    reader = OracleSourceReader(OracledbReplay(pa.table({}), error=oracledb.DatabaseError(message)))
    with pytest.raises(kind, match=text):
        rows_of(build(reader, "JdeWorkOrderFetcher"))


# --------------------------------------------------------------------------- what is sent


def test_pymssql_gets_the_julian_bound_as_a_number_and_datetimes_as_iso_text(demo_file: Path) -> None:
    replay = PymssqlReplay(*pymssql_rows(demo_file, build(None, "JdeWorkOrderFetcher")))
    rows_of(build(MssqlSourceReader(replay), "JdeWorkOrderFetcher"), SINCE)
    assert replay.sent[-1].endswith("WHERE [WAUPMJ] >= 124153")
    cms = PymssqlReplay(*pymssql_rows(demo_file, build(None, "CmsMisDataFetcher")))
    rows_of(build(MssqlSourceReader(cms), "CmsMisDataFetcher"), datetime(2024, 6, 1, 9, 30, 15, 250_000))
    # whole seconds from the fetcher; ISO 8601 with T reads the same for DATETIME and DATETIME2, any DATEFORMAT
    assert cms.sent[-1].endswith("WHERE [LastModified] >= N'2024-06-01T09:30:15.000'")
    nolock = PymssqlReplay(*pymssql_rows(demo_file, build(None, "JdeItemFetcher")))
    rows_of(build(MssqlSourceReader(nolock), "JdeItemFetcher", ReadUncommitted=True))
    assert "FROM [PRODDTA].[F4101] WITH (NOLOCK)" in nolock.sent[-1]


# --------------------------------------------------------------------------- connections: hook path = direct path


class Opened:
    """What a driver's connect() was called with (no server is reached)."""

    def __init__(self, **kwargs: Any):
        self.kwargs, self.current_schema, self.closed = kwargs, None, False

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    "uri, current_schema",
    [
        ("oracle://reader:pw@jde-ora:1521/JDEPDB", None),  # the schema is the service name
        ('oracle://reader:pw@jde-ora:1521/PRODDTA?service_name=JDEPDB', "PRODDTA"),  # the schema is a schema
        ("oracle://reader:pw@jde-ora:1521/?sid=JDE", None),
    ],
    ids=["service-in-schema", "service-in-extra", "sid"],
)
def test_oracle_source_opens_alike_through_the_hook_and_directly(
    monkeypatch: pytest.MonkeyPatch, uri: str, current_schema: str | None
) -> None:
    from datasync.airflow.connections import HookConnector
    from datasync.connections import DirectConnector

    monkeypatch.setattr(oracledb, "connect", Opened)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", uri)
    hooked, direct = HookConnector().source("datasync_jde"), DirectConnector().source("datasync_jde")
    assert isinstance(hooked, OracleSourceReader) and isinstance(direct, OracleSourceReader)
    assert hooked.conn.kwargs == direct.conn.kwargs
    assert "JDEPDB" in hooked.conn.kwargs["dsn"] or "SID=JDE" in hooked.conn.kwargs["dsn"]
    assert hooked.conn.current_schema == direct.conn.current_schema == current_schema  # never the service name


def test_mssql_source_opens_alike_through_the_hook_and_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    from datasync.airflow.connections import HookConnector
    from datasync.connections import DirectConnector

    monkeypatch.setattr(pymssql, "connect", Opened)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", "mssql://reader:pw@jde-sql/JDE_PROD")
    hooked, direct = HookConnector().source("datasync_jde"), DirectConnector().source("datasync_jde")
    assert isinstance(hooked, MssqlSourceReader) and isinstance(direct, MssqlSourceReader)
    assert hooked.conn.kwargs == direct.conn.kwargs
    opened = hooked.conn.kwargs
    assert (opened["server"], opened["port"], opened["database"], opened["user"]) == ("jde-sql", "1433", "JDE_PROD", "reader")
    assert opened["tds_version"] == "7.4"  # DATE and DATETIME2 arrive as date/datetime
