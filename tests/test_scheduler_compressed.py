"""The schedule over time on a real Airflow, with intervals compressed to minutes.

LocalExecutor, PostgreSQL metadata DB and cache (as tests/test_scheduler.py);
Mass 6 min, Daily 3 min, Hourly 1 min, CheckInterval 20 s; three tables;
nobody triggers anything: datasync__dispatcher starts every run.

WorkOrder_Curr's source holds an old work order (changed in 2000) with a bad
Julian date: a full fetch reads it and fails permanently, incremental fetches
never do. The cache was filled before (its ledger has a Daily from a minute
ago), so its Daily and Hourly syncs keep running while its Mass fails and is
retried with backoff (20 s, 40 s, 80 s, 160 s, ...). After 4 minutes the row is
fixed; the next retry of the Mass succeeds. Asserted on the ledger: Daily and
Hourly continued during the failures, the Mass retried and then succeeded, no
two runs of a table overlap, no table stale for more than 2 Hourly intervals;
in the metadata DB: every sync DAG run was started by the dispatcher.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import (
    Deployment,
    api_healthy,
    dags_folder,
    deployment_env,
    entry,
    free_port,
    fresh_database,
    migrate,
    pg_connect,
    pg_url,
    run_python,
    start_process,
    stop_processes,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(1500)]

SCHEDULES = {
    "MassConfig": {"Enabled": True, "IntervalMinutes": 6, "PrepurgeData": True},
    "DailyConfig": {"Enabled": True, "IntervalMinutes": 3},
    "HourlyConfig": {"Enabled": True, "IntervalMinutes": 1},
}
TABLES = {"WorkOrder_Curr": "JdeWorkOrderFetcher", "Item_Curr": "JdeItemFetcher", "LotMaster_Curr": "JdeLotMasterFetcher"}
BROKEN = "WorkOrder_Curr"
BAD_DOCO = 99999901
FIX_AFTER = 240  # seconds
RUN_FOR = 8 * 60  # at least
HOURLY = timedelta(minutes=1)

PREPARE = """
import json
from datetime import timedelta
import datasync.engine.ledger as ledger_module
from datasync.engine import service
from datasync.engine.configuration import load_config
from datasync.engine.ledger import Ledger
from datasync.core.times import utcnow
from datasync.airflow.setup import init_airflow
cfg = load_config()
service.init_db(cfg)
init_airflow(cfg)
# the cache was filled before this deploy: a successful Daily a minute ago anchors the incremental window
earlier = utcnow() - timedelta(minutes=1)
ledger_module.utcnow = lambda: earlier
with service.target_session(cfg) as t:
    ledger = Ledger(t)
    row = ledger.start("%s", "Daily", "earlier", "earlier", None)
    ledger.finish(row, 0, 0, 0)
print("RESULT:" + json.dumps(row))
""" % BROKEN


def _bad_row(source: Path, fix: bool = False) -> None:
    conn = sqlite3.connect(source)
    try:
        if fix:
            conn.execute("UPDATE F4801 SET WATRDJ = 100002 WHERE WADOCO = ?", (BAD_DOCO,))
        else:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(F4801)")]
            row = dict(zip(cols, conn.execute("SELECT * FROM F4801 LIMIT 1").fetchone()))
            row.update(WADOCO=BAD_DOCO, WAUPMJ=100001, WATDAY=120000, WATRDJ=124999)  # day 999 of 2024
            conn.execute(f"INSERT INTO F4801 ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", list(row.values()))
        conn.commit()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from datasync_demo import generator as demo

    work = tmp_path_factory.mktemp("compressed")
    source = work / "jde.db"
    demo.write_demo_source(source, 600)
    _bad_row(source)
    entries = [entry(name, fetcher, **SCHEDULES) for name, fetcher in TABLES.items()]
    config = write_config(work / "datasync.yaml", entries, CheckInterval="00:00:20", MaxDegreeOfParallelism=4)
    dags = dags_folder(work)
    port = free_port()
    with fresh_database("datasync_airflow_compressed") as metadata_db, fresh_database("datasync_cache_compressed") as target_db:
        env = deployment_env(
            work,
            dags,
            metadata_db,
            port,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            DATASYNC_CONFIG=str(config),
            AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
            AIRFLOW_CONN_DATASYNC_TARGET=pg_url(target_db, "postgres"),
        )
        logs = work / "logs"
        procs: dict[str, subprocess.Popen] = {}
        try:
            migrate(env)
            run_python(PREPARE, env)
            procs["api-server"] = start_process("api-server", ["api-server"], env, logs)
            wait_for(lambda: api_healthy(port), 120, 1, "the api-server")
            for name in ("scheduler", "dag-processor"):
                procs[name] = start_process(name, [name], env, logs)
            yield Deployment(env=env, target=target_db, source=source, logs=logs, procs=procs)
        finally:
            stop_processes(procs)


def _successes(rows: list[dict[str, Any]], table: str) -> list[datetime]:
    return sorted(r["StartDT"] for r in rows if r["TableName"] == table and r["WasSuccessful"] == 1)


def test_a_failing_mass_does_not_stop_daily_and_hourly(deployment: Deployment, capsys) -> None:
    def mass_failed() -> bool:
        deployment.alive()
        return any(r["TableName"] == BROKEN and r["UpdateType"] == "Mass" and r["NumberRecords"] == -1 for r in deployment.ledger())

    wait_for(mass_failed, 300, 2, f"{BROKEN}'s first Mass to fail")
    first_failure = time.monotonic()
    while time.monotonic() - first_failure < FIX_AFTER:
        deployment.alive()
        time.sleep(5)
    _bad_row(deployment.source, fix=True)
    fixed_at = datetime.now()

    def mass_succeeded() -> bool:
        deployment.alive()
        return any(r["TableName"] == BROKEN and r["UpdateType"] == "Mass" and r["WasSuccessful"] == 1 for r in deployment.ledger())

    wait_for(mass_succeeded, 420, 3, f"{BROKEN}'s Mass to succeed after the fix")
    while time.monotonic() - first_failure < RUN_FOR:
        deployment.alive()
        time.sleep(5)
    with pg_connect(deployment.target) as conn:
        (now,) = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::timestamp").fetchone()
    rows = [r for r in deployment.ledger() if r["OperationId"] != "earlier"]

    broken = [r for r in rows if r["TableName"] == BROKEN]
    masses = [r for r in broken if r["UpdateType"] == "Mass"]
    failures = [r for r in masses if r["NumberRecords"] == -1]
    success = next(r for r in masses if r["WasSuccessful"] == 1)
    assert len(failures) >= 3 and all("Julian" in (r["ErrorMessage"] or "") for r in failures), failures
    assert all(f["StartDT"] < success["StartDT"] for f in failures)
    # retried with backoff: CheckInterval (20 s) doubling; never sooner than its backoff
    starts = [r["StartDT"] for r in failures] + [success["StartDT"]]
    for n, (a, b) in enumerate(zip(starts, starts[1:]), start=1):
        assert b - a >= timedelta(seconds=20 * 2 ** (n - 1)), (n, a, b)
    # Daily and Hourly kept the table fresh while its Mass failed
    during = [r for r in broken if r["UpdateType"] in ("Daily", "Hourly") and r["WasSuccessful"] == 1
              and failures[0]["StartDT"] < r["StartDT"] < success["StartDT"]]
    assert {r["UpdateType"] for r in during} == {"Daily", "Hourly"}, during

    report = []
    for table in TABLES:
        mine = sorted((r for r in rows if r["TableName"] == table), key=lambda r: r["StartDT"])
        for a, b in zip(mine, mine[1:]):  # no overlap
            assert a["EndDT"] is not None and a["EndDT"] <= b["StartDT"], (table, a, b)
        ok = _successes(rows, table)
        assert ok, table
        gaps = [b - a for a, b in zip(ok, ok[1:])] + [now - ok[-1]]
        report.append((table, len(ok), max(gaps)))
        assert max(gaps) <= 2 * HOURLY, (table, max(gaps))

    # every sync DAG run was started by the dispatcher; its own grid: one run (it loops for the hour)
    runs = deployment.metadata("SELECT dag_id, run_id, run_type FROM dag_run WHERE dag_id LIKE 'datasync\\_\\_%%\\_\\_%%'")
    sync_runs = [r for r in runs if r[0].endswith(("__mass", "__daily", "__hourly"))]
    assert sync_runs and all(r[1].startswith("dispatched__") for r in sync_runs), sync_runs
    assert len(deployment.metadata("SELECT 1 FROM dag_run WHERE dag_id = 'datasync__dispatcher'")) == 1
    skipped = deployment.metadata(
        "SELECT dag_id, run_id FROM task_instance WHERE state = 'skipped' AND dag_id LIKE 'datasync\\_\\_%%'"
    )
    with capsys.disabled():
        print(f"\ncompressed run ({len(rows)} ledger rows, fix at {fixed_at:%H:%M:%S}): max staleness per table")
        for table, count, worst in report:
            print(f"  {table:16} {count:4} successes   max gap {worst}")
        print(f"  skipped task instances: {len(skipped)}; sync DAG runs: {len(sync_runs)}")
