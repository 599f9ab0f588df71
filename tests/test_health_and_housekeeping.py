"""Health, recovery and purge against a real SQLite ledger."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import table_entry
from datasync.engine import service
from datasync.engine.configuration import parse_config
from datasync.engine.ledger import Ledger
from datasync.targets.sqlite import SqliteTarget

NOW = datetime.now(timezone.utc)


@pytest.fixture
def env(tmp_path: Path):
    cfg = parse_config(
        {
            "PurgeRetentionDays": 30,
            "DataSources": [
                table_entry("Good", "JdeItemFetcher", HourlyConfig={"Enabled": False, "IntervalMinutes": 60}),
                table_entry("Late", "JdeItemFetcher", HourlyConfig={"Enabled": False, "IntervalMinutes": 60}),
                table_entry("Broken", "JdeItemFetcher", HourlyConfig={"Enabled": False, "IntervalMinutes": 60}),
            ],
        }
    )
    target = SqliteTarget.open(str(tmp_path / "cache.db"))
    ledger = Ledger(target)
    ledger.ensure()
    yield cfg, target, ledger
    target.close()


def record(target, ledger, table, sync_type, start, ok=True, error=None):
    """A finished ledger row with the given StartDT."""
    row_id = ledger.start(table, sync_type, "op", None, None)
    if ok:
        ledger.finish(row_id, 10, 10, 0)
    else:
        ledger.fail(row_id, error or "boom")
    target.execute('UPDATE "DataUpdate" SET "StartDT" = :s WHERE "DataUpdateID" = :i', {"s": start, "i": row_id})
    return row_id


def test_health_statuses(env):
    cfg, target, ledger = env
    for table in ("Good", "Broken"):
        record(target, ledger, table, "Mass", NOW - timedelta(hours=2))
    record(target, ledger, "Late", "Mass", NOW - timedelta(days=3, hours=2))  # a Mass counts for Daily too (§6)
    record(target, ledger, "Good", "Daily", NOW - timedelta(hours=3))
    record(target, ledger, "Late", "Daily", NOW - timedelta(days=3))
    record(target, ledger, "Broken", "Daily", NOW - timedelta(hours=5))
    record(target, ledger, "Broken", "Daily", NOW - timedelta(minutes=5), ok=False, error="ValueError: bad julian")
    report = service.health(cfg, target, NOW)
    assert report.status == "Unhealthy" and report.exit_code == 2
    assert {n: t.status for n, t in report.tables.items()} == {"Good": "Healthy", "Late": "Degraded", "Broken": "Unhealthy"}
    data = report.as_dict()
    assert data["Good_Status"] == "Healthy"
    assert data["Late_LastSync"].startswith((NOW - timedelta(days=3)).strftime("%Y-%m-%dT%H"))
    assert any("bad julian" in p for p in data["Broken_Problems"])
    # a later success of the same type heals the table
    record(target, ledger, "Broken", "Daily", NOW - timedelta(minutes=1))
    assert service.health(cfg, target, NOW).tables["Broken"].status == "Healthy"


def test_recover_closes_only_tables_whose_lock_is_free(env):
    cfg, target, ledger = env
    dead = ledger.start("Good", "Daily", "dead", None, None)
    alive = ledger.start("Late", "Daily", "alive", None, None)
    other = SqliteTarget.open(target.path)
    with other.table_lock("Late", 0):
        closed = service.recover(cfg, target)
    other.close()
    assert closed == {"Good": 1}
    rows = {r.data_update_id: r for r in ledger.recent()}
    assert rows[dead].number_records == -1 and "recovery" in rows[dead].error_message
    assert rows[alive].number_records == -2


def test_purge_keeps_latest_success_per_type(env):
    cfg, target, ledger = env
    old_success = record(target, ledger, "Good", "Mass", NOW - timedelta(days=60))
    older_success = record(target, ledger, "Good", "Daily", NOW - timedelta(days=50))
    old_daily = record(target, ledger, "Good", "Daily", NOW - timedelta(days=40))
    old_failure = record(target, ledger, "Good", "Daily", NOW - timedelta(days=35), ok=False)
    recent = record(target, ledger, "Good", "Daily", NOW - timedelta(days=1), ok=False)
    assert service.purge(cfg, target) == 2
    kept = {r.data_update_id for r in ledger.recent()}
    assert kept == {old_success, old_daily, recent}
    assert older_success not in kept and old_failure not in kept


def test_a_mass_satisfies_daily_and_hourly(tmp_path: Path):
    """A fresh install after its first Mass is Healthy: Daily and Hourly count the Mass (DESIGN §6)."""
    cfg = parse_config({"DataSources": [table_entry("Fresh", "JdeItemFetcher")]})
    target = SqliteTarget.open(str(tmp_path / "cache.db"))
    ledger = Ledger(target)
    ledger.ensure()
    assert service.health(cfg, target, NOW).status == "Degraded"  # nothing ran yet
    record(target, ledger, "Fresh", "Mass", NOW - timedelta(minutes=10))
    report = service.health(cfg, target, NOW)
    assert report.status == "Healthy", report.tables["Fresh"].problems
    types = report.tables["Fresh"].types
    assert types["Hourly"].last_success is None and types["Hourly"].satisfied_at == types["Mass"].last_success
    # two hours later the Mass no longer covers Hourly (interval 60 min + half)
    later = service.health(cfg, target, NOW + timedelta(hours=2))
    assert later.status == "Degraded"
    assert later.tables["Fresh"].types["Hourly"].overdue_since == types["Mass"].last_success + timedelta(minutes=90)
    assert later.tables["Fresh"].types["Daily"].overdue_since is None
    target.close()


def test_health_check_shape_of_the_seed(env):
    cfg, target, ledger = env
    for table in ("Good", "Broken"):
        record(target, ledger, table, "Mass", NOW - timedelta(hours=2))
    record(target, ledger, "Late", "Mass", NOW - timedelta(days=30))
    record(target, ledger, "Broken", "Daily", NOW - timedelta(minutes=5), ok=False, error="ValueError: bad julian")
    running = ledger.start("Good", "Daily", "op-running", "manual__x", None)
    check = service.health(cfg, target, NOW).as_health_check()
    assert check["status"] == "Unhealthy" and check["description"] == "Some tables have recent sync failures: Broken"
    data = check["data"]
    assert data["Good_Status"] == "Current" and data["Good_Health"] == "Healthy"
    assert data["Late_Status"] == "Overdue" and data["Late_Health"] == "Degraded"
    assert data["Broken_Status"] == "Current" and data["Broken_Health"] == "Unhealthy"
    assert data["Good_LastSync"].startswith((NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    daily = data["Broken_Types"]["Daily"]
    assert daily["last_run"]["state"] == "failed" and daily["last_error"]["message"] == "ValueError: bad julian"
    assert data["Good_Types"]["Daily"]["running_since"] is not None
    assert data["Good_Types"]["Mass"]["last_run"]["rows"] == 10
    ledger.finish(running, 3, 3, 0)
    assert service.health(cfg, target, NOW).as_health_check()["data"]["Good_Types"]["Daily"]["last_run"]["rows"] == 3


def test_never_synced_table_reads_never(tmp_path: Path):
    cfg = parse_config({"DataSources": [table_entry("New", "JdeItemFetcher")]})
    target = SqliteTarget.open(str(tmp_path / "cache.db"))
    check = service.health(cfg, target, NOW).as_health_check()
    assert check["status"] == "Degraded"
    assert (check["data"]["New_LastSync"], check["data"]["New_Status"]) == ("Never", "Overdue")
    target.close()
