"""A failed post-processor shows in health until a later one succeeds (real SQLite and PostgreSQL ledgers).

The failure is marked on the committed sync's DataUpdate row (PostProcessError, PostProcessFailedDT:
since when, carried over while it keeps failing); health reads it in its one ledger read. A ledger
without those columns (an earlier datasync's) gets them from the upgrade, idempotently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import table_entry
from memory_fetcher import MemoryFetcher

from datasync.core.errors import SourceDataError
from datasync.core.times import utcnow
from datasync.core.types import HealthStatus
from datasync.engine import service
from datasync.engine.configuration import parse_config
from datasync.engine.ledger import Ledger
from datasync.engine.postprocessors import PostProcessor, register_post_processor
from datasync.engine.sync import SyncRequest
from datasync.targets.sqlite import SqliteTarget

FAILURES: list[str] = []  # the next run of AuditRows fails with this message while set


@register_post_processor
class AuditRows(PostProcessor):
    """Fails while FAILURES holds a message; does nothing otherwise."""

    def run(self, target: Any, table: Any, result: Any) -> None:
        if FAILURES:
            raise SourceDataError(FAILURES[0])


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{tmp_path / 'source.db'}")  # MemoryFetcher reads nothing
    if request.param == "sqlite":
        t = SqliteTarget.open(str(tmp_path / "cache.db"))
        yield t
        t.close()
        return
    psycopg = pytest.importorskip("psycopg")
    from datasync.targets.postgres import PostgresTarget

    admin_dsn = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    try:
        admin = psycopg.connect(admin_dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"datasync_pp_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    t = PostgresTarget.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}")
    try:
        yield t
    finally:
        t.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def config() -> Any:
    MemoryFetcher.sources["Items"] = [
        {"Id": i, "Site": "M30", "Name": "x", "Qty": Decimal("1.00"), "Day": None, "LastUpdateDT": datetime(2024, 1, 1)}
        for i in range(5)
    ]
    return parse_config({"DataSources": [table_entry("Items", "MemoryFetcher", PostProcessorTypeName="AuditRows")]})


def sync_then_post_process(cfg: Any, target: Any, sync_type: str, failure: str | None) -> int:
    """A committed sync, then its post-processor as the post_process task runs it; the sync's DataUpdateID."""
    result = service.sync_table(cfg, SyncRequest("Items", sync_type), target=target, post_process=False)
    FAILURES[:] = [failure] if failure else []
    try:
        service.run_post_processor(cfg, result, target)
    except SourceDataError as exc:
        assert failure and str(exc) == failure
    else:
        assert failure is None
    finally:
        FAILURES.clear()
    return result.data_update_id


def post_processor_problems(report: Any) -> list[str]:
    return [p for p in report.tables["Items"].problems if p.startswith("post-processor")]


def test_a_failed_post_processor_is_unhealthy_since_its_first_failure_until_one_succeeds(target: Any) -> None:
    cfg = config()
    before = utcnow() - timedelta(seconds=1)
    first = sync_then_post_process(cfg, target, "Mass", "audit table is full")
    report = service.health(cfg, target, now=utcnow())
    (problem,) = post_processor_problems(report)
    items = report.tables["Items"]
    since = items.post_process_failed_since
    assert since is not None and since >= before.replace(tzinfo=since.tzinfo)
    assert problem == f"post-processor AuditRows failed: audit table is full since {since.isoformat()}"
    assert (report.status, items.status) == (HealthStatus.UNHEALTHY, HealthStatus.UNHEALTHY)
    data = report.as_health_check()["data"]
    assert data["Items_PostProcessor"] == {"error": "AuditRows: audit table is full", "failed_since": since.isoformat()}
    assert data["Items_Health"] == "Unhealthy"
    (row,) = [r for r in Ledger(target).recent("Items") if r.data_update_id == first]
    assert (row.was_successful, row.post_process_error) == (True, "AuditRows: audit table is full")

    # still failing after the next sync: since when stays the first failure's, the message is the latest
    sync_then_post_process(cfg, target, "Hourly", "audit table is still full")
    items = service.health(cfg, target, now=utcnow()).tables["Items"]
    assert items.post_process_failed_since == since
    assert post_processor_problems_of(items) == [
        f"post-processor AuditRows failed: audit table is still full since {since.isoformat()}"
    ]

    # a later success clears it
    sync_then_post_process(cfg, target, "Hourly", None)
    report = service.health(cfg, target, now=utcnow())
    assert post_processor_problems(report) == [] and report.tables["Items"].post_process_error is None
    assert "Items_PostProcessor" not in report.as_health_check()["data"]


def post_processor_problems_of(items: Any) -> list[str]:
    return [p for p in items.problems if p.startswith("post-processor")]


def test_a_retry_that_succeeds_clears_the_mark_of_its_sync(target: Any) -> None:
    cfg = config()
    result = service.sync_table(cfg, SyncRequest("Items", "Mass"), target=target, post_process=False)
    FAILURES[:] = ["deadlock"]
    with pytest.raises(SourceDataError):
        service.run_post_processor(cfg, result, target)
    FAILURES.clear()
    assert post_processor_problems(service.health(cfg, target, now=utcnow()))
    service.run_post_processor(cfg, result, target)  # the task's retry
    assert post_processor_problems(service.health(cfg, target, now=utcnow())) == []


def test_the_upgrade_adds_the_post_processor_columns_to_an_earlier_ledger_idempotently(target: Any) -> None:
    Ledger(target).ensure()
    with target.transaction():
        for column in ("PostProcessError", "PostProcessFailedDT"):
            target.execute(f'ALTER TABLE "DataUpdate" DROP COLUMN "{column}"')
    for _ in range(2):  # once adds them, then nothing is left to do
        target.ledger_ready = False
        Ledger(target).ensure()
    cfg = config()
    sync_then_post_process(cfg, target, "Mass", "boom")
    assert post_processor_problems(service.health(cfg, target, now=utcnow()))


def test_datasync_health_names_the_failed_post_processor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from datasync.cli.commands import app

    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{tmp_path / 'source.db'}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{tmp_path / 'cache.db'}")
    path = tmp_path / "datasync.yaml"
    path.write_text(yaml.safe_dump({"DataSync": {"DataSources": [
        table_entry("Items", "MemoryFetcher", PostProcessorTypeName="AuditRows")
    ]}}))
    cfg = config()
    target = SqliteTarget.open(str(tmp_path / "cache.db"))
    try:
        sync_then_post_process(cfg, target, "Mass", "audit table is full")
    finally:
        target.close()
    result = CliRunner().invoke(app, ["health", "--json", "--config", str(path)])
    assert result.exit_code == 2, result.output
    body = json.loads(result.output)
    assert body["Items_Status"] == "Unhealthy"
    (problem,) = [p for p in body["Items_Problems"] if p.startswith("post-processor")]
    assert problem.startswith("post-processor AuditRows failed: audit table is full since ")
