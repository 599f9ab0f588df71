"""ODBC sources through real unixODBC drivers (.ci/run installs odbc-postgresql and libsqliteodbc).

The demo JDE/CMS source is read twice: directly (SqliteSourceReader on the
demo file) and through ODBC, once with the PostgreSQL driver on a copy of the
demo loaded into the local PostgreSQL (JDE-like CHAR/NUMERIC/FLOAT columns in
a ``proddta`` schema) and once with the SQLite driver on the demo file itself.
Every fetcher must deliver the same rows both ways.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import table_entry
from source_fetch import rows_of

from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config
from datasync.core.errors import ConfigError, SchemaDriftError, SourceDataError
from datasync.core.reading import SourceQuery
from datasync.fetchers.base import Fetcher
from datasync.fetchers.registry import fetcher_class
from datasync.sources import SqliteSourceReader

arrow_odbc = pytest.importorskip("arrow_odbc")

from datasync.sources.odbc import OdbcSourceReader, conform, positional  # noqa: E402

PG_DRIVER = "PostgreSQL Unicode"
SQLITE_DRIVER = "SQLite3"
ROWS = 3000
FETCHERS = ["JdeWorkOrderFetcher", "JdeLotUsageFetcher", "JdeItemFetcher", "JdeLotMasterFetcher", "CmsMisDataFetcher"]


def installed_drivers() -> set[str]:
    if not shutil.which("odbcinst"):
        return set()
    out = subprocess.run(["odbcinst", "-q", "-d"], capture_output=True, text=True, check=False).stdout
    return {line.strip().strip("[]") for line in out.splitlines() if line.strip()}


def need_driver(name: str) -> None:
    if name not in installed_drivers():
        pytest.skip(f"ODBC driver {name!r} is not installed (.ci/run installs it)")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("odbc") / "jde.db"
    demo.write_demo_source(path, ROWS, seed=11)
    return path


def _pg_type(decl: str) -> str:
    """The demo's SQLite declarations as JDE-on-a-server types."""
    if decl.startswith("NCHAR("):
        return "CHAR" + decl[5:]
    if decl.startswith("VARCHAR("):
        return decl
    return {
        "NUMERIC": "NUMERIC",
        "FLOAT": "DOUBLE PRECISION",
        "REAL": "DOUBLE PRECISION",
        "": "DOUBLE PRECISION",
        "INTEGER": "BIGINT",
        "INTEGER PRIMARY KEY": "BIGINT PRIMARY KEY",
        "DATETIME": "TIMESTAMP",
    }[decl]


@pytest.fixture(scope="module")
def pg_copy(demo_file: Path) -> Iterator[dict[str, Any]]:
    """The demo source loaded into a fresh PostgreSQL database, schema proddta."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"datasync_odbc_{os.getpid()}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        src = sqlite3.connect(demo_file)
        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=name, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA proddta")
            for table, columns in demo.TABLES.items():
                ddl = ", ".join(f'"{n}" {_pg_type(t)}' for n, t in columns)
                conn.execute(f'CREATE TABLE proddta."{table}" ({ddl})')
                names = ", ".join(f'"{n}"' for n, _ in columns)
                with conn.cursor() as cur, cur.copy(f'COPY proddta."{table}" ({names}) FROM STDIN') as copy:
                    for row in src.execute(f'SELECT {names} FROM "{table}"'):
                        copy.write_row(row)
        src.close()
        yield {"host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": name}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def pg_connection_string(pg: dict[str, Any]) -> str:
    return f"Driver={{{PG_DRIVER}}};Server={pg['host']};Port={pg['port']};Database={pg['schema']};"


def build(reader: Any, fetcher: str, batch_size: int = 1000, schema_name: str | None = None) -> Fetcher:
    system = "CMS" if fetcher.startswith("Cms") else "JDE"
    raw: dict[str, Any] = {"DataSources": [table_entry("T", fetcher, SourceSystem=system)]}
    if schema_name:
        raw["SourceSystems"] = {system: {"ConnId": f"datasync_{system.lower()}", "Schema": schema_name}}
    cfg = parse_config(raw)
    return fetcher_class(fetcher)(cfg.data_sources[0], cfg.source_system(system), reader, batch_size)


@pytest.fixture(scope="module")
def direct_rows(demo_file: Path) -> dict[tuple[str, bool], list[dict[str, Any]]]:
    """What the direct reader delivers per fetcher, full and since 2024-06-01."""
    reader = SqliteSourceReader(str(demo_file))
    try:
        return {
            (name, incremental): rows_of(build(reader, name), datetime(2024, 6, 1) if incremental else None)
            for name in FETCHERS
            for incremental in (False, True)
        }
    finally:
        reader.close()


# --------------------------------------------------------------------------- the same rows as the direct reader


@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
@pytest.mark.parametrize("fetcher", FETCHERS)
def test_postgres_odbc_driver_reads_what_the_direct_reader_reads(
    pg_copy: dict[str, Any], direct_rows: dict, fetcher: str, incremental: bool
) -> None:
    need_driver(PG_DRIVER)
    with OdbcSourceReader(pg_connection_string(pg_copy), user="postgres", chunk_rows=700) as reader:
        f = build(reader, fetcher, batch_size=500, schema_name="proddta")
        got = rows_of(f, datetime(2024, 6, 1) if incremental else None)
    expected = direct_rows[(fetcher, incremental)]
    assert got and len(got) == len(expected)
    assert got == expected


@pytest.mark.parametrize("fetcher", FETCHERS)
def test_sqlite_odbc_driver_reads_what_the_direct_reader_reads(
    demo_file: Path, direct_rows: dict, fetcher: str
) -> None:
    need_driver(SQLITE_DRIVER)
    with OdbcSourceReader(f"Driver={{{SQLITE_DRIVER}}};Database={demo_file};") as reader:
        got = rows_of(build(reader, fetcher))
    assert got == direct_rows[(fetcher, False)]


@pytest.mark.parametrize("fetcher", FETCHERS)
def test_the_streaming_connection_strings_read_what_the_direct_reader_reads(
    pg_copy: dict[str, Any], demo_file: Path, direct_rows: dict, fetcher: str
) -> None:
    """What the ODBC source builds by default: psqlodbc through a cursor (UseDeclareFetch), the SQLite
    driver stepping (StepAPI, which types the demo's untyped audit time as text: cast, then parsed)."""
    from datasync.connections import ConnectionInfo
    from datasync.connections.drivers import odbc_connection_string

    need_driver(PG_DRIVER)
    need_driver(SQLITE_DRIVER)
    sqlite_info = ConnectionInfo("jde", "odbc", schema=str(demo_file), extra={"driver": SQLITE_DRIVER})
    text, _, _ = odbc_connection_string(sqlite_info, driver_in_extra=True)
    assert text.endswith(";StepAPI=1;")
    with OdbcSourceReader(text) as reader:
        assert rows_of(build(reader, fetcher)) == direct_rows[(fetcher, False)]
    pg_info = ConnectionInfo("jde", "odbc", host=pg_copy["host"], port=pg_copy["port"], schema=pg_copy["schema"])
    text, _, _ = odbc_connection_string(pg_info, driver=PG_DRIVER)
    assert text.endswith(";UseDeclareFetch=1;Fetch=16384;")
    with OdbcSourceReader(text, user="postgres", chunk_rows=700) as reader:
        assert rows_of(build(reader, fetcher, schema_name="proddta")) == direct_rows[(fetcher, False)]


def test_streaming_options_the_extra_sets_are_kept() -> None:
    from datasync.connections import ConnectionInfo
    from datasync.connections.drivers import odbc_connection_string

    info = ConnectionInfo("jde", "odbc", host="h", extra={"usedeclarefetch": "0", "Fetch": "100"})
    text, _, _ = odbc_connection_string(info, driver="PostgreSQL Unicode")
    assert "usedeclarefetch=0;" in text and "Fetch=100;" in text and "UseDeclareFetch=1" not in text
    assert odbc_connection_string(info, driver="ODBC Driver 18 for SQL Server")[0] == (
        "DRIVER={ODBC Driver 18 for SQL Server};SERVER=h;usedeclarefetch=0;Fetch=100;"
    )


# --------------------------------------------------------------------------- from an Airflow connection, into a sync


def test_open_source_picks_the_odbc_reader_and_a_sync_runs_through_it(
    pg_copy: dict[str, Any], demo_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_driver(PG_DRIVER)
    from datasync.engine.service import sync_table
    from datasync.connections import DirectConnector
    from datasync.engine.sync import SyncRequest

    conn = {
        "conn_type": "odbc",
        "host": pg_copy["host"],
        "port": pg_copy["port"],
        "login": "postgres",
        "schema": pg_copy["schema"],
        "extra": {"driver": PG_DRIVER},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", json.dumps(conn))
    monkeypatch.setenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", "True")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{tmp_path / 'cache.db'}")
    reader = DirectConnector().source("datasync_jde")
    try:
        assert isinstance(reader, OdbcSourceReader)
        assert f"DRIVER={{{PG_DRIVER}}}" in reader.connection_string
        assert "PWD" not in reader.connection_string
    finally:
        reader.close()
    cfg = parse_config(
        {
            "SourceSystems": {"JDE": {"ConnId": "datasync_jde", "Schema": "proddta"}},
            "DataSources": [table_entry("LotUsage_Curr", "JdeLotUsageFetcher")],
        }
    )
    result = sync_table(cfg, SyncRequest("LotUsage_Curr", "Mass"))
    direct = SqliteSourceReader(str(demo_file))
    try:
        expected = len(rows_of(build(direct, "JdeLotUsageFetcher")))
    finally:
        direct.close()
    assert result.rows == expected
    with sqlite3.connect(tmp_path / "cache.db") as target:
        assert target.execute('SELECT COUNT(*) FROM "LotUsage_Curr"').fetchone()[0] == expected


def test_a_connection_without_driver_or_dsn_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from datasync.connections import ConnectionInfo
    from datasync.connections.drivers import odbc_connection_string

    monkeypatch.delenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", raising=False)
    info = ConnectionInfo("datasync_jde", "odbc", host="jde.example", schema="JDE_PROD", extra={"driver": "X"})
    with pytest.raises(ConfigError, match="neither a driver nor a DSN"):
        odbc_connection_string(info)  # a driver in the extra counts only where Airflow allows it
    text, _, _ = odbc_connection_string(info, driver="ODBC Driver 18 for SQL Server")
    assert text.startswith("DRIVER={ODBC Driver 18 for SQL Server};SERVER=jde.example;DATABASE=JDE_PROD;")
    monkeypatch.setenv("AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA", "True")
    assert odbc_connection_string(info)[0].startswith("DRIVER={X};SERVER=jde.example;")


def test_credentials_are_passed_apart_from_the_connection_string() -> None:
    from datasync.connections import ConnectionInfo
    from datasync.connections.drivers import odbc_connection_string
    from datasync.connections.info import parse_json

    conn = {"conn_type": "odbc", "host": "h", "login": "reader", "password": "p;w}d", "extra": {"dsn": "JDE"}}
    text, user, password = odbc_connection_string(parse_json("jde", json.dumps(conn)))
    assert text == "DSN=JDE;SERVER=h;" and (user, password) == ("reader", "p;w}d")
    assert isinstance(parse_json("jde", json.dumps(conn)), ConnectionInfo)


# --------------------------------------------------------------------------- errors and placeholders


def test_missing_column_and_table_are_schema_drift(pg_copy: dict[str, Any]) -> None:
    need_driver(PG_DRIVER)
    with OdbcSourceReader(pg_connection_string(pg_copy), user="postgres") as reader:
        with pytest.raises(SchemaDriftError, match="NOPE"):
            list(reader.read(SourceQuery('SELECT "NOPE" FROM proddta."F4801"', {}, 10, table="F4801")))
        with pytest.raises(SchemaDriftError, match="F9999"):
            list(reader.read(SourceQuery('SELECT 1 FROM proddta."F9999"', {}, 10, table="F9999")))
        # the connection is still usable after an error
        assert sum(b.num_rows for b in reader.read(SourceQuery('SELECT "WADOCO" FROM proddta."F4801"', {}, 1000))) == ROWS


def test_fraction_in_an_integer_column_names_the_row() -> None:
    batch = pa.record_batch({"WADOCO": pa.array([1.0, 2.0, 3.0]), "WAITM": pa.array([5.0, 2.5, 1.0])})
    schema = pa.schema([("WADOCO", pa.int64()), ("WAITM", pa.int64())])
    with pytest.raises(SourceDataError, match=r"F4801\.WAITM, row WADOCO=2.*2\.5"):
        conform(batch, ["WADOCO", "WAITM"], SourceQuery("", schema=schema, table="F4801", key_columns=("WADOCO",)))


def test_column_names_match_case_insensitively_and_missing_ones_are_drift() -> None:
    from datasync.sources.base import names_as_in

    schema = pa.schema([("WADOCO", pa.int64())])
    assert names_as_in(["wadoco", "watday"], schema) == ["WADOCO", "watday"]
    with pytest.raises(SchemaDriftError, match="WADOCO"):
        conform(pa.record_batch({"x": [1]}), ["x"], SourceQuery("", schema=schema, table="F4801"))


def test_named_placeholders_become_positional() -> None:
    sql = "SELECT a::int, ':not_me' FROM t WHERE d >= :min_julian AND x = 'it''s :no' AND t >= :since"
    text, values = positional(sql, {"min_julian": 124060, "since": datetime(2024, 2, 29, 9, 30, 15), "unused": 1})
    assert text == "SELECT a::int, ':not_me' FROM t WHERE d >= ? AND x = 'it''s :no' AND t >= ?"
    assert values == ["124060", "2024-02-29 09:30:15"]
    with pytest.raises(ConfigError, match="missing"):
        positional("SELECT :missing", {})
