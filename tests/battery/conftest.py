"""The scenario battery runs every test against every target dialect.

- ``sqlite``: a database file in tmp_path.
- ``postgres``: a fresh database on 127.0.0.1:5432 (user postgres, trust auth) per test,
  dropped afterwards.
- ``mssql`` (marker ``mssql``): skipped unless DATASYNC_TEST_MSSQL_URL is set to an Airflow
  connection URI of a SQL Server login that may create databases, e.g.
  ``mssql://sa:Secret123!@127.0.0.1:1433/master``; each test creates and drops its own database.

Targets are opened with ``datasync.airflow.connections.HookConnector`` through
AIRFLOW_CONN_DATASYNC_TARGET, the way the CLI and the DAGs open them, so a new dialect joins
the battery by registering its connection type.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from battery.battery_lib import Backend
from memory_fetcher import MemoryFetcher

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
MSSQL_URL_ENV = "DATASYNC_TEST_MSSQL_URL"


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, tmp_path: Path):
        self.uri = f"sqlite:///{tmp_path / 'cache.db'}"


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self) -> None:
        self.db = f"datasync_b_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.db}"')
        self.uri = f"postgres://postgres@127.0.0.1:5432/{self.db}"
        self.monitor = psycopg.connect(PG_ADMIN, autocommit=True)

    def session_id(self, target: Any) -> int:
        return target.query("SELECT pg_backend_pid()")[0][0]

    def is_waiting(self, session: Any) -> bool:
        rows = self.monitor.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %(pid)s", {"pid": session}
        ).fetchall()
        return bool(rows) and rows[0][0] == "Lock"

    def sessions_waiting(self, target: Any) -> int:
        return self.monitor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %(db)s AND wait_event_type = 'Lock'", {"db": self.db}
        ).fetchone()[0]

    def drop(self) -> None:
        self.monitor.close()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


class MssqlBackend(Backend):
    name = "mssql"

    def __init__(self, base_url: str):
        import pymssql
        from airflow.models.connection import Connection

        base = Connection(uri=base_url)
        self.params = {
            "server": base.host,
            "port": str(base.port or 1433),
            "user": base.login,
            "password": base.password,
            "autocommit": True,
        }
        self.db = f"datasync_b_{uuid.uuid4().hex[:10]}"
        with pymssql.connect(**self.params) as admin, admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE [{self.db}]")
            cur.execute(f"ALTER DATABASE [{self.db}] SET RECOVERY SIMPLE")
        self.uri = (
            f"mssql://{quote(base.login or '', safe='')}:{quote(base.password or '', safe='')}"
            f"@{base.host}:{base.port or 1433}/{self.db}"
        )
        self.monitor = pymssql.connect(**self.params)

    def session_id(self, target: Any) -> int:
        return target.query("SELECT @@SPID AS [spid]")[0][0]

    def is_waiting(self, session: Any) -> bool:
        with self.monitor.cursor() as cur:
            cur.execute("SELECT blocking_session_id FROM sys.dm_exec_requests WHERE session_id = %d", (session,))
            rows = cur.fetchall()
        return bool(rows) and bool(rows[0][0])

    def sessions_waiting(self, target: Any) -> int:
        with self.monitor.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM sys.dm_exec_requests WHERE blocking_session_id <> 0 AND database_id = DB_ID(%s)",
                (self.db,),
            )
            return int(cur.fetchone()[0])

    def drop(self) -> None:
        import pymssql

        self.monitor.close()
        with pymssql.connect(**self.params) as admin, admin.cursor() as cur:
            cur.execute(f"ALTER DATABASE [{self.db}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
            cur.execute(f"DROP DATABASE [{self.db}]")


@pytest.fixture(
    params=[
        "sqlite",
        "postgres",
        pytest.param(
            "mssql",
            marks=[
                pytest.mark.mssql,
                pytest.mark.skipif(
                    not os.environ.get(MSSQL_URL_ENV),
                    reason=f"SQL Server battery: set {MSSQL_URL_ENV} (e.g. after `docker compose up mssql`)",
                ),
            ],
        ),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    """The target database of this test, reachable as Airflow connection ``datasync_target``."""
    if request.param == "sqlite":
        be: Backend = SqliteBackend(tmp_path)
    elif request.param == "postgres":
        be = PostgresBackend()
    else:
        be = MssqlBackend(os.environ[MSSQL_URL_ENV])
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", be.uri)
    # the service layer opens the source of every table; MemoryFetcher ignores it, so an empty file does
    source = tmp_path / "empty-source.db"
    sqlite3.connect(source).close()
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{source}")
    try:
        yield be
    finally:
        be.drop()


@pytest.fixture
def target(backend: Backend) -> Iterator[Any]:
    """The test's own connection to the target (syncs under test open their own)."""
    t = backend.open()
    yield t
    t.close()


@pytest.fixture(autouse=True)
def _fresh_memory_sources() -> Iterator[None]:
    MemoryFetcher.sources.clear()
    MemoryFetcher.fail_after.clear()
    yield
    MemoryFetcher.sources.clear()
    MemoryFetcher.fail_after.clear()
