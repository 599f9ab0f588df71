"""The DataSync plugin on a real Airflow API server: /datasync/health status codes for real ledger
states, the page's authentication, and the page opened from the UI's navigation in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow_harness import (
    AIRFLOW, run, api_healthy, dags_folder, deployment_env, entry, free_port, fresh_database, migrate, start_process,
    stop_processes, wait_for, write_config,
)

from datasync.engine.ledger import Ledger
from datasync.targets.sqlite import SqliteTarget

pytestmark = pytest.mark.airflow
PASSWORD = "datasync-test-password"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Any]:
    from test_telemetry import OtlpReceiver

    with OtlpReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, receiver: Any) -> Iterator[SimpleNamespace]:
    work = tmp_path_factory.mktemp("web")
    # the JDE source appears in the traced-sync test (until then scheduled syncs fail at once)
    config = write_config(work / "datasync.yaml", [entry("Items"), entry("Lots", "JdeLotMasterFetcher")])
    cache = work / "cache.db"
    passwords = work / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    port = free_port()
    with fresh_database("datasync_web") as metadata:
        env = deployment_env(
            work, dags_folder(work), metadata, port,
            DATASYNC_CONFIG=str(config), AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{cache}",
            # real logins: the page follows the API server's authentication
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="False",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="2",
            AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{work / 'jde.db'}",
            # Airflow's tracing on, everything exported to the test's OTLP receiver
            AIRFLOW__TRACES__OTEL_ON="True",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_TRACES_EXPORTER="otlp_proto_http",
            OTEL_METRIC_EXPORT_INTERVAL="2000",
            OTEL_BSP_SCHEDULE_DELAY="500",
        )
        migrate(env)
        run([AIRFLOW, "pools", "set", "datasync", "2", "datasync syncs"], env)  # a missing pool never schedules
        procs = {"api-server": start_process("api-server", ["api-server"], env, work / "logs")}
        try:
            wait_for(lambda: api_healthy(port), 180, what="the api-server")
            yield SimpleNamespace(base=f"http://127.0.0.1:{port}", cache=cache, logs=work / "logs", env=env, procs=procs)
        finally:
            stop_processes(procs)


def set_ledger(cache: Path, rows: list[tuple[str, str, timedelta, bool, str | None, int]]) -> None:
    """Replace the ledger with finished rows (table, type, age, ok, error, records)."""
    target = SqliteTarget.open(str(cache))
    try:
        ledger = Ledger(target)
        ledger.ensure()
        target.execute('DELETE FROM "DataUpdate"')
        now = datetime.now(timezone.utc)
        for table, sync_type, age, ok, error, records in rows:
            row_id = ledger.start(table, sync_type, f"op{table}{sync_type}", "scheduled__x", None)
            if ok:
                ledger.finish(row_id, records, records // 2, records // 4)
            else:
                ledger.fail(row_id, error or "boom")
            target.execute('UPDATE "DataUpdate" SET "StartDT" = :s WHERE "DataUpdateID" = :i', {"s": now - age, "i": row_id})
    finally:
        target.close()


HEALTHY = [
    ("Items", "Mass", timedelta(days=2), True, None, 20_000),
    ("Items", "Daily", timedelta(hours=3), True, None, 1_234),
    ("Items", "Hourly", timedelta(minutes=20), True, None, 42),
    ("Lots", "Mass", timedelta(minutes=30), True, None, 5_000),  # covers Daily and Hourly (DESIGN §6)
]
DEGRADED = [*HEALTHY[:3], ("Lots", "Mass", timedelta(days=3), True, None, 5_000)]  # Lots Daily/Hourly overdue
UNHEALTHY = [*HEALTHY, ("Lots", "Daily", timedelta(minutes=5), False, "SourceDataError: F4108.LOTN row 17: bad julian", 0)]


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body) if body.startswith(b"{") else body


def token(base: str) -> str:
    request = urllib.request.Request(
        f"{base}/auth/token", data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())["access_token"]


def test_health_endpoint_answers_like_the_seeds_health_check(server: SimpleNamespace) -> None:
    set_ledger(server.cache, HEALTHY)
    code, body = get(f"{server.base}/datasync/health")  # no login
    assert code == 200 and body["status"] == "Healthy" and body["description"] == "Every table is current"
    assert body["data"]["Items_Status"] == body["data"]["Lots_Status"] == "Current"
    assert datetime.fromisoformat(body["data"]["Items_LastSync"]) > datetime.now(timezone.utc) - timedelta(minutes=30)
    assert body["data"]["Lots_Types"]["Hourly"]["last_success"] is None  # never ran, covered by the Mass

    set_ledger(server.cache, DEGRADED)
    code, body = get(f"{server.base}/datasync/health")
    assert code == 200 and body["status"] == "Degraded" and body["description"].endswith(": Lots")
    assert (body["data"]["Lots_Status"], body["data"]["Lots_Health"]) == ("Overdue", "Degraded")
    assert body["data"]["Items_Status"] == "Current"

    set_ledger(server.cache, UNHEALTHY)
    code, body = get(f"{server.base}/datasync/health")
    assert code == 503 and body["status"] == "Unhealthy"
    assert body["data"]["Lots_Health"] == "Unhealthy" and "bad julian" in " ".join(body["data"]["Lots_Problems"])

    set_ledger(server.cache, [])
    code, body = get(f"{server.base}/datasync/health")
    assert code == 200 and body["status"] == "Degraded" and body["data"]["Items_LastSync"] == "Never"


def test_page_and_its_data_follow_the_api_servers_authentication(server: SimpleNamespace) -> None:
    set_ledger(server.cache, UNHEALTHY)
    assert get(f"{server.base}/datasync/api/tables")[0] == 401
    assert get(f"{server.base}/datasync/page")[0] == 401
    code, body = get(f"{server.base}/datasync/api/tables", token(server.base))
    assert code == 200 and body["status"] == "Unhealthy"
    lots = next(t for t in body["tables"] if t["table"] == "Lots")
    assert lots["dags"] == {"Mass": "datasync__Lots__mass", "Daily": "datasync__Lots__daily", "Hourly": "datasync__Lots__hourly"}
    assert lots["types"]["Daily"]["last_error"]["message"].startswith("SourceDataError")
    code, plugins = get(f"{server.base}/api/v2/plugins", token(server.base))
    (ours,) = [p for p in plugins["plugins"] if p["name"] == "datasync"]
    assert ours["external_views"][0]["href"] == "/datasync/page" and ours["external_views"][0]["destination"] == "nav"


ROWS_JS = "Array.from(document.querySelector('iframe')?.contentDocument?.querySelectorAll('tr[data-table]') || [])"


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_page_opened_from_the_navigation(server: SimpleNamespace, tmp_path: Path, dark: bool) -> None:
    from browser import CHROMIUM, Browser

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/setup installs it)")
    set_ledger(server.cache, UNHEALTHY)
    with Browser(width=1400, height=520, dark=dark) as browser:
        browser.open(f"{server.base}/")  # the UI sends us to its login form
        browser.wait_for("document.querySelector('input[type=password]') !== null", 90, "the login form")
        browser.type("document.querySelector('input:not([type=password])')", "admin")
        browser.type("document.querySelector('input[type=password]')", PASSWORD)
        browser.click("document.querySelector('button[type=submit]')")
        browser.wait_for("Array.from(document.querySelectorAll('button')).some(b => b.textContent.trim() === 'Browse')", 90, "the nav")
        browser.click("Array.from(document.querySelectorAll('button')).find(b => b.textContent.trim() === 'Browse')")
        browser.wait_for("Array.from(document.querySelectorAll('[role=menuitem]')).some(e => e.textContent.trim() === 'DataSync')", 30, "the menu")
        for _ in range(3):  # a busy machine may swallow the first click while the menu animates
            browser.click("Array.from(document.querySelectorAll('[role=menuitem]')).find(e => e.textContent.trim() === 'DataSync')")
            try:
                browser.wait_for("location.pathname.startsWith('/plugin/datasync')", 10, "the DataSync route")
                break
            except AssertionError:
                browser.click("Array.from(document.querySelectorAll('button')).find(b => b.textContent.trim() === 'Browse')")
                browser.wait_for("Array.from(document.querySelectorAll('[role=menuitem]')).some(e => e.textContent.trim() === 'DataSync')", 30, "the menu")
        browser.wait_for(f"{ROWS_JS}.length === 2", 90, "the DataSync rows")
        assert browser.evaluate("location.pathname").startswith("/plugin/datasync"), browser.evaluate("location.pathname")
        rows = browser.evaluate(f"{ROWS_JS}.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
        items, lots = sorted(rows)
        assert items[:4] == ["Items", "Healthy", "Current", "20 min ago"]
        assert items[5].startswith("3 h ago") and "1,234 rows" in items[5]
        assert lots[:3] == ["Lots", "Unhealthy", "Current"] and lots[7] == "failed"
        assert lots[8].startswith("Daily, 5 min ago: SourceDataError: F4108.LOTN row 17: bad julian")
        links = browser.evaluate(f"{ROWS_JS}.find(r => r.dataset.table === 'Lots').cells[9].querySelectorAll('a')")
        hrefs = browser.evaluate(
            f"Array.from({ROWS_JS}.find(r => r.dataset.table === 'Lots').cells[9].querySelectorAll('a')).map(a => [a.textContent, a.href, a.target])"
        )
        assert links is not None and hrefs == [
            [t, f"{server.base}/dags/datasync__Lots__{t.lower()}", "_top"] for t in ("Mass", "Daily", "Hourly")
        ]
        assert browser.evaluate("document.querySelector('iframe').contentDocument.documentElement.classList.contains('dark')") == dark
        shot = browser.screenshot(tmp_path / f"datasync-page-{'dark' if dark else 'light'}.png")
    if os.environ.get("DATASYNC_SCREENSHOTS"):  # keep them (docs/images is refreshed from here)
        shutil.copy(shot, Path(os.environ["DATASYNC_SCREENSHOTS"]) / shot.name)
    assert shot.stat().st_size > 20_000


def api(server: SimpleNamespace, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{server.base}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token(server.base)}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read() or b"null")


@pytest.mark.slow
def test_health_runs_under_the_scheduler_fail_when_unhealthy_and_carry_the_verdict_as_note(server: SimpleNamespace) -> None:
    """A real scheduler: the health run is green with a Degraded note, red with an Unhealthy one."""
    for name in ("scheduler", "dag-processor"):
        server.procs[name] = start_process(name, [name], server.env, server.logs)
    wait_for(lambda: get(f"{server.base}/api/v2/dags/datasync__health", token(server.base))[0] == 200, 180, 2, "the health DAG")

    def finished(run_id: str) -> dict[str, Any] | None:
        run = api(server, "GET", f"/api/v2/dags/datasync__health/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    outcomes = {}
    for label, rows in (("degraded", DEGRADED), ("unhealthy", UNHEALTHY)):
        set_ledger(server.cache, rows)
        run_id = api(server, "POST", "/api/v2/dags/datasync__health/dagRuns", {"logical_date": None})["dag_run_id"]
        run = wait_for(lambda: finished(run_id), 240, 2, f"the {label} health run")
        ti = api(server, "GET", f"/api/v2/dags/datasync__health/dagRuns/{run_id}/taskInstances/health")
        xcom = api(server, "GET", f"/api/v2/dags/datasync__health/dagRuns/{run_id}/taskInstances/health/xcomEntries/return_value")
        report = xcom["value"] if isinstance(xcom["value"], dict) else json.loads(xcom["value"])
        outcomes[label] = (run["state"], run["note"], ti["state"], ti["note"], report["status"])
    # scheduled syncs of this deployment (no source yet: they fail) may add to the ledger meanwhile,
    # so each run is checked against its own report: red exactly when Unhealthy, the verdict as note
    for label, (state, note, ti_state, ti_note, status) in outcomes.items():
        assert state == ti_state == ("failed" if status == "Unhealthy" else "success"), outcomes
        assert note == ti_note and note.startswith(f"**datasync health: {status}**"), outcomes
    assert outcomes["unhealthy"][4] == "Unhealthy" and "bad julian" in outcomes["unhealthy"][1]


@pytest.mark.slow
def test_a_scheduled_sync_is_traced_under_airflows_task_span_and_exports_its_metrics(server: SimpleNamespace, receiver: Any) -> None:
    """Airflow's [traces] otel_on: the SyncTable span is a child of the task's span, in the same trace;
    the task process exports the DataSync instruments over OTLP; its log file lines carry the scope."""
    for name in ("scheduler", "dag-processor"):
        if name not in server.procs:
            server.procs[name] = start_process(name, [name], server.env, server.logs)
    wait_for(lambda: get(f"{server.base}/api/v2/dags/datasync__Items__mass", token(server.base))[0] == 200, 180, 2, "the DAG")
    from datasync_demo import generator as demo

    demo.write_demo_source(Path(server.env["AIRFLOW_CONN_DATASYNC_JDE"].removeprefix("sqlite:///")), 500)
    set_ledger(server.cache, [])
    run_id = api(server, "POST", "/api/v2/dags/datasync__Items__mass/dagRuns", {"logical_date": None})["dag_run_id"]

    def finished() -> dict[str, Any] | None:
        run = api(server, "GET", f"/api/v2/dags/datasync__Items__mass/dagRuns/{run_id}")
        return run if run["state"] in ("success", "failed") else None

    assert wait_for(finished, 240, 2, "the Items Mass run")["state"] == "success"
    xcom = api(server, "GET", f"/api/v2/dags/datasync__Items__mass/dagRuns/{run_id}/taskInstances/sync/xcomEntries/return_value")
    op_id = xcom["value"]["operation_id"] if isinstance(xcom["value"], dict) else json.loads(xcom["value"])["operation_id"]

    def ours() -> Any:
        return next((s for s in receiver.spans() if s.name == "SyncTable" and
                     any(a.key == "operation.id" and a.value.string_value == op_id for a in s.attributes)), None)

    root = wait_for(ours, 60, 1, "our SyncTable span")
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["table.name"].string_value == "Items" and attributes["update.type"].string_value == "Mass"
    parent = next(s for s in receiver.spans() if s.span_id == root.parent_span_id)
    assert parent.name == "worker.sync" and parent.trace_id == root.trace_id
    children = {s.name for s in receiver.spans() if s.parent_span_id == root.span_id}
    assert {"lock_wait", "fetch", "load", "merge"} <= children
    got = wait_for(lambda: receiver.metric_points().get("sync.operations.completed"), 60, 1, "the metrics")
    assert ("sum:{operation}", {"table": "Items", "type": "Mass"}, 1) in got
    log_lines = [
        json.loads(line) for path in (server.logs / "tasks").rglob("*.log") if "Items__mass" in str(path)
        for line in path.read_text().splitlines() if line.startswith("{")
    ]
    engine_lines = [e for e in log_lines if e.get("logger") == "datasync.engine.sync" and op_id in e.get("event", "")]
    assert len(engine_lines) == 2
    assert all((e["TableName"], e["UpdateType"], e["OperationId"]) == ("Items", "Mass", op_id) for e in engine_lines)
