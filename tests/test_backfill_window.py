"""A backfill run syncs the rows changed in its own data interval [start, end), nothing later.

The interval end is pushed into the fetch query beside MinimumDT (JDE: on the Julian audit
date, exact on UPMJ + TDAY in Arrow; CMS: on LastModified), for backfill runs only. Rows
changed before, inside and after one interval on a real SQLite and a real PostgreSQL
source; the sync operator runs as Airflow would call it, into a SQLite target: the ledger
row and the target's rows are exactly the inside ones. Manual runs keep reading up to now.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlglot import exp
from seed_config import table_entry
from test_fetchers import build, fetch_all, make_table
from test_source_dialects import strict_parse

from datasync_demo import generator as demo
from datasync.airflow.operators import DataSyncOperator
from datasync.engine.configuration import parse_config
from datasync.sources import SqliteSourceReader
from datasync.sources.mssql import MssqlSourceReader

START = datetime(2024, 2, 29, 9, 30, 15, tzinfo=timezone.utc)
END = datetime(2024, 3, 1, 6, 0, 0, tzinfo=timezone.utc)
# (DOCO, UPMJ, TDAY): Julian 124060 = 2024-02-29, 124061 = 2024-03-01
BEFORE = [(1001, 124059, 235959.0), (1002, 124060, 93014.0)]  # the day before; one second before the start
INSIDE = [(1003, 124060, 93015.0), (1004, 124060, 235959.0), (1005, 124061, 55959.0)]  # the start; the end - 1 s
AFTER = [(1006, 124061, 60000.0), (1007, 124061, 60001.0), (1008, 124062, 0.0)]  # the end itself; later
ROWS = BEFORE + INSIDE + AFTER


def ids(rows: list[tuple]) -> list[int]:
    return [r[0] for r in rows]


def sqlite_source(tmp_path: Path) -> str:
    path = make_table(
        tmp_path / "jde.db", "F4801", [{"WADOCO": d, "WAUPMJ": j, "WATDAY": t, "WALITM": f"ITEM-{d}"} for d, j, t in ROWS]
    )
    return f"sqlite:///{path}"


@pytest.fixture
def pg_source() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"datasync_backfill_{__import__('os').getpid()}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=name, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA proddta")
            cols = ", ".join(
                f'"{n}" '
                + (f"CHAR({t[6:-1]})" if t.startswith("NCHAR") else "double precision" if t == "FLOAT" else "numeric")
                for n, t in demo.F4801
            )
            conn.execute(f'CREATE TABLE proddta."F4801" ({cols})')
            with conn.cursor() as cur:
                cur.executemany(
                    'INSERT INTO proddta."F4801" ("WADOCO", "WALITM", "WAUPMJ", "WATDAY") VALUES (%s, %s, %s, %s)',
                    [(d, f"ITEM-{d}", j, t) for d, j, t in ROWS],
                )
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(connection URI, schema) of a JDE source holding ROWS in F4801."""
    if request.param == "sqlite":
        return sqlite_source(tmp_path), None
    return request.getfixturevalue("pg_source"), "proddta"


def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: tuple[str, str | None], run_type: str,
        params: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[int], dict[str, Any]]:
    """One Daily sync task of table T as Airflow calls it: (result, target DOCOs, ledger row)."""
    uri, schema = source
    target = tmp_path / "cache.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", uri)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{target}")
    raw: dict[str, Any] = {"DataSources": [table_entry("T", "JdeWorkOrderFetcher")]}
    if schema:
        raw["SourceSystems"] = {"JDE": {"ConnId": "datasync_jde", "Schema": schema}}
    op = DataSyncOperator(task_id="sync_daily", config=parse_config(raw), table="T", sync_type="Daily")
    context = {
        "run_id": f"{run_type}__x", "dag_run": SimpleNamespace(run_type=run_type), "params": params or {},
        "data_interval_start": START, "data_interval_end": END,
    }
    out = op.execute(context)
    conn = sqlite3.connect(target)
    conn.row_factory = sqlite3.Row
    try:
        docos = [r[0] for r in conn.execute('SELECT "DOCO" FROM "T" ORDER BY 1')]
        (row,) = [dict(r) for r in conn.execute('SELECT * FROM "DataUpdate" WHERE "TableName" = \'T\'')]
    finally:
        conn.close()
    return out, docos, row


def test_a_backfill_syncs_exactly_the_rows_changed_in_its_interval(
    source: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, docos, row = run(monkeypatch, tmp_path, source, "backfill")
    assert docos == ids(INSIDE)
    assert (out["rows"], out["inserted"], out["updated"]) == (len(INSIDE), len(INSIDE), 0)
    assert (row["NumberRecords"], row["RowsInserted"], row["WasSuccessful"]) == (len(INSIDE), len(INSIDE), 1)
    assert datetime.fromisoformat(row["MinimumDT"]) == START.replace(tzinfo=None)


def test_a_manual_run_from_the_same_start_reads_up_to_now(
    source: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, docos, row = run(monkeypatch, tmp_path, source, "manual", {"minimum_dt": START.isoformat()})
    assert docos == ids(INSIDE + AFTER)
    assert row["NumberRecords"] == len(INSIDE + AFTER)


def test_a_backfill_with_full_refresh_reads_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, docos, _ = run(monkeypatch, tmp_path, (sqlite_source(tmp_path), None), "backfill", {"full_refresh": True})
    assert docos == ids(ROWS)


def test_the_cms_fetch_is_bounded_by_last_modified(tmp_path: Path) -> None:
    times = [datetime(2024, 2, 29, 9, 30, 14), START.replace(tzinfo=None), datetime(2024, 3, 1, 5, 59, 59, 500000),
             END.replace(tzinfo=None), datetime(2024, 3, 2)]
    path = make_table(tmp_path / "cms.db", "MIS_DATA", [
        {"MisDataId": i + 1, "LastModified": t.isoformat(sep=" ")} for i, t in enumerate(times)
    ])
    reader = SqliteSourceReader(str(path))
    try:
        fetcher = build(reader, "CmsMisDataFetcher")
        got = [i for b in fetcher.fetch(START.replace(tzinfo=None), END.replace(tzinfo=None))
               for i in b.column("MisDataId").to_pylist()]
        assert sorted(got) == [2, 3]
        assert len(fetch_all(fetcher, START.replace(tzinfo=None))) == 4
    finally:
        reader.close()


@pytest.mark.parametrize("fetcher_name", ["JdeWorkOrderFetcher", "JdeLotUsageFetcher", "CmsMisDataFetcher"])
def test_the_bounded_tsql_fetch_parses(fetcher_name: str) -> None:
    from pymssql import _mssql

    from datasync.sources.mssql import server_value

    fetcher = build(MssqlSourceReader(None), fetcher_name, schema_name="PRODDTA")  # type: ignore[arg-type]
    sql = fetcher.sql(True, True)
    params = {"min_julian": 124060, "max_julian": 124061, "minimum_dt": START.replace(tzinfo=None),
              "maximum_dt": END.replace(tzinfo=None)}
    sent = _mssql.substitute_params(sql, {k: server_value(v) for k, v in params.items()}, True, "utf-8").decode()
    tree = strict_parse(sent, "tsql")
    (lt_or_lte,) = [*tree.find_all(exp.LT), *tree.find_all(exp.LTE)]
    if fetcher_name.startswith("Jde"):
        assert isinstance(lt_or_lte, exp.LTE) and lt_or_lte.expression.name == "124061"
    else:
        assert isinstance(lt_or_lte, exp.LT) and lt_or_lte.expression.name == "2024-03-01T06:00:00.000"


# --------------------------------------------------------------------------- fetchers written before the bound
from datasync.fetchers.jde import JdeWorkOrderFetcher  # noqa: E402
from datasync.fetchers.registry import register  # noqa: E402


@register
class OlderSqlWorkOrderFetcher(JdeWorkOrderFetcher):
    """A site's fetcher from before backfill bounds: ``sql(incremental)`` without ``bounded``."""

    def sql(self, incremental: bool) -> str:  # type: ignore[override]
        return super().sql(incremental)


@register
class OlderFetchWorkOrderFetcher(JdeWorkOrderFetcher):
    """A site's fetcher from before backfill bounds: ``fetch(minimum_dt)`` only."""

    def fetch(self, minimum_dt):  # type: ignore[override]
        return super().fetch(minimum_dt)


@pytest.mark.parametrize("fetcher_name", ["OlderSqlWorkOrderFetcher", "OlderFetchWorkOrderFetcher"])
def test_a_fetcher_written_before_backfill_bounds_still_syncs_exactly_its_interval(
    fetcher_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No TypeError on a backfill: the query reads from MinimumDT as before, the end is cut in Arrow."""
    uri = sqlite_source(tmp_path)
    target = tmp_path / "cache.db"
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", uri)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{target}")
    cfg = parse_config({"DataSources": [table_entry("T", fetcher_name)]})
    op = DataSyncOperator(task_id="sync_daily", config=cfg, table="T", sync_type="Daily")
    out = op.execute({
        "run_id": "backfill__x", "dag_run": SimpleNamespace(run_type="backfill"), "params": {},
        "data_interval_start": START, "data_interval_end": END,
    })
    with sqlite3.connect(target) as conn:
        docos = [r[0] for r in conn.execute('SELECT "DOCO" FROM "T" ORDER BY 1')]
    assert docos == ids(INSIDE)
    assert out["rows"] == len(INSIDE)
