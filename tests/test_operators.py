"""The operators against a real SQLite target and the JDE demo source (no Airflow metadata DB).

``execute`` is called with the context Airflow would pass; connections come
from AIRFLOW_CONN_* variables, as in a task.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_harness import TESTS, entry, wait_for

from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config
from datasync.core.errors import TransientSyncError
from datasync.engine.ledger import Ledger
from datasync.engine.postprocessors import PostProcessor, register_post_processor
from datasync.airflow.operators import (
    DataSyncOperator,
    MssqlMergeOperator,
    PostProcessOperator,
    PriorityGateOperator,
    PurgeOperator,
    RecoveryOperator,
    parse_minimum_dt,
)
from datasync.targets.sqlite import SqliteTarget

SOURCE_ROWS = 2000  # work orders; F4101 gets rows/50 items


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    source = tmp_path / "jde.db"
    target = tmp_path / "cache.db"
    demo.write_demo_source(source, SOURCE_ROWS)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{source}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_CMS", f"sqlite:///{source}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{target}")
    return SimpleNamespace(source=source, target=target, tmp=tmp_path)


def config(**overrides: Any):
    return parse_config(
        {
            "BatchSize": 7,
            "DataSources": [
                entry("Items", "JdeItemFetcher", DailyConfig={"Enabled": False, "IntervalMinutes": 1440}, **overrides),
                entry("Lots", "JdeLotMasterFetcher"),
            ],
        }
    )


def context(run_id: str, run_type: str = "scheduled", params: dict | None = None, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "dag_run": SimpleNamespace(run_type=run_type), "params": params or {}, **extra}


def ledger_rows(target_path: Path, table: str = "Items") -> list[dict[str, Any]]:
    conn = sqlite3.connect(target_path)
    conn.row_factory = sqlite3.Row
    try:
        return [
            dict(r)
            for r in conn.execute('SELECT * FROM "DataUpdate" WHERE "TableName" = ? ORDER BY "DataUpdateID"', (table,))
        ]
    finally:
        conn.close()


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    finally:
        conn.close()


def sync_op(cfg, sync_type: str, cls: type = DataSyncOperator, table: str = "Items") -> DataSyncOperator:
    return cls(task_id=f"sync_{sync_type.lower()}", config=cfg, table=table, sync_type=sync_type)


# --------------------------------------------------------------------------- sync operator


def test_mass_then_hourly_pushes_counts_and_writes_the_ledger(env) -> None:
    cfg = config()
    items = count(env.source, "F4101")

    out = sync_op(cfg, "Mass").execute(context("scheduled__mass"))
    assert (out["rows"], out["inserted"], out["updated"], out["minimum_dt"]) == (items, items, 0, None)
    assert count(env.target, "Items") == items

    changed = demo.touch(env.source, 10)["F4101"]
    out = sync_op(cfg, "Hourly").execute(context("scheduled__hourly"))
    assert out["updated"] == changed[0] and out["inserted"] == changed[1]
    assert count(env.target, "Items") == items + changed[1]

    mass, hourly = ledger_rows(env.target)
    assert (mass["UpdateType"], mass["RunId"], mass["NumberRecords"], mass["WasSuccessful"]) == ("Mass", "scheduled__mass", items, 1)
    assert (hourly["UpdateType"], hourly["RunId"], hourly["WasSuccessful"]) == ("Hourly", "scheduled__hourly", 1)
    assert (hourly["RowsUpdated"], hourly["RowsInserted"]) == changed
    # Hourly window: last Mass start minus LookbackMultiplier (3) x the DailyConfig interval (1440)
    window = datetime.fromisoformat(mass["StartDT"]) - timedelta(minutes=3 * 1440)
    assert datetime.fromisoformat(hourly["MinimumDT"]) == window
    assert out["minimum_dt"] == window.replace(tzinfo=timezone.utc).isoformat()


def test_backfill_syncs_from_the_data_interval_start(env) -> None:
    cfg = config()
    start = datetime(2024, 5, 1, 6, 0, tzinfo=timezone.utc)
    out = sync_op(cfg, "Hourly").execute(
        context("backfill__2024-05-01T06:00:00+00:00", "backfill", data_interval_start=start)
    )
    assert out["minimum_dt"] == start.isoformat()
    (row,) = ledger_rows(env.target)
    assert datetime.fromisoformat(row["MinimumDT"]) == start.replace(tzinfo=None)
    assert row["RunId"] == "backfill__2024-05-01T06:00:00+00:00"


def test_manual_params_full_refresh_and_minimum_dt(env) -> None:
    cfg = config()
    items = count(env.source, "F4101")
    out = sync_op(cfg, "Hourly").execute(context("manual__1", "manual", {"full_refresh": False, "minimum_dt": "2024-03-01T00:00:00+02:00"}))
    assert out["minimum_dt"] == "2024-02-29T22:00:00+00:00"
    out = sync_op(cfg, "Hourly").execute(context("manual__2", "manual", {"full_refresh": True, "minimum_dt": None}))
    assert out["minimum_dt"] is None and out["rows"] == items
    # a manual run without parameters and without a logical date behaves like a scheduled one
    out = sync_op(cfg, "Hourly").execute({"run_id": "manual__3", "dag_run": SimpleNamespace(run_type="manual"), "params": {}})
    assert out["minimum_dt"] is None  # no Daily/Mass success yet: full fetch, as the schedule says
    assert [r["RunId"] for r in ledger_rows(env.target)] == ["manual__1", "manual__2", "manual__3"]


def test_rerun_of_the_same_run_gets_a_new_operation_id(env) -> None:
    cfg = config()
    first = sync_op(cfg, "Mass").execute(context("scheduled__x"))
    second = sync_op(cfg, "Mass").execute(context("scheduled__x"))
    assert first["operation_id"] != second["operation_id"]
    rows = ledger_rows(env.target)
    assert [r["RunId"] for r in rows] == ["scheduled__x", "scheduled__x"]
    assert len({r["OperationId"] for r in rows}) == 2 and all(r["WasSuccessful"] == 1 for r in rows)
    assert count(env.target, "Items") == count(env.source, "F4101")


def test_bad_source_fails_without_retry_and_records_the_error(env, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{env.tmp / 'missing' / 'jde.db'}")
    with pytest.raises(AirflowFailException, match="Items Mass sync failed, not retried.*cannot open SQLite source"):
        sync_op(config(), "Mass").execute(context("scheduled__bad"))
    (row,) = ledger_rows(env.target)
    assert (row["NumberRecords"], row["WasSuccessful"]) == (-1, 0)
    assert "cannot open SQLite source" in row["ErrorMessage"]


def test_missing_target_connection_fails_without_retry(env, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.delenv("AIRFLOW_CONN_DATASYNC_TARGET")
    with pytest.raises(AirflowFailException, match="datasync_target"):
        sync_op(config(), "Mass").execute(context("scheduled__nt"))


def test_mssql_operator_refuses_another_target_type(env) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="needs a mssql target.*'sqlite'"):
        sync_op(config(), "Mass", MssqlMergeOperator).execute(context("scheduled__m"))


def test_busy_table_is_a_skip_not_a_failure(env) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    holder = SqliteTarget.open(str(env.target))
    try:
        with holder.table_lock("Items", 0):
            with pytest.raises(AirflowSkipException, match="Items: busy .*; this Mass run skipped"):
                sync_op(config(), "Mass").execute(context("scheduled__busy"))
    finally:
        holder.close()
    assert ledger_rows(env.target) == []  # DESIGN §6: a busy table never fails, never uses up retries


def test_busy_table_retries_a_backfill_run(env) -> None:
    holder = SqliteTarget.open(str(env.target))
    try:
        with holder.table_lock("Items", 0):
            with pytest.raises(TransientSyncError, match="another sync holds its lock"):
                sync_op(config(), "Mass").execute(context("backfill__busy", "backfill"))
    finally:
        holder.close()


def test_parse_minimum_dt() -> None:
    assert parse_minimum_dt(None) is None and parse_minimum_dt("") is None
    assert parse_minimum_dt("2024-03-01T10:00:00Z") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    assert parse_minimum_dt("2024-03-01 10:00") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)


# --------------------------------------------------------------------------- priority gate


def test_gate_skips_lower_types_while_a_higher_one_is_due(env) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    cfg = parse_config({"DataSources": [entry("Items", "JdeItemFetcher")]})
    gate = PriorityGateOperator(task_id="gate", config=cfg, table="Items", sync_type="Hourly")
    with pytest.raises(AirflowSkipException, match="Items: Mass sync is due; Hourly skipped"):
        gate.execute(context("scheduled__1"))
    sync_op(cfg, "Mass").execute(context("scheduled__m"))
    # a Mass satisfies Daily and Hourly (DESIGN §6): nothing higher is due any more
    assert gate.execute(context("scheduled__2")) == "Items: Hourly may run"
    assert [r["UpdateType"] for r in ledger_rows(env.target)] == ["Mass"]  # the gate wrote nothing


def test_gate_lets_explicit_runs_pass(env) -> None:
    cfg = parse_config({"DataSources": [entry("Items", "JdeItemFetcher")]})
    gate = PriorityGateOperator(task_id="gate", config=cfg, table="Items", sync_type="Daily")
    assert "full_refresh" in gate.execute(context("manual__1", "manual", {"full_refresh": True}))
    assert "minimum_dt" in gate.execute(context("manual__2", "manual", {"minimum_dt": "2024-01-01T00:00:00Z"}))
    assert "backfill" in gate.execute(context("backfill__x", "backfill"))


# --------------------------------------------------------------------------- housekeeping


def test_recovery_and_purge_operators(env) -> None:
    cfg = config()
    target = SqliteTarget.open(str(env.target))
    try:
        ledger = Ledger(target)
        ledger.ensure()
        orphan = ledger.start("Items", "Hourly", "dead", "scheduled__dead", None)
        old = ledger.start("Lots", "Daily", "old", None, None)
        ledger.fail(old, "long ago")
        target.execute(
            'UPDATE "DataUpdate" SET "StartDT" = :s WHERE "DataUpdateID" = :i',
            {"s": datetime.now(timezone.utc) - timedelta(days=400), "i": old},
        )
    finally:
        target.close()
    assert RecoveryOperator(task_id="recover", config=cfg).execute({}) == {"Items": 1}
    (row,) = [r for r in ledger_rows(env.target) if r["DataUpdateID"] == orphan]
    assert row["NumberRecords"] == -1 and "interrupted" in row["ErrorMessage"]
    assert PurgeOperator(task_id="purge", config=cfg).execute({}) == 1
    assert ledger_rows(env.target, "Lots") == []


# --------------------------------------------------------------------------- on_kill

KILL_SCRIPT = """
import json, signal, sys
sys.path.insert(0, {tests!r})
import airflow_harness  # registers DelayedJdeItemFetcher
from types import SimpleNamespace
from datasync.engine.configuration import parse_config
from datasync.airflow.operators import DataSyncOperator
cfg = parse_config(json.loads({cfg!r}))
op = DataSyncOperator(task_id="sync", config=cfg, table="Items", sync_type="Mass")
signal.signal(signal.SIGTERM, lambda *a: op.on_kill())  # what Airflow's task runner does
try:
    op.execute({{"run_id": "scheduled__kill", "dag_run": SimpleNamespace(run_type="scheduled"), "params": {{}}}})
    print("FINISHED")
except BaseException as exc:
    print("RAISED", type(exc).__name__, exc)
"""


def test_on_kill_marks_the_ledger_and_keeps_the_old_contents(env) -> None:
    """SIGTERM during a mass reload: ledger row cancelled, readers keep the previous contents."""
    raw = {"BatchSize": 7, "DataSources": [entry("Items", "DelayedJdeItemFetcher")]}
    cfg = parse_config(raw)
    sync_op(cfg, "Mass").execute(context("scheduled__first"))
    before = count(env.target, "Items")
    assert before == count(env.source, "F4101")

    script = KILL_SCRIPT.format(tests=str(TESTS), cfg=json.dumps(raw))
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env={**os.environ, "DATASYNC_TEST_DELAY_ITEMS": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: any(r["NumberRecords"] == -2 for r in ledger_rows(env.target)), 60, 0.2, "the sync to start")
        time.sleep(0.5)  # inside the mass transaction, table emptied but not committed
        assert count(env.target, "Items") == before  # readers see the old contents meanwhile
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - started < 30, "the sync was not cancelled"
    assert "RAISED SyncCancelled" in out, out + err
    killed = ledger_rows(env.target)[-1]
    assert (killed["RunId"], killed["NumberRecords"], killed["WasSuccessful"]) == ("scheduled__kill", -1, 0)
    assert "cancelled" in killed["ErrorMessage"] and "killed by Airflow" in killed["ErrorMessage"]
    assert count(env.target, "Items") == before


# --------------------------------------------------------------------------- delete detection and verify (issue 14)


def test_delete_detection_through_the_operator_xcom_guard_and_allow_mass_delete(env) -> None:
    cfg = config(DeleteDetection={"Enabled": True, "RunWith": "Hourly"})
    sync_op(cfg, "Mass").execute(context("scheduled__mass"))
    items = count(env.target, "Items")
    conn = sqlite3.connect(env.source)
    first = conn.execute("SELECT MIN(IMITM) FROM F4101").fetchone()[0]
    conn.execute("DELETE FROM F4101 WHERE IMITM = ?", (first,))
    conn.commit()
    out = sync_op(cfg, "Hourly").execute(context("scheduled__hourly"))
    assert out["deleted"] == 1 and count(env.target, "Items") == items - 1
    assert ledger_rows(env.target)[-1]["RowsDeleted"] == 1

    conn.execute("DELETE FROM F4101")  # a source that returns nothing: refused, not retried
    conn.commit()
    conn.close()
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="delete detection would delete"):
        sync_op(cfg, "Hourly").execute(context("scheduled__empty"))
    assert count(env.target, "Items") == items - 1
    out = sync_op(cfg, "Hourly").execute(context("manual__allow", "manual", {"allow_mass_delete": True}))
    assert out["deleted"] == items - 1 and count(env.target, "Items") == 0


def test_verify_operator_returns_the_report_and_fails_when_the_cache_differs(env) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from datasync.airflow.operators import CacheDiffers, VerifyOperator

    cfg = config()
    op = VerifyOperator(task_id="verify__Items", config=cfg, table="Items")
    # a fresh install's first verify runs before its first Mass: skipped, not failed
    with pytest.raises(AirflowSkipException, match="Items: never synced yet"):
        op.execute(context("scheduled__verify0"))
    sync_op(cfg, "Mass").execute(context("scheduled__mass"))
    report = op.execute(context("scheduled__verify"))
    assert report["equal"] is True and report["source_rows"] == report["target_rows"] == count(env.source, "F4101")
    conn = sqlite3.connect(env.target)
    conn.execute('UPDATE "Items" SET "DSC1" = \'changed in the cache\' WHERE "ITM" = (SELECT MIN("ITM") FROM "Items")')
    conn.commit()
    itm = conn.execute('SELECT MIN("ITM") FROM "Items"').fetchone()[0]
    conn.close()
    with pytest.raises(CacheDiffers, match=rf"1 different values: \({itm}\) \[DSC1\]"):
        op.execute(context("scheduled__verify2"))


# --------------------------------------------------------------------------- post-processor task


@register_post_processor
class FailsOnceThenAudits(PostProcessor):
    """Fails its first call (a transient error), then writes the synced row count into an audit table."""

    calls = 0

    def run(self, target, table, result) -> None:
        type(self).calls += 1
        if type(self).calls == 1:
            raise RuntimeError("audit database restarting")
        target.execute('CREATE TABLE IF NOT EXISTS "Audit" ("TableName" TEXT, "Rows" INTEGER, "DataUpdateID" INTEGER)')
        target.execute('INSERT INTO "Audit" VALUES (:t, :n, :i)', {"t": table.table_name, "n": result.rows, "i": result.data_update_id})


class XcomTi:
    """What a task instance gives the post-processor task: the sync task's XCom of this run."""

    def __init__(self, value: Any):
        self.value = value

    def xcom_pull(self, task_ids: str) -> Any:
        assert task_ids == "sync"
        return self.value


def test_post_processor_is_its_own_task_and_its_retry_never_resyncs(env) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    cfg = config(PostProcessorTypeName="FailsOnceThenAudits")
    synced = sync_op(cfg, "Mass").execute(context("scheduled__pp"))  # the sync task does not post-process
    post = PostProcessOperator(task_id="post_process", config=cfg, table="Items", sync_type="Mass")
    with pytest.raises(RuntimeError, match="audit database restarting"):
        post.execute(context("scheduled__pp", ti=XcomTi(synced)))
    (marked,) = ledger_rows(env.target)  # the failure is on the sync's ledger row, where health reads it
    assert (marked["WasSuccessful"], marked["PostProcessError"]) == (1, "FailsOnceThenAudits: audit database restarting")
    assert marked["PostProcessFailedDT"] is not None
    assert post.execute(context("scheduled__pp", ti=XcomTi(synced))) == (
        f"FailsOnceThenAudits after DataUpdate {synced['data_update_id']}"
    )
    conn = sqlite3.connect(env.target)
    try:
        assert conn.execute('SELECT "TableName", "Rows", "DataUpdateID" FROM "Audit"').fetchall() == [
            ("Items", synced["rows"], synced["data_update_id"])
        ]
    finally:
        conn.close()
    assert [r["UpdateType"] for r in ledger_rows(env.target)] == ["Mass"]  # one sync, however often it retried
    assert (ledger_rows(env.target)[0]["PostProcessError"], ledger_rows(env.target)[0]["PostProcessFailedDT"]) == (None, None)
    with pytest.raises(AirflowSkipException, match="no committed sync"):
        post.execute(context("scheduled__none", ti=XcomTi(None)))
