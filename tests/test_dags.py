"""The DAG files: what Airflow's DagBag loads from a config, and how bad entries are reported."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from airflow_harness import REPO, entry, write_config

from datasync.airflow.dag_factory import (
    HEALTH_DAG_ID,
    VERIFY_DAG_ID,
    PURGE_DAG_ID,
    DISPATCHER_DAG_ID,
    RECOVERY_DAG_ID,
    load_tolerant,
    resolve_config_path,
    sync_dag_id,
)
from datasync.core.errors import ConfigError

DAGS = REPO / "dags"
MAIN_FILE = "datasync_dags.py"
CHECK_FILE = "datasync_config_check.py"


def dagbag(monkeypatch: pytest.MonkeyPatch, config: Path, strict: bool = False):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DATASYNC_CONFIG", str(config))
    if strict:
        monkeypatch.setenv("DATASYNC_STRICT_CONFIG", "1")
    else:
        monkeypatch.delenv("DATASYNC_STRICT_CONFIG", raising=False)
    return DagBag(dag_folder=str(DAGS), safe_mode=True)


def errors_by_file(bag) -> dict[str, str]:
    return {Path(k).name: v for k, v in bag.import_errors.items()}


# --------------------------------------------------------------------------- the example config


def test_example_config_loads_every_dag(monkeypatch: pytest.MonkeyPatch) -> None:
    from datasync.engine.configuration import load_config

    cfg = load_config(REPO / "include" / "datasync.yaml")
    bag = dagbag(monkeypatch, REPO / "include" / "datasync.yaml")
    assert bag.import_errors == {}
    expected = {sync_dag_id(t.table_name, s) for t in cfg.enabled_tables() for s in t.enabled_types()}
    expected |= {DISPATCHER_DAG_ID, RECOVERY_DAG_ID, PURGE_DAG_ID, HEALTH_DAG_ID, VERIFY_DAG_ID}
    assert set(bag.dag_ids) == expected
    assert "datasync__Item_Curr__hourly" not in bag.dag_ids  # disabled schedule: no DAG


def test_default_config_path_is_the_repos_include_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATASYNC_CONFIG", raising=False)
    assert resolve_config_path(DAGS / MAIN_FILE) == REPO / "include" / "datasync.yaml"
    monkeypatch.setenv("DATASYNC_CONFIG", "include/datasync.yaml")
    monkeypatch.chdir("/")
    assert resolve_config_path(DAGS / MAIN_FILE) == REPO / "include" / "datasync.yaml"


# --------------------------------------------------------------------------- shape of the DAGs


@pytest.fixture
def cfg_path(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "datasync.yaml",
        [
            entry("Items", "JdeItemFetcher", DeadlineMinutes=45, AlertEmails=["items@example.com"]),
            entry("Lots", "JdeLotMasterFetcher", HourlyConfig={"Enabled": True, "IntervalMinutes": 30}),
            entry("Events", "CmsMisDataFetcher", source="CMS", DailyConfig={"Enabled": False, "IntervalMinutes": 1440}),
            entry("Off", "JdeItemFetcher", IsEnabled=False),
        ],
        MaxDegreeOfParallelism=3,
        CheckInterval="00:05:00",
        Alerts={"Emails": ["ops@example.com"], "SmtpConnId": "smtp_alerts", "FromEmail": "cache@example.com"},
    )


def test_sync_dags_schedules_pool_params_and_docs(monkeypatch: pytest.MonkeyPatch, cfg_path: Path) -> None:
    from datasync.airflow.timetables import DispatchedTimetable

    bag = dagbag(monkeypatch, cfg_path)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "datasync__Items__mass", "datasync__Items__daily", "datasync__Items__hourly",
        "datasync__Lots__mass", "datasync__Lots__daily", "datasync__Lots__hourly",
        "datasync__Events__mass", "datasync__Events__hourly",
        DISPATCHER_DAG_ID, RECOVERY_DAG_ID, PURGE_DAG_ID, HEALTH_DAG_ID, VERIFY_DAG_ID,
    }  # fmt: skip

    for dag_id, minutes in {
        "datasync__Items__mass": 10080,
        "datasync__Items__daily": 1440,
        "datasync__Lots__hourly": 30,
        "datasync__Events__hourly": 60,
    }.items():
        dag = bag.dags[dag_id]
        assert isinstance(dag.timetable, DispatchedTimetable), dag_id  # started by the dispatcher
        assert dag.timetable.delta == timedelta(minutes=minutes)
        assert dag.catchup is False and dag.max_active_runs == 1
        assert dag.is_paused_upon_creation is False
        sync = dag.get_task("sync")
        assert sync.pool == "datasync"
        assert type(sync).__name__ == "DataSyncOperator"
        assert sync.retries == 2 and sync.retry_exponential_backoff == 2.0

    mass = bag.dags["datasync__Items__mass"]
    assert [t.task_id for t in mass.tasks] == ["sync", "publish"]  # Mass never waits for a gate
    assert mass.get_task("publish").upstream_task_ids == {"sync"}
    assert mass.params == {} or dict(mass.params) == {}
    hourly = bag.dags["datasync__Items__hourly"]
    assert {t.task_id for t in hourly.tasks} == {"priority_gate", "sync", "publish"}
    assert hourly.get_task("sync").upstream_task_ids == {"priority_gate"}
    assert hourly.get_task("priority_gate").pool == "default_pool"
    params = hourly.params
    assert params["full_refresh"] is False and params["minimum_dt"] is None
    assert params.get_param("full_refresh").schema["type"] == "boolean"
    minimum = params.get_param("minimum_dt")
    assert (minimum.schema["type"], minimum.schema["format"]) == (["null", "string"], "date-time")
    assert minimum.description and params.get_param("full_refresh").description
    assert set(hourly.tags) == {"datasync", "hourly", "Items", "JDE"}
    doc = hourly.doc_md
    for fact in ("Items", "JdeItemFetcher", "`ITM`", "datasync_jde", "every 1 hour", "datasync_target"):
        assert fact in doc, fact
    events_doc = bag.dags["datasync__Events__mass"].doc_md
    assert "`MisDataId`" in events_doc and "CMS" in events_doc and "datasync_cms" in events_doc


def test_the_dispatcher_can_have_a_queue_of_its_own(monkeypatch: pytest.MonkeyPatch, cfg_path: Path) -> None:
    from airflow.configuration import conf

    default = conf.get("operators", "default_queue")
    assert dagbag(monkeypatch, cfg_path).dags[DISPATCHER_DAG_ID].get_task("dispatch").queue == default
    monkeypatch.setenv("AIRFLOW__DATASYNC__DISPATCHER_QUEUE", "dispatcher")
    bag = dagbag(monkeypatch, cfg_path)
    assert bag.dags[DISPATCHER_DAG_ID].get_task("dispatch").queue == "dispatcher"
    assert bag.dags["datasync__Items__mass"].get_task("sync").queue == default  # only the dispatcher's task


def test_housekeeping_dags(monkeypatch: pytest.MonkeyPatch, cfg_path: Path) -> None:
    bag = dagbag(monkeypatch, cfg_path)
    # every CheckInterval, one active run (each loops about an hour): after a run ends, the next starts
    dispatcher = bag.dags[DISPATCHER_DAG_ID]
    assert dispatcher.timetable.delta == timedelta(minutes=5)
    assert dispatcher.description.endswith(", one run at a time, each looping about an hour")
    assert [t.task_id for t in dispatcher.tasks] == ["dispatch"]
    assert dispatcher.get_task("dispatch").config_path == str(cfg_path)  # re-read every cycle
    assert bag.dags[RECOVERY_DAG_ID].timetable.delta == timedelta(hours=1)  # CheckInterval (5 min), at least 1 h
    assert bag.dags[PURGE_DAG_ID].timetable.delta == timedelta(days=1)
    assert bag.dags[HEALTH_DAG_ID].timetable.delta == timedelta(minutes=15)  # at least 15 min
    # the schedule in words in every description (the UI's schedule column says "1:00:00")
    assert bag.dags[RECOVERY_DAG_ID].description.endswith(", every 1 hour")
    assert bag.dags[PURGE_DAG_ID].description.endswith(", every 1 day")
    assert bag.dags[HEALTH_DAG_ID].description.endswith(", every 15 minutes")
    assert bag.dags[VERIFY_DAG_ID].description.endswith(", weekly, Sundays 03:00 UTC")
    assert bag.dags["datasync__Items__hourly"].description.endswith(", every 1 hour")
    for dag_id in (DISPATCHER_DAG_ID, RECOVERY_DAG_ID, PURGE_DAG_ID, HEALTH_DAG_ID):
        dag = bag.dags[dag_id]
        assert dag.is_paused_upon_creation is False and dag.max_active_runs == 1
        assert all(t.pool == "default_pool" for t in dag.tasks)
    verify = bag.dags[VERIFY_DAG_ID]  # weekly, one task per enabled table, in the datasync pool, not retried
    # weekly at a quiet time (not at boot, when every table's first Mass runs)
    assert verify.timetable.expression == "0 3 * * 0" and not verify.timetable.run_immediately
    assert verify.start_date is None  # with one, a cron trigger runs its last tick at once (at boot)
    assert verify.max_active_runs == 1
    assert sorted(t.task_id for t in verify.tasks) == ["verify__Events", "verify__Items", "verify__Lots"]
    assert all(t.pool == "datasync" and t.retries == 0 and t.table == t.task_id.split("__")[1] for t in verify.tasks)


def test_deadline_alerts_and_failure_mails_carry_table_and_recipients(
    monkeypatch: pytest.MonkeyPatch, cfg_path: Path
) -> None:
    from airflow.sdk.definitions.deadline import DeadlineReference

    bag = dagbag(monkeypatch, cfg_path)
    items = bag.dags["datasync__Items__hourly"]
    (alert,) = items.deadline if isinstance(items.deadline, list) else [items.deadline]
    assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert alert.interval == timedelta(minutes=45)  # the table's DeadlineMinutes
    assert alert.callback.path == "airflow.providers.smtp.notifications.smtp.SmtpNotifier"
    kwargs = alert.callback.kwargs
    assert kwargs["to"] == ["items@example.com", "ops@example.com"]
    assert kwargs["smtp_conn_id"] == "smtp_alerts" and kwargs["from_email"] == "cache@example.com"
    assert "Items" in kwargs["subject"] and "Items" in kwargs["html_content"]

    lots = bag.dags["datasync__Lots__hourly"]
    (lots_alert,) = lots.deadline if isinstance(lots.deadline, list) else [lots.deadline]
    assert lots_alert.interval == timedelta(minutes=30)  # derived from IntervalMinutes (30)
    assert bag.dags["datasync__Lots__mass"].deadline is not None
    mass_alert = bag.dags["datasync__Lots__mass"].deadline
    mass_alert = mass_alert[0] if isinstance(mass_alert, list) else mass_alert
    assert mass_alert.interval == timedelta(hours=12)  # weekly Mass: capped

    notifier = items.get_task("sync").on_failure_callback
    notifier = notifier[0] if isinstance(notifier, list) else notifier
    notifier = notifier.notifier  # mails a type's first failure, not the dispatcher's backoff retries after it
    assert "Items Hourly sync" in notifier.subject and notifier.to == ["items@example.com", "ops@example.com"]
    housekeeping = [("datasync__dispatcher", "dispatch"), ("datasync__recovery", "recover"), ("datasync__purge", "purge")]
    for dag_id, task_id in housekeeping:
        callback = bag.dags[dag_id].get_task(task_id).on_failure_callback
        callback = callback[0] if isinstance(callback, list) else callback
        assert type(callback).__name__ == "UnlessStillFailing"  # silent while its previous run failed too
        assert callback.notifier.to == ["ops@example.com"]


def test_no_recipients_no_alerts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bag = dagbag(monkeypatch, write_config(tmp_path / "c.yaml", [entry("Items")]))
    dag = bag.dags["datasync__Items__daily"]
    assert not dag.deadline
    assert not dag.get_task("sync").on_failure_callback


def test_target_type_mssql_uses_mssql_merge_operator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bag = dagbag(monkeypatch, write_config(tmp_path / "c.yaml", [entry("Items")], TargetType="mssql"))
    assert type(bag.dags["datasync__Items__daily"].get_task("sync")).__name__ == "MssqlMergeOperator"


@pytest.mark.parametrize(
    "uri, described",
    [
        ("mssql://reader:pw@jde-sql:1433/JDE_PROD", "MssqlSourceReader (pymssql) for the mssql connection, WITH (NOLOCK)"),
        ("oracle://reader:pw@jde-ora:1521/JDEPDB", "OracleSourceReader (python-oracledb data frames) for the oracle connection"),
        (None, "picked by the connection's type when the task runs (mssql, odbc, oracle, postgres, sqlite)"),
    ],
    ids=["mssql", "oracle", "not-in-environment"],
)
def test_jde_on_sql_server_or_oracle_builds_its_dags_and_names_the_reader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uri: str | None, described: str
) -> None:
    jde = {"ConnId": "datasync_jde", "Schema": "PRODDTA", "TimeZone": "America/Chicago"}
    if uri and uri.startswith("mssql"):
        jde["ReadUncommitted"] = True
    path = write_config(
        tmp_path / "datasync.yaml",
        [entry("WorkOrders", "JdeWorkOrderFetcher"), entry("LotUsage", "JdeLotUsageFetcher")],
        SourceSystems={"JDE": jde},
    )
    if uri:
        monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", uri)
    else:
        monkeypatch.delenv("AIRFLOW_CONN_DATASYNC_JDE", raising=False)
    bag = dagbag(monkeypatch, path)
    assert bag.import_errors == {}
    for table in ("WorkOrders", "LotUsage"):
        assert {sync_dag_id(table, t) for t in ("Mass", "Daily", "Hourly")} <= set(bag.dag_ids)
    doc = bag.dags["datasync__LotUsage__daily"].doc_md
    assert f"| source reader | {described} |" in doc
    assert "on connection `datasync_jde`, schema `PRODDTA`, time zone America/Chicago" in doc


def test_parsing_context_builds_only_the_running_dag(monkeypatch: pytest.MonkeyPatch, cfg_path: Path) -> None:
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "datasync__Lots__daily")
    bag = dagbag(monkeypatch, cfg_path)
    assert bag.dag_ids == ["datasync__Lots__daily"]


# --------------------------------------------------------------------------- bad entries


def test_bad_entry_is_one_import_error_and_the_rest_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "datasync.yaml",
        [
            entry("Items"),
            entry("Broken", MassConfig={"Enabled": True, "IntervalMinutes": 0}),
            entry("Lots", "JdeLotMasterFetcher"),
        ],
    )
    with pytest.warns(UserWarning, match="entries left out of the DAGs: table Broken"):
        bag = dagbag(monkeypatch, path)
    errors = errors_by_file(bag)
    assert list(errors) == [CHECK_FILE]  # the DAG file itself stays clean: its DAGs keep running
    message = errors[CHECK_FILE]
    assert str(path) in message and "table Broken" in message and "MassConfig.IntervalMinutes" in message
    assert {"datasync__Items__mass", "datasync__Lots__hourly", HEALTH_DAG_ID} <= set(bag.dag_ids)
    assert not any("Broken" in d for d in bag.dag_ids)
    assert any("table Broken" in w for w in bag.captured_warnings.get(str(DAGS / MAIN_FILE), ()))


def test_unknown_fetcher_and_duplicate_are_reported_together(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "datasync.yaml",
        [entry("Items"), entry("Ghost", "NoSuchFetcher"), entry("Twice"), entry("twice", "JdeLotMasterFetcher")],
    )
    with pytest.warns(UserWarning, match="entries left out of the DAGs"):
        bag = dagbag(monkeypatch, path)
    message = errors_by_file(bag)[CHECK_FILE]
    assert "table Ghost, field FetcherTypeName" in message and "NoSuchFetcher" in message
    assert "duplicate TableName" in message and "twice" in message.lower()
    assert "datasync__Items__daily" in bag.dag_ids
    assert not any(d.lower().startswith(("datasync__ghost", "datasync__twice")) for d in bag.dag_ids)


def test_loader_names_every_rejected_entry(tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", [entry("Good"), entry("Bad Name"), entry("Neg", HourlyConfig={"Enabled": True, "IntervalMinutes": -5})])
    loaded = load_tolerant(path)
    assert [t.table_name for t in loaded.config.data_sources] == ["Good"]
    assert loaded.rejected == ["Bad Name", "Neg"]
    assert any("table Neg" in p and "HourlyConfig.IntervalMinutes" in p for p in loaded.problems)
    assert any("table Bad Name" in p and "TableName" in p for p in loaded.problems)


def test_strict_mode_fails_the_whole_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", [entry("Items"), entry("Broken", FetcherTypeName="Nope")])
    bag = dagbag(monkeypatch, path, strict=True)
    errors = errors_by_file(bag)
    assert MAIN_FILE in errors and "table Broken, field FetcherTypeName" in errors[MAIN_FILE]
    assert bag.dag_ids == []


def test_global_setting_error_fails_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(tmp_path / "c.yaml", [entry("Items")], MaxDegreeOfParallelism=0)
    bag = dagbag(monkeypatch, path)
    errors = errors_by_file(bag)
    assert "MaxDegreeOfParallelism" in errors[MAIN_FILE]
    assert bag.dag_ids == []
    with pytest.raises(ConfigError):
        load_tolerant(path)


def test_missing_config_file_is_an_import_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bag = dagbag(monkeypatch, tmp_path / "missing.yaml")
    assert "cannot read config" in errors_by_file(bag)[MAIN_FILE]


# --------------------------------------------------------------------------- parse cost


def test_parsing_opens_no_connection_and_imports_no_driver(tmp_path: Path) -> None:
    """A fresh interpreter parses the DAG file with unreachable connections and no metadata DB."""
    path = write_config(tmp_path / "c.yaml", [entry(f"T{i:03d}") for i in range(30)])
    code = (
        "import runpy, sys\n"
        f"runpy.run_path({str(DAGS / MAIN_FILE)!r})\n"
        "from airflow.sdk.definitions._internal.contextmanager import DagContext\n"
        "bad = [m for m in ('pymssql', 'psycopg', 'psycopg2', 'pyodbc', 'airflow.providers.microsoft.mssql.hooks.mssql',"
        " 'airflow.providers.postgres.hooks.postgres', 'airflow.providers.sqlite.hooks.sqlite', 'oracledb',"
        " 'airflow.providers.oracle.hooks.oracle') if m in sys.modules]\n"
        "print('LOADED', bad)\n"
    )
    env = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith("AIRFLOW__DATABASE")},
        "DATASYNC_CONFIG": str(path),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////nonexistent-dir/airflow.db",
        "AIRFLOW_CONN_DATASYNC_TARGET": "mssql://u:p@127.0.0.1:1/none",
    }
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED []" in proc.stdout, proc.stdout


# --------------------------------------------------------------------------- dag.test() end to end


def _e2e_env(tmp_path: Path, entries: list) -> tuple[dict, Path, Path]:
    from airflow_harness import migrated_env

    from datasync_demo import generator as demo

    source = tmp_path / "jde.db"
    demo.write_demo_source(source, 3000)
    target = tmp_path / "cache.db"
    cfg = write_config(tmp_path / "datasync.yaml", entries)
    env = migrated_env(
        tmp_path / "home",
        DAGS,
        DATASYNC_CONFIG=str(cfg),
        AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
        AIRFLOW_CONN_DATASYNC_CMS=f"sqlite:///{source}",
        AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{target}",
    )
    return env, source, target


def _query(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.airflow
def test_dag_test_mass_then_hourly_into_sqlite(tmp_path: Path) -> None:
    from airflow_harness import dag_test

    no_daily = {"Enabled": False, "IntervalMinutes": 1440}
    env, source, target = _e2e_env(tmp_path, [entry("WorkOrder_Curr", "JdeWorkOrderFetcher", DailyConfig=no_daily)])
    out = dag_test(
        env,
        [
            {"dag_id": "datasync__WorkOrder_Curr__mass"},
            {"touch": str(source), "pct": 5},
            {"dag_id": "datasync__WorkOrder_Curr__hourly"},
        ],
        DAGS,
    )
    assert out["bag_errors"] == {}
    mass, touched, hourly = out["steps"]
    source_rows = _query(source, "SELECT COUNT(*) FROM F4801")[0][0]
    assert mass["state"] == "success" and mass["tasks"] == {"sync": "success", "publish": "success"}
    assert mass["xcom"]["sync"]["rows"] == mass["xcom"]["sync"]["inserted"] == source_rows - touched["touched"]["F4801"][1]

    updated, added = touched["touched"]["F4801"]
    assert hourly["state"] == "success" and hourly["tasks"] == {"priority_gate": "success", "sync": "success", "publish": "success"}
    result = hourly["xcom"]["sync"]
    assert (result["updated"], result["inserted"]) == (updated, added) and result["minimum_dt"]

    assert _query(target, 'SELECT COUNT(*) FROM "WorkOrder_Curr"')[0][0] == source_rows
    ledger = _query(
        target,
        'SELECT "UpdateType", "RunId", "NumberRecords", "WasSuccessful", "RowsInserted", "RowsUpdated", "MinimumDT" '
        'FROM "DataUpdate" ORDER BY "DataUpdateID"',
    )
    assert [r[:4] for r in ledger] == [
        ("Mass", mass["run_id"], source_rows - added, 1),
        ("Hourly", hourly["run_id"], result["rows"], 1),
    ]
    assert ledger[0][6] is None and ledger[1][4:6] == (added, updated) and ledger[1][6] is not None
    # every source key is in the target, with the latest status
    source_keys = _query(source, "SELECT CAST(WADOCO AS INTEGER), TRIM(WASRST) FROM F4801")
    assert set(_query(target, 'SELECT "DOCO", "SRST" FROM "WorkOrder_Curr"')) == set(source_keys)


@pytest.mark.airflow
def test_dag_test_priority_gate_skips_hourly_while_daily_is_due(tmp_path: Path) -> None:
    from airflow_harness import dag_test

    # no Mass schedule and nothing synced yet: the Daily is due, so a scheduled Hourly yields to it
    # (a Mass would satisfy both, DESIGN §6)
    no_mass = {"Enabled": False, "IntervalMinutes": 10080}
    env, _, target = _e2e_env(tmp_path, [entry("Item_Curr", "JdeItemFetcher", MassConfig=no_mass)])
    out = dag_test(
        env,
        [
            {"dag_id": "datasync__Item_Curr__hourly"},
            {"dag_id": "datasync__Item_Curr__hourly", "conf": {"full_refresh": True}},
        ],
        DAGS,
    )
    skipped, forced = out["steps"]
    assert skipped["state"] == "success" and skipped["tasks"] == {"priority_gate": "skipped", "sync": "skipped", "publish": "skipped"}
    assert skipped["xcom"] == {}
    assert forced["tasks"] == {"priority_gate": "success", "sync": "success", "publish": "success"}
    assert forced["xcom"]["priority_gate"] == "Item_Curr: manual run with full_refresh; the priority gate lets it pass"
    assert forced["xcom"]["sync"]["minimum_dt"] is None
    ledger = _query(target, 'SELECT "UpdateType", "RunId", "MinimumDT" FROM "DataUpdate" ORDER BY "DataUpdateID"')
    assert ledger == [("Hourly", forced["run_id"], None)]  # the skipped run wrote nothing


# --------------------------------------------------------------------------- init-airflow


@pytest.mark.airflow
def test_init_airflow_sets_the_pool_and_names_missing_connections(tmp_path: Path) -> None:
    from airflow_harness import migrated_env, run_python

    cfg = write_config(
        tmp_path / "datasync.yaml", [entry("Items"), entry("Events", "CmsMisDataFetcher", source="CMS")], MaxDegreeOfParallelism=3
    )
    base = migrated_env(tmp_path / "home", DAGS, DATASYNC_CONFIG=str(cfg), AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{tmp_path / 'c.db'}")
    code = """
import json
from datasync.airflow.setup import init_airflow
from datasync.engine.configuration import load_config
from datasync.core.errors import ConfigError
from airflow.models.pool import Pool
cfg = load_config()
try:
    out = {"lines": init_airflow(cfg)}
except ConfigError as exc:
    out = {"problems": exc.problems}
out["slots"] = Pool.get_pool("datasync").slots
print("RESULT:" + json.dumps(out))
"""
    missing = run_python(code, base)
    assert missing["slots"] == 3
    assert any("'datasync_jde'" in p and "AIRFLOW_CONN_DATASYNC_JDE" in p for p in missing["problems"])
    assert any("'datasync_cms'" in p for p in missing["problems"])
    assert any("pool datasync: created with 3 slots" in p for p in missing["problems"])

    ok = run_python(code, {**base, "AIRFLOW_CONN_DATASYNC_JDE": "sqlite:////tmp/jde.db", "AIRFLOW_CONN_DATASYNC_CMS": "postgres://u@h:5432/cms"})
    assert ok["lines"] == [
        "pool datasync: 3 slots (unchanged)",
        f"connection datasync_target (target): sqlite {tmp_path / 'c.db'}",
        "connection datasync_cms (CMS source): postgres h",
        "connection datasync_jde (JDE source): sqlite /tmp/jde.db",
    ]
    resized = write_config(tmp_path / "datasync.yaml", [entry("Items")], MaxDegreeOfParallelism=5)
    again = run_python(code, {**base, "DATASYNC_CONFIG": str(resized), "AIRFLOW_CONN_DATASYNC_JDE": "sqlite:////tmp/jde.db"})
    assert again["lines"][0] == "pool datasync: 5 slots (was 3)" and again["slots"] == 5
