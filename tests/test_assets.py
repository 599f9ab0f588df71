"""Cache tables as Airflow assets: names and URIs, the publish task's events (dag.test() on a real
metadata DB), and the OpenLineage events of the sync task (the provider's file transport)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import REPO, dag_test, entry, migrated_env, write_config

from datasync.config import DataSyncConfig
from datasync.connections.info import ConnectionInfo, parse_uri
from datasync.connections.naming import dataset
from datasync.core.errors import ConfigError
from datasync.engine.configuration import parse_config

DAGS = REPO / "dags"


# --------------------------------------------------------------------------- names and URIs


@pytest.mark.parametrize(
    ("uri", "schema", "namespace", "name", "asset_uri"),
    [
        ("mssql://sa:pw@sql01:1433/Cache", None, "mssql://sql01:1433", "Cache.dbo.WorkOrder_Curr",
         "mssql://sql01:1433/Cache/dbo/WorkOrder_Curr"),
        ("mssql://sql01/Cache", "rpt", "mssql://sql01:1433", "Cache.rpt.WorkOrder_Curr",
         "mssql://sql01:1433/Cache/rpt/WorkOrder_Curr"),
        ("postgresql://u@pg:5433/cache", None, "postgres://pg:5433", "cache.public.WorkOrder_Curr",
         "postgres://pg:5433/cache/public/WorkOrder_Curr"),
        ("sqlite:////var/lib/cache.db", None, "sqlite:///var/lib/cache.db", "WorkOrder_Curr",
         "sqlite:/var/lib/cache.db/WorkOrder_Curr"),
        ("oracle://u:p@ora:1521/JDE", "PRODDTA", "oracle://ora:1521", "PRODDTA.WorkOrder_Curr",
         "oracle://ora:1521/PRODDTA/WorkOrder_Curr"),
    ],
)  # fmt: skip
def test_dataset_names_follow_the_connection(uri: str, schema: str | None, namespace: str, name: str, asset_uri: str) -> None:
    ds = dataset(parse_uri("datasync_target", uri), "datasync_target", "WorkOrder_Curr", schema)
    assert (ds.namespace, ds.name, ds.uri) == (namespace, name, asset_uri)


def test_unknown_connection_and_prefix() -> None:
    ds = dataset(None, "datasync_target", "Item_Curr")
    assert (ds.namespace, ds.name, ds.uri) == ("datasync://datasync_target", "Item_Curr", "datasync://datasync_target/Item_Curr")
    odbc = ConnectionInfo("jde", "odbc", extra={"Driver": "x"})
    assert dataset(odbc, "jde", "F4801").uri == "datasync://jde/F4801"
    ds = dataset(None, "t", "Item_Curr", prefix="mssql://sql01:1433/Cache/dbo/")
    assert (ds.namespace, ds.name, ds.uri) == ("mssql://sql01:1433", "Cache.dbo.Item_Curr", "mssql://sql01:1433/Cache/dbo/Item_Curr")


def _config(**table: Any) -> DataSyncConfig:
    return parse_config({"DataSources": [entry("WorkOrder_Curr", "JdeWorkOrderFetcher", **table)]})


def test_cache_table_asset_from_config_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from datasync.airflow.assets import cache_table_asset

    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", "mssql://sa:secret@sql01:1433/Cache")
    cfg = _config()
    asset = cache_table_asset(cfg, cfg.table("WorkOrder_Curr"))
    assert (asset.name, asset.uri, asset.group) == ("WorkOrder_Curr", "mssql://sql01:1433/Cache/dbo/WorkOrder_Curr", "datasync")
    cfg = _config(AssetName="cache.work_orders", AssetNamespace="postgres://pg:5432/cache/rpt")
    asset = cache_table_asset(cfg, cfg.table("WorkOrder_Curr"))
    assert (asset.name, asset.uri) == ("cache.work_orders", "postgres://pg:5432/cache/rpt/WorkOrder_Curr")
    section = parse_config({"AssetNamespace": "mssql://sql02:1433/Rpt/dbo", "DataSources": [entry("Item_Curr")]})
    assert cache_table_asset(section, section.table("Item_Curr")).uri == "mssql://sql02:1433/Rpt/dbo/Item_Curr"
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", "postgres://pg:5432")  # no database: the provider refuses it
    cfg = _config()
    assert cache_table_asset(cfg, cfg.table("WorkOrder_Curr")).uri == "datasync://datasync_target/WorkOrder_Curr"
    monkeypatch.delenv("AIRFLOW_CONN_DATASYNC_TARGET")
    assert cache_table_asset(cfg, cfg.table("WorkOrder_Curr")).uri == "datasync://datasync_target/WorkOrder_Curr"


def test_cache_table_for_downstream_dags_is_the_published_asset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from datasync.airflow.assets import cache_table, cache_table_asset

    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", "mssql://sql01:1433/Cache")
    path = write_config(tmp_path / "datasync.yaml", [entry("WorkOrder_Curr", "JdeWorkOrderFetcher"), entry("Item_Curr", AssetName="items")])
    monkeypatch.setenv("DATASYNC_CONFIG", str(path))
    cfg = parse_config({"DataSources": [entry("WorkOrder_Curr", "JdeWorkOrderFetcher")]})
    assert cache_table("WorkOrder_Curr") == cache_table_asset(cfg, cfg.table("WorkOrder_Curr"))
    assert (cache_table("items").name, cache_table("Item_Curr").uri) == ("items", "mssql://sql01:1433/Cache/dbo/Item_Curr")
    with pytest.raises(ConfigError) as err:
        cache_table("Nope")
    assert "no cache table 'Nope'" in str(err.value) and "WorkOrder_Curr, items" in str(err.value)


def test_bad_asset_settings_name_the_field() -> None:
    with pytest.raises(ConfigError) as err:
        _config(AssetNamespace="sql01/Cache")
    assert "AssetNamespace" in str(err.value) and "is not a URI prefix" in str(err.value)
    with pytest.raises(ConfigError) as err:
        _config(AssetName="  ")
    assert "AssetName" in str(err.value)


def test_publish_decision() -> None:
    from datasync.airflow.assets import event_extra, publish_reason

    base = {"table": "T", "operation_id": "op", "rows": 10, "inserted": 0, "updated": 0, "deleted": None, "minimum_dt": "x"}
    assert publish_reason({**base, "sync_type": "Hourly"}) is None
    assert publish_reason({**base, "sync_type": "Hourly", "updated": 3}) == "3 rows changed"
    assert publish_reason({**base, "sync_type": "Daily", "deleted": 2}) == "2 rows changed"
    assert publish_reason({**base, "sync_type": "Mass", "rows": 0}) == "a Mass sync reloaded the table"
    assert publish_reason(None) is None
    assert event_extra({**base, "sync_type": "Hourly", "seconds": 1.0, "data_update_id": 4}) == {
        "table": "T", "sync_type": "Hourly", "rows": 10, "inserted": 0, "updated": 0, "deleted": None,
        "operation_id": "op", "minimum_dt": "x",
    }  # fmt: skip


def test_every_sync_dag_publishes_its_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    cfg = write_config(tmp_path / "datasync.yaml", [entry("WorkOrder_Curr", "JdeWorkOrderFetcher"), entry("Item_Curr", AssetName="items")])
    monkeypatch.setenv("DATASYNC_CONFIG", str(cfg))
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", "mssql://sql01:1433/Cache")
    bag = DagBag(dag_folder=str(DAGS), safe_mode=True)
    for table, name in (("WorkOrder_Curr", "WorkOrder_Curr"), ("Item_Curr", "items")):
        for sync_type in ("mass", "daily", "hourly"):
            dag = bag.dags[f"datasync__{table}__{sync_type}"]
            publish = dag.get_task("publish")
            assert publish.upstream_task_ids == {"sync"} and not dag.get_task("sync").outlets
            (asset,) = publish.outlets
            assert (asset.name, asset.uri) == (name, f"mssql://sql01:1433/Cache/dbo/{table}")


def test_publish_waits_for_the_post_processor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    cfg = write_config(tmp_path / "datasync.yaml", [entry("WorkOrder_Curr", "JdeWorkOrderFetcher", PostProcessorTypeName="LogResultPostProcessor")])
    monkeypatch.setenv("DATASYNC_CONFIG", str(cfg))
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", "mssql://sql01:1433/Cache")
    bag = DagBag(dag_folder=str(DAGS), safe_mode=True)
    for sync_type in ("mass", "daily", "hourly"):
        dag = bag.dags[f"datasync__WorkOrder_Curr__{sync_type}"]
        assert dag.get_task("post_process").upstream_task_ids == {"sync"}
        assert dag.get_task("publish").upstream_task_ids == {"post_process"}


# --------------------------------------------------------------------------- events (dag.test)


def _events(home: Path) -> list[dict[str, Any]]:
    """Asset events in the metadata DB (the SQLite file of the test's Airflow home)."""
    conn = sqlite3.connect(home / "airflow.db")
    try:
        rows = conn.execute(
            "SELECT a.name, a.uri, a.\"group\", e.extra, e.source_dag_id, e.source_task_id, e.source_run_id "
            "FROM asset_event e JOIN asset a ON a.id = e.asset_id ORDER BY e.id"
        ).fetchall()
    finally:
        conn.close()
    keys = ("name", "uri", "group", "extra", "dag_id", "task_id", "run_id")
    return [dict(zip(keys, (*r[:3], json.loads(r[3]), *r[4:]))) for r in rows]


def _env(
    tmp_path: Path, columns: dict[str, str] | None = None, post_processor: str | None = None, **extra: str
) -> tuple[dict[str, str], Path, Path]:
    from datasync_demo import generator as demo

    source = tmp_path / "jde.db"
    demo.write_demo_source(source, 2000)
    target = tmp_path / "cache.db"
    no_daily = {"Enabled": False, "IntervalMinutes": 1440}
    cfg = write_config(
        tmp_path / "datasync.yaml",
        [
            entry("WorkOrder_Curr", "JdeWorkOrderFetcher", DailyConfig=no_daily, Columns=columns or {},
                  **({"PostProcessorTypeName": post_processor} if post_processor else {})),
            entry("Broken", "JdeLotMasterFetcher", source="CMS", DailyConfig=no_daily),
        ],
    )
    env = migrated_env(
        tmp_path / "home",
        DAGS,
        DATASYNC_CONFIG=str(cfg),
        AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
        AIRFLOW_CONN_DATASYNC_CMS=f"sqlite:///{tmp_path / 'no-such-dir' / 'cms.db'}",
        AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{target}",
        **extra,
    )
    return env, source, target


@pytest.mark.airflow
def test_publish_emits_after_changes_only(tmp_path: Path) -> None:
    env, source, target = _env(tmp_path)
    out = dag_test(
        env,
        [
            {"dag_id": "datasync__WorkOrder_Curr__mass"},
            {"dag_id": "datasync__WorkOrder_Curr__hourly"},  # nothing changed since the Mass
            {"touch": str(source), "pct": 5},
            {"dag_id": "datasync__WorkOrder_Curr__hourly"},
            {"dag_id": "datasync__Broken__mass"},  # its source does not exist
        ],
        DAGS,
    )
    assert out["bag_errors"] == {}
    mass, unchanged, touched, changed, broken = out["steps"]
    assert mass["tasks"] == {"sync": "success", "publish": "success"}
    assert unchanged["tasks"] == {"priority_gate": "success", "sync": "success", "publish": "skipped"}
    assert (unchanged["xcom"]["sync"]["inserted"], unchanged["xcom"]["sync"]["updated"]) == (0, 0)
    assert changed["tasks"] == {"priority_gate": "success", "sync": "success", "publish": "success"}
    assert broken["state"] == "failed" and broken["tasks"] == {"sync": "failed", "publish": "upstream_failed"}

    uri = f"sqlite:{target}/WorkOrder_Curr"
    events = _events(tmp_path / "home")
    assert [(e["name"], e["uri"], e["group"], e["dag_id"], e["task_id"], e["run_id"]) for e in events] == [
        ("WorkOrder_Curr", uri, "datasync", "datasync__WorkOrder_Curr__mass", "publish", mass["run_id"]),
        ("WorkOrder_Curr", uri, "datasync", "datasync__WorkOrder_Curr__hourly", "publish", changed["run_id"]),
    ]  # none after the unchanged Hourly, none for Broken
    rows = sqlite3.connect(target).execute('SELECT COUNT(*) FROM "WorkOrder_Curr"').fetchone()[0]
    updated, added = touched["touched"]["F4801"]
    first, second = (e["extra"] for e in events)
    assert first == {
        "table": "WorkOrder_Curr", "sync_type": "Mass", "rows": rows - added, "inserted": rows - added, "updated": 0,
        "deleted": None, "operation_id": mass["xcom"]["sync"]["operation_id"], "minimum_dt": None,
    }  # fmt: skip
    sync = changed["xcom"]["sync"]
    assert second == {
        "table": "WorkOrder_Curr", "sync_type": "Hourly", "rows": sync["rows"], "inserted": added, "updated": updated,
        "deleted": None, "operation_id": sync["operation_id"], "minimum_dt": sync["minimum_dt"],
    }  # fmt: skip
    assert second["minimum_dt"] and second["operation_id"] != first["operation_id"]
    ledger = sqlite3.connect(target).execute(
        'SELECT "OperationId", "RowsInserted", "RowsUpdated" FROM "DataUpdate" WHERE "TableName" = ? ORDER BY "DataUpdateID"',
        ("WorkOrder_Curr",),
    ).fetchall()
    assert ledger[-1] == (second["operation_id"], added, updated)  # the extra is the ledger's


# --------------------------------------------------------------------------- OpenLineage (file transport)


def _lineage_events(path: Path, task_id: str = "sync") -> list[dict[str, Any]]:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in events if e.get("job", {}).get("name", "").endswith(f".{task_id}")]


@pytest.mark.airflow
def test_openlineage_start_complete_and_fail_of_real_syncs(tmp_path: Path) -> None:
    from datasync.fetchers.jde import JdeWorkOrderFetcher

    log_file = tmp_path / "lineage.jsonl"
    transport = json.dumps({"type": "file", "log_file_path": str(log_file), "append": True})
    env, source, target = _env(tmp_path, columns={"DOCO": "WorkOrderNumber"}, AIRFLOW__OPENLINEAGE__TRANSPORT=transport)
    out = dag_test(env, [{"dag_id": "datasync__WorkOrder_Curr__mass"}, {"dag_id": "datasync__Broken__mass"}], DAGS)
    mass, broken = out["steps"]
    assert mass["tasks"]["sync"] == "success" and broken["tasks"]["sync"] == "failed"
    events = _lineage_events(log_file)
    by_job: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_job.setdefault(e["job"]["name"], []).append(e)
    work = by_job["datasync__WorkOrder_Curr__mass.sync"]
    assert [e["eventType"] for e in work] == ["START", "COMPLETE"]
    start, complete = work
    for event in work:
        (inp,) = event["inputs"]
        assert (inp["namespace"], inp["name"]) == (f"sqlite://{source}", "F4801")
        (outp,) = event["outputs"]
        assert (outp["namespace"], outp["name"]) == (f"sqlite://{target}", "WorkOrder_Curr")
        fields = {f["name"]: f["type"] for f in outp["facets"]["schema"]["fields"]}
        columns = [c.alias for c in JdeWorkOrderFetcher.columns]
        assert list(fields) == ["WorkOrderNumber", *columns[1:], "LastUpdateDT"]  # the Columns map applied
        assert fields["MCU"] == "string(12)" and fields["LastUpdateDT"] == "datetime"
        lineage = outp["facets"]["columnLineage"]["fields"]
        assert [(f["namespace"], f["name"], f["field"]) for f in lineage["WorkOrderNumber"]["inputFields"]] == [
            (f"sqlite://{source}", "F4801", "WADOCO")
        ]
        assert [f["field"] for f in lineage["SRST"]["inputFields"]] == ["WASRST"]
        assert [f["field"] for f in lineage["LastUpdateDT"]["inputFields"]] == ["WAUPMJ", "WATDAY"]
        assert set(lineage) == set(fields)
    assert "outputStatistics" not in (start["outputs"][0].get("outputFacets") or {})
    rows = sqlite3.connect(target).execute('SELECT COUNT(*) FROM "WorkOrder_Curr"').fetchone()[0]
    assert rows == mass["xcom"]["sync"]["rows"] > 0
    assert complete["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == rows

    fail = by_job["datasync__Broken__mass.sync"]
    assert [e["eventType"] for e in fail] == ["START", "FAIL"]
    error = fail[1]["run"]["facets"]["errorMessage"]
    assert "cannot open SQLite source" in error["message"] and error["programmingLanguage"] == "python"
    (outp,) = fail[1]["outputs"]
    assert (outp["namespace"], outp["name"]) == (f"sqlite://{target}", "Broken")
    assert fail[1]["inputs"][0]["name"] == "F4108"
    assert "outputStatistics" not in (outp.get("outputFacets") or {})


@pytest.mark.airflow
def test_a_failed_post_processor_emits_no_event(tmp_path: Path) -> None:
    env, _, _ = _env(tmp_path, post_processor="FailingPostProcessor")
    failed = dag_test({**env, "DATASYNC_TEST_POSTPROCESS_FAIL": "audit table is full"},
                      [{"dag_id": "datasync__WorkOrder_Curr__mass"}], DAGS)["steps"][0]
    assert failed["tasks"] == {"sync": "success", "post_process": "failed", "publish": "upstream_failed"}
    assert _events(tmp_path / "home") == []
    fixed = dag_test(env, [{"dag_id": "datasync__WorkOrder_Curr__mass"}], DAGS)["steps"][0]
    assert fixed["tasks"] == {"sync": "success", "post_process": "success", "publish": "success"}
    assert [(e["task_id"], e["run_id"]) for e in _events(tmp_path / "home")] == [("publish", fixed["run_id"])]
