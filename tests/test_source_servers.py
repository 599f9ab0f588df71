"""The fetchers against a real SQL Server and a real Oracle as JDE sources (markers ``mssql``, ``oracle``).

Skipped unless the server's URL is set (an Airflow connection URI):

- DATASYNC_TEST_MSSQL_URL, e.g. ``mssql://sa:DataSync2022pw@127.0.0.1:1433/master``: a login that
  may create databases (``docker compose up -d --wait mssql``);
- DATASYNC_TEST_ORACLE_URL, e.g. ``oracle://system:DataSync2022pw@127.0.0.1:1521/FREEPDB1``: a login
  that may create users (``docker compose --profile oracle up -d --wait oracle``).

Each server gets the demo source, the same file the SQLite reader reads, in JDE's own
column types there (tests/jde_servers.py: NCHAR, NUMERIC(18,0)/FLOAT on SQL Server,
NCHAR, NUMBER(6,0)/NUMBER on Oracle), in a database (SQL Server) or schema (Oracle)
created for the module and dropped afterwards. Then, per server:

- every fetcher, a mass and a daily fetch: the same rows as the SQLite reader's;
- every fetcher, a Mass and a Daily sync into a SQLite target through the CLI's
  connections, and one through the Airflow hooks: the same target rows as the same
  syncs from the SQLite file;
- the pushed-down Julian filter makes the server return fewer rows (SQL Server: NOLOCK too);
- a dropped column is schema drift, a missing schema names itself;
- reading a table 200 times the demo's size keeps the process's memory flat.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from conftest import table_entry
from jde_servers import mssql_type, oracle_type, stored
from source_fetch import FETCHERS, rows_of
from source_fetch import build as build_fetcher

from datasync_demo import generator as demo
from datasync.connections.info import parse_uri
from datasync.core.errors import SchemaDriftError
from datasync.core.reading import SourceQuery
from datasync.engine.configuration import parse_config
from datasync.engine.service import sync_table
from datasync.engine.sync import SyncRequest
from datasync.fetchers.base import Fetcher
from datasync.sources import SqliteSourceReader
from datasync.sources.mssql import server_value

ROWS = 2000
SINCE = datetime(2023, 1, 1)  # every fetcher has rows changed since (the demo: 5 of 40 items)
BIG_TIMES = 200
MSSQL_URL, ORACLE_URL = "DATASYNC_TEST_MSSQL_URL", "DATASYNC_TEST_ORACLE_URL"


# --------------------------------------------------------------------------- the servers


class MssqlSource:
    """A database of its own on the SQL Server at DATASYNC_TEST_MSSQL_URL, schema PRODDTA."""

    name = "mssql"
    schema = "PRODDTA"
    big_schema = "BIGDTA"

    def __init__(self, url: str):
        self.admin = parse_uri("admin", url)
        self.database = f"ds_src_{uuid.uuid4().hex[:10]}"
        with self.connect(None) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE [{self.database}]")
        self.conn = self.connect(self.database)
        for schema in (self.schema, self.big_schema):
            self.execute(f"CREATE SCHEMA [{schema}]")

    def connect(self, database: str | None) -> Any:
        import pymssql

        a = self.admin
        return pymssql.connect(
            server=a.host, port=str(a.port or 1433), user=a.login, password=a.password,
            database=database or "master", autocommit=True, login_timeout=30,
        )  # fmt: skip

    @property
    def uri(self) -> str:
        a = self.admin
        login = f"{quote(a.login or '', safe='')}:{quote(a.password or '', safe='')}"
        return f"mssql://{login}@{a.host}:{a.port or 1433}/{self.database}"

    def execute(self, sql: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params) if params is not None else cur.execute(sql)

    def count(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return int(cur.fetchone()[0])

    def create(self, table: str) -> None:
        ddl = ", ".join(f"[{n}] {mssql_type(n, d)}" for n, d in demo.TABLES[table])
        self.execute(f"CREATE TABLE [{self.schema}].[{table}] ({ddl})")

    def load(self, table: str, rows: list[tuple]) -> None:
        columns = demo.TABLES[table]
        types = [mssql_type(n, d) for n, d in columns]
        names = ", ".join(f"[{n}]" for n, _ in columns)
        values = [tuple(server_value(stored(v, t)) for v, t in zip(row, types)) for row in rows]
        with self.conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO [{self.schema}].[{table}] ({names}) VALUES ({', '.join('%s' for _ in columns)})",
                values,
                batch_size=500,
            )

    def multiply(self, table: str, times: int) -> None:
        self.execute(
            f"SELECT t.* INTO [{self.big_schema}].[{table}] FROM [{self.schema}].[{table}] t "
            f"CROSS JOIN (SELECT TOP ({int(times)}) 1 AS k FROM sys.all_objects) m"
        )

    def drop_column(self, schema: str, table: str, column: str) -> None:
        self.execute(f"ALTER TABLE [{schema}].[{table}] DROP COLUMN [{column}]")

    def close(self) -> None:
        self.conn.close()
        with self.connect(None) as conn, conn.cursor() as cur:
            cur.execute(f"ALTER DATABASE [{self.database}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
            cur.execute(f"DROP DATABASE [{self.database}]")


class OracleSource:
    """Schemas (users) of their own on the Oracle at DATASYNC_TEST_ORACLE_URL."""

    name = "oracle"

    def __init__(self, url: str):
        import oracledb

        from datasync.connections.drivers import oracle_kwargs

        self.admin = parse_uri("admin", url)
        self.conn = oracledb.connect(**oracle_kwargs(self.admin))
        suffix = uuid.uuid4().hex[:8].upper()
        self.schema, self.big_schema = f"DS_SRC_{suffix}", f"DS_BIG_{suffix}"
        for user in (self.schema, self.big_schema):
            password = "P" + uuid.uuid4().hex[:20]
            self.execute(
                f'CREATE USER "{user}" IDENTIFIED BY "{password}" DEFAULT TABLESPACE USERS QUOTA UNLIMITED ON USERS'
            )

    @property
    def uri(self) -> str:
        a = self.admin
        login = f"{quote(a.login or '', safe='')}:{quote(a.password or '', safe='')}"
        extra = f"?{'&'.join(f'{k}={quote(str(v))}' for k, v in a.extra.items())}" if a.extra else ""
        return f"oracle://{login}@{a.host}:{a.port or 1521}/{a.schema or ''}{extra}"

    def execute(self, sql: str, params: Any = None) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql, params or {})

    def count(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return int(cur.fetchone()[0])

    def create(self, table: str) -> None:
        ddl = ", ".join(f'"{n}" {oracle_type(n, d)}' for n, d in demo.TABLES[table])
        self.execute(f'CREATE TABLE "{self.schema}"."{table}" ({ddl})')

    def load(self, table: str, rows: list[tuple]) -> None:
        import oracledb

        columns = demo.TABLES[table]
        types = [oracle_type(n, d) for n, d in columns]
        names = ", ".join(f'"{n}"' for n, _ in columns)
        with self.conn.cursor() as cur:
            # bind types from the columns, not from the first row (a NULL there says nothing)
            cur.setinputsizes(*(bind_type(t, oracledb) for t in types))
            cur.executemany(
                f'INSERT INTO "{self.schema}"."{table}" ({names}) VALUES ({", ".join(f":v{i}" for i in range(len(columns)))})',
                [tuple(stored(v, t) for v, t in zip(row, types)) for row in rows],
            )
        self.conn.commit()

    def multiply(self, table: str, times: int) -> None:
        self.execute(
            f'CREATE TABLE "{self.big_schema}"."{table}" AS SELECT t.* FROM "{self.schema}"."{table}" t '
            f"CROSS JOIN (SELECT LEVEL AS k FROM dual CONNECT BY LEVEL <= {int(times)}) m"
        )

    def drop_column(self, schema: str, table: str, column: str) -> None:
        self.execute(f'ALTER TABLE "{schema}"."{table}" DROP COLUMN "{column}"')

    def close(self) -> None:
        for user in (self.schema, self.big_schema):
            self.execute(f'DROP USER "{user}" CASCADE')
        self.conn.close()


def bind_type(sql_type: str, oracledb: Any) -> Any:
    """An Oracle bind for a column: strings by their width, else the column's type."""
    if sql_type.startswith(("NCHAR", "NVARCHAR2")):
        return int(sql_type.split("(")[1].rstrip(")"))
    return oracledb.DB_TYPE_DATE if sql_type == "DATE" else oracledb.DB_TYPE_NUMBER


SERVERS = [
    pytest.param(
        (MssqlSource, MSSQL_URL),
        id="mssql",
        marks=[
            pytest.mark.mssql,
            pytest.mark.skipif(
                not os.environ.get(MSSQL_URL),
                reason=f"no SQL Server: set {MSSQL_URL} (docker compose up -d --wait mssql; see docs/sources.md)",
            ),
        ],
    ),
    pytest.param(
        (OracleSource, ORACLE_URL),
        id="oracle",
        marks=[
            pytest.mark.oracle,
            pytest.mark.skipif(
                not os.environ.get(ORACLE_URL),
                reason=f"no Oracle: set {ORACLE_URL} (docker compose --profile oracle up -d --wait oracle; "
                "see docs/sources.md)",
            ),
        ],
    ),
]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("source_servers") / "jde.db"
    demo.write_demo_source(path, ROWS, seed=17)
    return path


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest, demo_file: Path) -> Iterator[Any]:
    cls, env = request.param
    source = cls(os.environ[env])
    try:
        with sqlite3.connect(demo_file) as conn:
            for table, columns in demo.TABLES.items():
                source.create(table)
                names = ", ".join(f'"{n}"' for n, _ in columns)
                source.load(table, conn.execute(f'SELECT {names} FROM "{table}"').fetchall())
        source.multiply("F4111", BIG_TIMES)  # the memory test's table
        source.multiply("F4101", 1)  # the drift test's table
        yield source
    finally:
        source.close()


def config(fetcher: str, schema: str | None, batch_size: int = 700, **system: Any) -> Any:
    systems = {
        name: {"ConnId": f"datasync_{name.lower()}", **({"Schema": schema} if schema else {}), **system}
        for name in ("JDE", "CMS")
    }
    entry = table_entry("T", fetcher, SourceSystem="CMS" if fetcher.startswith("Cms") else "JDE")
    return parse_config({"BatchSize": batch_size, "SourceSystems": systems, "DataSources": [entry]})


def build(reader: Any, fetcher: str, schema: str | None, **settings: Any) -> Fetcher:
    return build_fetcher(reader, fetcher, 700, schema, **settings)


@pytest.fixture(scope="module")
def sqlite_rows(demo_file: Path) -> dict[tuple[str, bool], list[dict[str, Any]]]:
    reader = SqliteSourceReader(str(demo_file))
    try:
        return {(f, d): rows_of(build(reader, f, None), SINCE if d else None) for f in FETCHERS for d in (False, True)}
    finally:
        reader.close()


def open_reader(server: Any) -> Any:
    from datasync.connections import DirectConnector

    return DirectConnector(environ={"AIRFLOW_CONN_DATASYNC_JDE": server.uri}).source("datasync_jde")


# --------------------------------------------------------------------------- fetches


@pytest.mark.parametrize("daily", [False, True], ids=["mass", "daily"])
@pytest.mark.parametrize("fetcher", list(FETCHERS))
def test_every_fetcher_reads_what_the_sqlite_reader_reads(server: Any, sqlite_rows: dict, fetcher: str, daily: bool) -> None:
    with open_reader(server) as reader:
        assert reader.dialect == server.name
        got = rows_of(build(reader, fetcher, server.schema), SINCE if daily else None)
    expected = sqlite_rows[(fetcher, daily)]
    assert got and len(got) == len(expected)
    assert got == expected


def test_the_julian_filter_is_pushed_down(server: Any) -> None:
    from datasync.fetchers.jde.rules import date_to_julian

    total = server.count(f'SELECT COUNT(*) FROM {q(server, server.schema)}.{q(server, "F4801")}')
    since = server.count(
        f'SELECT COUNT(*) FROM {q(server, server.schema)}.{q(server, "F4801")} '
        f'WHERE {q(server, "WAUPMJ")} >= {date_to_julian(SINCE)}'
    )
    with open_reader(server) as reader:
        fetcher = build(reader, "JdeWorkOrderFetcher", server.schema)
        query = SourceQuery(fetcher.sql(True), {"min_julian": date_to_julian(SINCE)}, 500, fetcher.raw_schema(), "F4801")
        raw = sum(b.num_rows for b in reader.read(query))
    assert 0 < raw == since < total


def test_read_uncommitted_reads_the_same_rows(server: Any, sqlite_rows: dict) -> None:
    if server.name != "mssql":
        pytest.skip("ReadUncommitted is a SQL Server option")
    with open_reader(server) as reader:
        fetcher = build(reader, "JdeLotUsageFetcher", server.schema, ReadUncommitted=True)
        assert "WITH (NOLOCK)" in fetcher.sql(False)
        assert rows_of(fetcher) == sqlite_rows[("JdeLotUsageFetcher", False)]


def q(server: Any, name: str) -> str:
    return f"[{name}]" if server.name == "mssql" else f'"{name}"'


def test_dropped_column_is_schema_drift_and_the_reader_stays_usable(server: Any, sqlite_rows: dict) -> None:
    server.drop_column(server.big_schema, "F4101", "IMMPST")  # a copy of F4101: the other tests keep theirs
    with open_reader(server) as reader:
        with pytest.raises(SchemaDriftError, match="IMMPST"):
            rows_of(build(reader, "JdeItemFetcher", server.big_schema))
        assert rows_of(build(reader, "JdeItemFetcher", server.schema)) == sqlite_rows[("JdeItemFetcher", False)]


def test_a_wrong_schema_names_the_table(server: Any) -> None:
    with open_reader(server) as reader, pytest.raises(SchemaDriftError, match="F4801"):
        rows_of(build(reader, "JdeWorkOrderFetcher", "NO_SUCH_SCHEMA"))


def test_memory_stays_flat_over_a_large_table(server: Any) -> None:
    psutil = pytest.importorskip("psutil")
    process = psutil.Process()
    with open_reader(server) as reader:
        fetcher = build(reader, "JdeLotUsageFetcher", server.big_schema)
        sql, schema = fetcher.sql(False), fetcher.raw_schema()
        batches = reader.read(SourceQuery(sql, {}, 10_000, schema, "F4111"))
        first = next(batches)
        baseline = process.memory_info().rss
        peak, rows, total_bytes = baseline, first.num_rows, first.nbytes
        for batch in batches:
            rows += batch.num_rows
            total_bytes += batch.nbytes
            peak = max(peak, process.memory_info().rss)
    growth = peak - baseline
    print(f"{server.name}: {rows} rows, {total_bytes / 2**20:.0f} MiB of Arrow batches, RSS growth {growth / 2**20:.1f} MiB")
    assert rows == server.count(f"SELECT COUNT(*) FROM ({sql}) x") > 100_000
    assert growth < total_bytes / 4, "the reader holds the result instead of streaming it"


# --------------------------------------------------------------------------- syncs into a SQLite target


def target_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY 1, 2, 3').fetchall()


def sync_into(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, name: str, fetcher: str, source_uri: str, schema: str | None,
    connector: Any = None,
) -> list[Any]:
    """A Mass, then (target emptied) a Daily since SINCE, into a fresh SQLite target: counts and rows after each."""
    target = tmp / f"{name}.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{target}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", source_uri)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_CMS", source_uri)
    cfg = config(fetcher, schema)
    mass = sync_table(cfg, SyncRequest("T", "Mass"), connector=connector)
    after_mass = target_rows(target, "T")
    with sqlite3.connect(target) as conn:
        conn.execute('DELETE FROM "T"')
    daily = sync_table(cfg, SyncRequest("T", "Daily", minimum_dt=SINCE), connector=connector)
    return [mass.rows, after_mass, daily.rows, target_rows(target, "T")]


@pytest.mark.parametrize("fetcher", list(FETCHERS))
def test_mass_and_daily_syncs_equal_the_sqlite_run(
    server: Any, demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fetcher: str
) -> None:
    expected = sync_into(monkeypatch, tmp_path, "from_sqlite", fetcher, f"sqlite:///{demo_file}", None)
    got = sync_into(monkeypatch, tmp_path, "from_server", fetcher, server.uri, server.schema)
    assert expected[0] > 0 and expected[2] > 0
    assert got == expected


def test_the_airflow_hook_path_syncs_the_same(
    server: Any, demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasync.airflow.connections import HookConnector

    fetcher = "JdeLotUsageFetcher"
    expected = sync_into(monkeypatch, tmp_path, "from_sqlite", fetcher, f"sqlite:///{demo_file}", None)
    got = sync_into(monkeypatch, tmp_path, "via_hook", fetcher, server.uri, server.schema, connector=HookConnector())
    assert got == expected
