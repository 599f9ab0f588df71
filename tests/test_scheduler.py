"""A real Airflow: api-server, scheduler (LocalExecutor), dag-processor and triggerer on a fresh
PostgreSQL metadata database, with the pool made by ``init_airflow``. The cache is a second fresh
PostgreSQL database (a SQLite target has one writer at a time, which would serialize the syncs
below the pool and hide what the pool does); the source is the JDE demo file.

One deployment, several outcomes (each asserted on real state: target ledger, metadata DB, e-mails):
- the dispatcher starts the due DAGs by itself (every table mass-synced, recovery ran after deploy);
- never more sync tasks at once than the pool has slots, and the cap is reached;
- a sync slower than its deadline mails "missed its deadline" with the table name (triggerer);
- a sync whose source is missing fails without retry and mails its table name;
- a backfill of an hourly DAG syncs each run from its data interval start.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import (
    AIRFLOW,
    Deployment,
    SmtpSink,
    api_healthy,
    body_of,
    dags_folder,
    deployment_env,
    entry,
    free_port,
    fresh_database,
    max_overlap,
    migrate,
    pg_url,
    run,
    run_python,
    start_process,
    stop_processes,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(900)]

SLOTS = 2
FAST_TABLES = ("Alpha", "Bravo", "Charlie", "Delta")
FAST_DELAY = 5  # seconds each fast sync holds its pool slot (at least)
LATE_DELAY = 75  # longer than the Late table's 1-minute deadline


@pytest.fixture(scope="module")
def metadata_db() -> Iterator[str]:
    with fresh_database("datasync_airflow_test") as name:
        yield name


@pytest.fixture(scope="module")
def target_db() -> Iterator[str]:
    with fresh_database("datasync_cache_test") as name:
        yield name


def _entries() -> list[dict[str, Any]]:
    hourly_only = {"Enabled": False, "IntervalMinutes": 1440}
    out = [entry(name, "DelayedJdeItemFetcher", DailyConfig=hourly_only) for name in FAST_TABLES]
    out.append(
        entry(
            "Late",
            "DelayedJdeItemFetcher",
            DeadlineMinutes=1,
            DailyConfig=hourly_only,
            HourlyConfig={"Enabled": False, "IntervalMinutes": 60},
        )
    )
    out.append(
        entry(
            "Broken",
            "JdeLotMasterFetcher",
            source="CMS",  # its connection points at a file that does not exist
            DailyConfig=hourly_only,
            HourlyConfig={"Enabled": False, "IntervalMinutes": 60},
        )
    )
    return out


INIT_AIRFLOW = """
import json
import airflow_harness  # registers the test's fetcher, which the config names
from datasync.engine import service
from datasync.airflow.setup import init_airflow
from datasync.engine.configuration import load_config
cfg = load_config()
service.init_db(cfg)  # what the docs say to run first (datasync init-db)
print("RESULT:" + json.dumps([init_airflow(cfg), init_airflow(cfg)]))
"""


@pytest.fixture(scope="module")
def deployment(metadata_db: str, target_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from datasync_demo import generator as demo

    work = tmp_path_factory.mktemp("scheduler")
    source = work / "jde.db"
    demo.write_demo_source(source, 3000)
    config = write_config(work / "datasync.yaml", _entries(), MaxDegreeOfParallelism=SLOTS, CheckInterval="00:01:00",
                          Alerts={"Emails": ["ops@example.com"]})
    dags = dags_folder(work)
    port = free_port()
    smtp = SmtpSink().__enter__()
    env = deployment_env(
        work,
        dags,
        metadata_db,
        port,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="16",
        DATASYNC_CONFIG=str(config),
        AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
        AIRFLOW_CONN_DATASYNC_CMS=f"sqlite:///{work / 'no-such-dir' / 'cms.db'}",
        AIRFLOW_CONN_DATASYNC_TARGET=pg_url(target_db, "postgres"),
        AIRFLOW_CONN_SMTP_DEFAULT=smtp.conn_uri,
        DATASYNC_TEST_DELAY=str(FAST_DELAY),
        DATASYNC_TEST_DELAY_LATE=str(LATE_DELAY),
    )
    logs = work / "logs"
    procs: dict[str, subprocess.Popen] = {}
    try:
        migrate(env)
        init_lines = run_python(INIT_AIRFLOW, env)
        procs["api-server"] = start_process("api-server", ["api-server"], env, logs)
        wait_for(lambda: api_healthy(port), 120, 1, "the api-server")
        for name in ("scheduler", "dag-processor", "triggerer"):
            procs[name] = start_process(name, [name], env, logs)
        yield Deployment(
            env=env, target=target_db, source=source, smtp=smtp, logs=logs, procs=procs, init_lines=init_lines
        )
    finally:
        stop_processes(procs)
        smtp.__exit__(None, None, None)


# --------------------------------------------------------------------------- the tests


def test_init_airflow_creates_the_pool_idempotently(deployment: Deployment) -> None:
    first, second = deployment.init_lines
    assert first[0] == f"pool datasync: created with {SLOTS} slots"
    assert second[0] == f"pool datasync: {SLOTS} slots (unchanged)"
    assert any(line.startswith("connection datasync_target (target): postgres") for line in first)
    assert any(line.startswith("connection datasync_jde (JDE source): sqlite") for line in first)
    assert deployment.metadata("SELECT slots FROM slot_pool WHERE pool = 'datasync'") == [(SLOTS,)]


def test_scheduler_runs_due_dags_within_the_pool(deployment: Deployment) -> None:
    def all_masses_done() -> bool:
        deployment.alive()
        done = {r["TableName"] for r in deployment.ledger() if r["UpdateType"] == "Mass" and r["NumberRecords"] != -2}
        return {*FAST_TABLES, "Late", "Broken"} <= done

    wait_for(all_masses_done, 420, 2, "every table's scheduled Mass sync to finish")
    ledger = deployment.ledger()
    items = _source_count(deployment.source)
    for table in FAST_TABLES + ("Late",):
        (mass,) = [r for r in ledger if r["TableName"] == table and r["UpdateType"] == "Mass"]
        assert mass["RunId"].startswith("dispatched__mass__"), mass  # started by datasync__dispatcher
        assert (mass["WasSuccessful"], mass["NumberRecords"]) == (1, items)
    # the pool cap: never more syncs at once than slots, and the cap was reached
    # (the dispatcher triggers the runs a moment apart, so the cap shows on the task instances, which
    # hold their slot from process start; their ledger rows need not coincide)
    intervals = [(r["StartDT"], r["EndDT"]) for r in ledger if r["EndDT"]]
    assert max_overlap(intervals) <= SLOTS, intervals
    tis = deployment.metadata(
        "SELECT start_date, end_date FROM task_instance WHERE pool = 'datasync' AND start_date IS NOT NULL AND end_date IS NOT NULL"
    )
    assert len(tis) >= len(FAST_TABLES) + 2
    assert max_overlap([(s, e) for s, e in tis]) == SLOTS
    # recovery ran by itself right after the deploy
    recovery = deployment.metadata(
        "SELECT state FROM task_instance WHERE dag_id = 'datasync__recovery' AND state = 'success'"
    )
    assert recovery


def test_deadline_miss_is_mailed_with_the_table_name(deployment: Deployment) -> None:
    mail = deployment.smtp.wait("Late Mass sync missed its 1 min deadline", timeout=240)
    assert mail["X-Envelope-To"] == "ops@example.com"
    body = body_of(mail)
    assert "Late" in body and "datasync__Late__mass" in body and "dispatched__" in body


def test_task_failure_is_mailed_once_with_the_table_name(deployment: Deployment) -> None:
    mail = deployment.smtp.wait("Broken Mass sync failed", timeout=240)
    assert "datasync__Broken__mass" in body_of(mail) and "cannot open SQLite source" in body_of(mail)

    def states() -> list[tuple]:
        return deployment.metadata(
            "SELECT state, try_number FROM task_instance WHERE dag_id = 'datasync__Broken__mass' AND task_id = 'sync'"
        )

    # the failure callback mails before the task's final state is stored: wait for it
    wait_for(lambda: any(s[0] == "failed" for s in states()), 120, 1, "the failed Broken Mass task")
    rows = states()
    finished = [state for state in rows if state[0] in ("failed", "success")]  # a retry may be queued
    assert finished and all(state == ("failed", 1) for state in finished), rows
    assert len(deployment.smtp.matching("Broken Mass sync failed")) == 1


def test_backfill_syncs_each_run_from_its_interval_start(deployment: Deployment) -> None:
    dag_id = "datasync__Delta__hourly"  # no run of its own yet: the Mass satisfied it for an hour
    wait_for(
        lambda: deployment.metadata(
            "SELECT 1 FROM dag_run WHERE dag_id = 'datasync__Delta__mass' AND state IN ('success', 'failed')"
        ),
        300,
        2,
        "the dispatched Mass of Delta",
    )
    run(
        [AIRFLOW, "backfill", "create", "--dag-id", dag_id, "--from-date", "2024-05-01T00:00:00+00:00",
         "--to-date", "2024-05-01T01:59:00+00:00", "--reprocess-behavior", "completed"],
        deployment.env,
    )  # fmt: skip

    def backfill_rows() -> list[dict[str, Any]]:
        deployment.alive()
        rows = [r for r in deployment.ledger() if r["TableName"] == "Delta" and (r["RunId"] or "").startswith("backfill__")]
        return rows if len(rows) == 2 and all(r["NumberRecords"] != -2 for r in rows) else []

    rows = wait_for(backfill_rows, 300, 2, "two backfill syncs of Delta")
    assert sorted(r["MinimumDT"] for r in rows) == [datetime(2024, 5, 1, 0, 0), datetime(2024, 5, 1, 1, 0)]
    assert all(r["WasSuccessful"] == 1 and r["UpdateType"] == "Hourly" for r in rows)


def _source_count(source: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(source)
    try:
        return conn.execute("SELECT COUNT(*) FROM F4101").fetchone()[0]
    finally:
        conn.close()
