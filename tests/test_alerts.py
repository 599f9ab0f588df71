"""Alert e-mails delivered to a real SMTP server: task failures, health. (Deadline misses need a
scheduler and a triggerer: tests/test_scheduler.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from airflow_harness import REPO, SmtpSink, body_of, dag_test, dags_folder, entry, migrated_env, write_config

from datasync.airflow import alerts

from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config

DAGS = REPO / "dags"


def test_recipients_table_first_without_duplicates() -> None:
    cfg = parse_config(
        {
            "Alerts": {"Emails": ["ops@example.com", "Items@example.com"]},
            "DataSources": [entry("Items", AlertEmails=["items@example.com", "dba@example.com"]), entry("Lots", "JdeLotMasterFetcher")],
        }
    )
    assert alerts.recipients(cfg, cfg.table("Items")) == ["items@example.com", "dba@example.com", "ops@example.com"]
    assert alerts.recipients(cfg, cfg.table("Lots")) == ["ops@example.com", "Items@example.com"]
    assert alerts.recipients(parse_config({"DataSources": [entry("X")]}), None) == []


def test_deadline_minutes_precedence() -> None:
    raw = {"DataSources": [entry("A", DeadlineMinutes=7), entry("B"), entry("C", HourlyConfig={"Enabled": True, "IntervalMinutes": 5})]}
    cfg = parse_config(raw)
    assert alerts.deadline_minutes(cfg, cfg.table("A"), "Hourly") == 7  # the table's
    assert alerts.deadline_minutes(cfg, cfg.table("B"), "Hourly") == 60  # the interval
    assert alerts.deadline_minutes(cfg, cfg.table("B"), "Mass") == alerts.DEADLINE_CAP_MINUTES
    assert alerts.deadline_minutes(cfg, cfg.table("C"), "Hourly") == alerts.DEADLINE_FLOOR_MINUTES
    cfg = parse_config({**raw, "Alerts": {"DeadlineMinutes": 90}})
    assert alerts.deadline_minutes(cfg, cfg.table("A"), "Hourly") == 7
    assert alerts.deadline_minutes(cfg, cfg.table("B"), "Mass") == 90


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


def _env(tmp_path: Path, smtp: SmtpSink, cfg: Path, source: Path, dags: Path = DAGS, **extra: str) -> dict[str, str]:
    """A migrated Airflow home: the config, a SQLite JDE source and cache, mails to ``smtp``."""
    return migrated_env(
        tmp_path / "home",
        dags,
        DATASYNC_CONFIG=str(cfg),
        AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
        AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{tmp_path / 'cache.db'}",
        AIRFLOW_CONN_SMTP_DEFAULT=smtp.conn_uri,
        **extra,
    )


@pytest.mark.airflow
def test_task_failure_mails_the_table_name(tmp_path: Path, smtp: SmtpSink) -> None:
    """A sync that cannot read its source fails without retry and mails table and global recipients."""
    cfg = write_config(
        tmp_path / "datasync.yaml",
        [entry("WorkOrders", "JdeWorkOrderFetcher", AlertEmails=["wo-owner@example.com"])],
        Alerts={"Emails": ["ops@example.com"], "FromEmail": "cache@example.com"},
    )
    env = _env(tmp_path, smtp, cfg, tmp_path / "no-such-dir" / "jde.db")
    (run,) = dag_test(env, [{"dag_id": "datasync__WorkOrders__mass"}], DAGS)["steps"]
    assert run["state"] == "failed" and run["tasks"] == {"sync": "failed", "publish": "upstream_failed"}
    mail = smtp.wait("WorkOrders Mass sync failed")
    assert mail["From"] == "cache@example.com"
    assert set(mail["X-Envelope-To"].split(", ")) == {"wo-owner@example.com", "ops@example.com"}
    body = body_of(mail)
    assert "datasync__WorkOrders__mass" in body and "cannot open SQLite source" in body
    assert len(smtp.matching("WorkOrders")) == 1  # failed without retry: one mail
    conn = sqlite3.connect(tmp_path / "cache.db")
    (row,) = conn.execute('SELECT "NumberRecords", "ErrorMessage" FROM "DataUpdate"').fetchall()
    conn.close()
    assert row[0] == -1 and "cannot open SQLite source" in row[1]


@pytest.mark.airflow
def test_health_mails_once_per_change_with_per_table_data(tmp_path: Path, smtp: SmtpSink) -> None:
    source = tmp_path / "jde.db"
    demo.write_demo_source(source, 500)
    cfg = write_config(
        tmp_path / "datasync.yaml",
        [
            entry("Items", HourlyConfig={"Enabled": False, "IntervalMinutes": 60}, DailyConfig={"Enabled": False, "IntervalMinutes": 1440}),
            entry("Lots", "JdeLotMasterFetcher", AlertEmails=["lots@example.com"]),
        ],
        Alerts={"Emails": ["ops@example.com"]},
    )
    env = _env(tmp_path, smtp, cfg, source)
    steps = [{"dag_id": "datasync__Items__mass"}, {"dag_id": "datasync__health"}, {"dag_id": "datasync__health"}]
    mass, first, second = dag_test(env, steps, DAGS)["steps"]
    assert mass["state"] == "success"
    assert first["tasks"] == {"health": "success"} and second["tasks"] == {"health": "success"}
    # the green run says Degraded in its notes (the plugin's listener copies the verdict)
    assert first["notes"]["run"] == first["notes"]["health"]
    assert first["notes"]["health"].startswith("**datasync health: Degraded** — Some tables are overdue: Lots")
    assert "- Lots: Mass: never synced successfully" in first["notes"]["health"]
    report = first["xcom"]["health"]
    assert report["status"] == "Degraded"
    assert (report["Items_Status"], report["Lots_Status"]) == ("Healthy", "Degraded")
    assert report["Items_LastSync"] and report["Lots_LastSync"] is None
    assert report["mailed"] == ["lots@example.com", "ops@example.com"]
    assert second["xcom"]["health"]["mailed"] == []
    mails = smtp.matching("cache Degraded")
    assert len(mails) == 1, [m["Subject"] for m in smtp.messages]  # the second run saw no change
    mail = mails[0]
    assert "Lots" in mail["Subject"] and "Items" not in mail["Subject"]  # only the table that is not Healthy
    assert set(mail["X-Envelope-To"].split(", ")) == {"lots@example.com", "ops@example.com"}
    assert "never synced successfully" in body_of(mail)


@pytest.mark.airflow
def test_health_run_fails_when_unhealthy_and_mails_once(tmp_path: Path, smtp: SmtpSink) -> None:
    """Unhealthy: the health run fails (red), the health mail goes out once; a table whose Mass
    succeeded is Healthy although its Daily and Hourly never ran (a Mass satisfies them)."""
    source = tmp_path / "jde.db"
    demo.write_demo_source(source, 500)
    cfg = write_config(
        tmp_path / "datasync.yaml",
        [entry("Items"), entry("Events", "CmsMisDataFetcher", "CMS")],
        Alerts={"Emails": ["ops@example.com"]},
    )
    cms = f"sqlite:///{tmp_path / 'no-such-dir' / 'cms.db'}"
    env = _env(tmp_path, smtp, cfg, source, AIRFLOW_CONN_DATASYNC_CMS=cms)
    steps = [
        {"dag_id": "datasync__Items__mass"},
        {"dag_id": "datasync__Events__mass"},
        {"dag_id": "datasync__health"},
        {"dag_id": "datasync__health"},
    ]
    items, events, first, second = dag_test(env, steps, DAGS)["steps"]
    assert items["state"] == "success" and events["state"] == "failed"
    assert first["state"] == "failed" and first["tasks"] == {"health": "failed"}
    assert second["state"] == "failed"
    report = first["xcom"]["health"]
    assert report["status"] == "Unhealthy" and report["Items_Status"] == "Healthy"  # Mass covers Daily/Hourly
    assert report["Events_Status"] == "Unhealthy" and report["description"].endswith(": Events")
    assert report["mailed"] == ["ops@example.com"] and second["xcom"]["health"]["mailed"] == []
    assert first["notes"]["health"].startswith("**datasync health: Unhealthy**")
    assert len(smtp.matching("cache Unhealthy")) == 1
    assert smtp.matching("datasync health failed") == []  # the verdict is alerted by the health mail only
    assert len(smtp.matching("Events Mass sync failed")) == 1


# the dispatcher as deployed, but failing when its run's conf says so (a target down, a bad deploy)
FAILING_DISPATCHER = """
from datasync.airflow.dispatcher import DispatcherOperator as _Dispatcher
_execute = _Dispatcher.execute
def _failing_when_told(self, context):
    if (context["dag_run"].conf or {}).get("fail"):
        raise RuntimeError("dispatcher broke: " + context["dag_run"].conf["fail"])
    return _execute(self, context)
_Dispatcher.execute = _failing_when_told
"""


@pytest.mark.airflow
def test_dispatcher_failure_mails_once_per_failing_streak(tmp_path: Path, smtp: SmtpSink) -> None:
    """A dispatcher failing run after run mails its first failure only; after a success, the next
    failure mails again. The previous run's state comes from Airflow's metadata DB (real runs,
    each with its 3 retries, one CheckInterval = 1 s apart)."""
    cfg = write_config(
        tmp_path / "datasync.yaml", [entry("Items")], CheckInterval="00:00:01", Alerts={"Emails": ["ops@example.com"]}
    )
    dags = dags_folder(tmp_path, FAILING_DISPATCHER)
    env = _env(tmp_path, smtp, cfg, tmp_path / "jde.db", dags=dags)
    plan = ["first", "second", "third", None, "fourth", "fifth"]  # None: a good run (one cycle)
    steps = [{"dag_id": "datasync__dispatcher", "conf": {"fail": f} if f else {"cycles": 1}} for f in plan]
    runs = dag_test(env, steps, dags)["steps"]
    assert [r["state"] for r in runs] == ["failed", "failed", "failed", "success", "failed", "failed"]
    mails = smtp.matching("datasync dispatcher failed")
    assert len(mails) == 2, [m["Subject"] for m in smtp.messages]
    assert "dispatcher broke: first" in body_of(mails[0]) and "dispatcher broke: fourth" in body_of(mails[1])
    assert smtp.messages == mails  # nothing else mailed
