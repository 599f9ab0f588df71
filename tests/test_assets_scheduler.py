"""Cache tables as assets on a real Airflow (api-server, scheduler, dag-processor; LocalExecutor on a
fresh PostgreSQL metadata DB; cache in a second fresh PostgreSQL database; the JDE demo source).

The downstream DAGs are docs/examples/downstream_on_cache_table.py, copied into the DAG folder:
- a Mass of WorkOrder_Curr starts ``report_refresh__work_orders`` with the sync's counts as the
  event's extra; ``extract__any_cache_table`` runs for WorkOrder_Curr and for Item_Curr;
- an Hourly that changed nothing emits no event and starts nothing; the next Hourly, after rows
  changed in the source, starts the downstream DAG again with its inserted/updated counts;
- the REST API's /api/v2/assets lists the cache tables (name, URI, group).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from airflow_harness import (
    REPO,
    Deployment,
    api_healthy,
    dags_folder,
    deployment_env,
    entry,
    free_port,
    fresh_database,
    migrate,
    pg_url,
    run_python,
    start_process,
    stop_processes,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(900)]

REPORT = "report_refresh__work_orders"
ANY = "extract__any_cache_table"
HOURLY = "datasync__WorkOrder_Curr__hourly"
OFF = {"Enabled": False, "IntervalMinutes": 1440}

INIT = """
import json
from datasync.engine import service
from datasync.airflow.setup import init_airflow
from datasync.engine.configuration import load_config
cfg = load_config()
service.init_db(cfg)
print("RESULT:" + json.dumps(init_airflow(cfg)))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from datasync_demo import generator as demo

    work = tmp_path_factory.mktemp("assets")
    source = work / "jde.db"
    demo.write_demo_source(source, 1500)
    config = write_config(
        work / "datasync.yaml",
        [
            entry("WorkOrder_Curr", "JdeWorkOrderFetcher", DailyConfig=OFF),
            entry("Item_Curr", "JdeItemFetcher", DailyConfig=OFF, HourlyConfig={"Enabled": False, "IntervalMinutes": 60}),
        ],
    )
    dags = dags_folder(work)
    shutil.copy(REPO / "docs" / "examples" / "downstream_on_cache_table.py", dags)
    port = free_port()
    procs: dict[str, subprocess.Popen] = {}
    with fresh_database("datasync_assets_airflow") as metadata_db, fresh_database("datasync_assets_cache") as target_db:
        env = deployment_env(
            work,
            dags,
            metadata_db,
            port,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            DATASYNC_CONFIG=str(config),
            AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
            AIRFLOW_CONN_DATASYNC_TARGET=pg_url(target_db, "postgres"),
        )
        logs = work / "logs"
        try:
            migrate(env)
            run_python(INIT, env)
            procs["api-server"] = start_process("api-server", ["api-server"], env, logs)
            wait_for(lambda: api_healthy(port), 120, 1, "the api-server")
            for name in ("scheduler", "dag-processor"):
                procs[name] = start_process(name, [name], env, logs)
            yield Deployment(env=env, target=target_db, source=source, logs=logs, procs=procs)
        finally:
            stop_processes(procs)


def _runs(d: Deployment, dag_id: str) -> list[dict[str, Any]]:
    """The DAG's runs, oldest first ([] while the dag-processor has not parsed it yet)."""
    import urllib.error

    d.alive()
    try:
        return d.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def _finished(d: Deployment, dag_id: str, count: int) -> list[dict[str, Any]]:
    runs = [r for r in _runs(d, dag_id) if r["state"] in ("success", "failed")]
    return runs if len(runs) >= count else []


def _xcom(d: Deployment, dag_id: str, run_id: str, task_id: str) -> Any:
    return d.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value?deserialize=true")["value"]


def _task_state(d: Deployment, dag_id: str, run_id: str, task_id: str) -> str:
    return d.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]


def _events(d: Deployment, name: str) -> list[tuple]:
    return d.metadata(
        "SELECT e.source_dag_id, e.source_run_id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
        "WHERE a.name = %s ORDER BY e.id",
        (name,),
    )


def _mass_rows(d: Deployment, table: str) -> int:
    (row,) = [r for r in d.ledger() if r["TableName"] == table and r["UpdateType"] == "Mass"]
    assert row["WasSuccessful"] == 1
    return row["NumberRecords"]


def test_downstream_runs_after_changes_only(deployment: Deployment) -> None:
    d = deployment
    # the scheduled Masses: both tables announce themselves, the downstream DAGs run
    (report,) = wait_for(lambda: _finished(d, REPORT, 1), 480, 3, "the downstream DAG after the Mass")
    assert report["state"] == "success" and report["run_type"] == "asset_triggered"
    (mass_event,) = _xcom(d, REPORT, report["dag_run_id"], "refresh")
    rows = _mass_rows(d, "WorkOrder_Curr")
    assert rows > 0
    assert {k: mass_event[k] for k in ("asset", "table", "sync_type", "rows", "inserted", "updated", "minimum_dt")} == {
        "asset": "WorkOrder_Curr", "table": "WorkOrder_Curr", "sync_type": "Mass", "rows": rows, "inserted": rows,
        "updated": 0, "minimum_dt": None,
    }  # fmt: skip
    mass_run = next(r for r in d.ledger() if r["TableName"] == "WorkOrder_Curr" and r["UpdateType"] == "Mass")
    assert mass_event["operation_id"] == mass_run["OperationId"]

    def both_tables_extracted() -> set[str]:
        tables = set()
        for run in _finished(d, ANY, 1):
            tables |= {e["table"] for e in _xcom(d, ANY, run["dag_run_id"], "extract")}
        return tables if tables == {"WorkOrder_Curr", "Item_Curr"} else set()

    wait_for(both_tables_extracted, 300, 3, "the any-of DAG to see both tables")

    assert len(_events(d, "WorkOrder_Curr")) == 1

    # an Hourly that re-reads every row but changes none: publish skipped, no event, no downstream run
    unchanged = d.trigger(HOURLY, {"full_refresh": True})
    wait_for(lambda: [r for r in _runs(d, HOURLY) if r["dag_run_id"] == unchanged and r["state"] == "success"], 300, 3,
             "the unchanged Hourly")  # fmt: skip
    result = _xcom(d, HOURLY, unchanged, "sync")
    assert result["rows"] == rows and (result["inserted"], result["updated"]) == (0, 0)
    assert _task_state(d, HOURLY, unchanged, "publish") == "skipped"
    assert len(_events(d, "WorkOrder_Curr")) == 1

    # rows change in the source; the next Hourly announces them and the downstream DAG runs again
    from datasync_demo import generator as demo

    updated, added = demo.touch(d.source, 5)["F4801"]
    changed = d.trigger(HOURLY, {"full_refresh": True})
    first, second = wait_for(lambda: _finished(d, REPORT, 2), 300, 3, "the downstream DAG after the changing Hourly")
    assert _task_state(d, HOURLY, changed, "publish") == "success"
    (event,) = _xcom(d, REPORT, second["dag_run_id"], "refresh")
    assert (event["sync_type"], event["inserted"], event["updated"]) == ("Hourly", added, updated)
    assert event["rows"] == rows + added and event["minimum_dt"] is None  # a full refresh read every row
    events = _events(d, "WorkOrder_Curr")
    assert [(e[0], e[2]["sync_type"]) for e in events] == [("datasync__WorkOrder_Curr__mass", "Mass"), (HOURLY, "Hourly")]
    assert events[1][1] == changed  # the changing run emitted it, the unchanged one nothing
    assert len(_finished(d, REPORT, 2)) == 2  # one downstream run per event


def test_rest_api_lists_the_cache_tables(deployment: Deployment) -> None:
    d = deployment
    target = d.target
    assets = {a["name"]: a for a in d.api("GET", "/api/v2/assets?limit=100")["assets"]}
    for table in ("WorkOrder_Curr", "Item_Curr"):
        asset = assets[table]
        assert asset["uri"] == f"postgres://127.0.0.1:5432/{target}/public/{table}"
        assert asset["group"] == "datasync"
        producers = {t["dag_id"] for t in asset.get("producing_tasks", [])}
        assert {f"datasync__{table}__mass"} <= producers
