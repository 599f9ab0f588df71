"""`make airflow` as a person meets it: ./scripts/airflow-standalone on a fresh AIRFLOW_HOME.

Proves (issue 12 item 7): the first syncs run without a failed try (the API server answers
before the scheduler starts, tasks call it on the chosen port), the demo-activity DAG changes
the demo source, and one SIGINT stops every process the script started within 30 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from airflow_harness import REPO, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

TABLES = ["WorkOrder_Curr", "LotUsage_Curr", "Item_Curr", "LotMaster_Curr", "MisData_Curr"]
BAD_STATES = {"failed", "up_for_retry", "upstream_failed", "restarting"}


class Api:
    """The script's API server, logged in as admin with the password it generated."""

    def __init__(self, port: int, home: Path) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.home = home
        self.token: str | None = None

    def get(self, path: str) -> Any:
        if self.token is None:
            password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
            req = urllib.request.Request(
                f"{self.base}/auth/token",
                data=json.dumps({"username": "admin", "password": password}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                self.token = json.loads(r.read())["access_token"]
        req = urllib.request.Request(f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def task_instances(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/api/v2/dags/~/dagRuns/~/taskInstances?limit=100&offset={len(found)}")
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found


def script_env(work: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "DATASYNC_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "AIRFLOW_HOME": str(work / "home"),
            "DATASYNC_AIRFLOW_PORT": str(port),
            "DATASYNC_DEMO_DIR": str(work / "demo"),
            "DATASYNC_DEMO_ROWS": "2000",
            "DATASYNC_DEMO_ACTIVITY_MINUTES": "1",
            # other engineers' Airflows on this machine: no fixed log-server ports
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
    )
    return env


def test_make_airflow_starts_without_a_failed_try_and_stops_on_one_sigint(tmp_path: Path) -> None:
    import psutil

    port = free_port()
    out = open(tmp_path / "airflow-standalone.log", "w")  # noqa: SIM115 - closed below
    script = subprocess.Popen(
        [str(REPO / "scripts" / "airflow-standalone")],
        env=script_env(tmp_path, port),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the test's SIGINT goes to the script only, as a Ctrl-C would
    )
    seen: dict[int, psutil.Process] = {}

    def track() -> None:
        try:
            root = psutil.Process(script.pid)
            for p in [root, *root.children(recursive=True)]:
                seen.setdefault(p.pid, p)
        except psutil.NoSuchProcess:
            pass

    def log() -> str:
        out.flush()
        return (tmp_path / "airflow-standalone.log").read_text()[-6000:]

    api = Api(port, tmp_path / "home")
    try:

        def synced() -> list[dict[str, Any]] | None:
            track()
            assert script.poll() is None, f"the script exited ({script.returncode}):\n{log()}"
            try:
                tis = api.task_instances()
            except (OSError, ValueError, KeyError):
                return None  # not up yet
            done = {(t["dag_id"], t["task_id"]) for t in tis if t["state"] == "success"}
            mass = all((f"datasync__{name}__mass", "sync") in done for name in TABLES)
            activity = ("datasync_demo__activity", "touch_demo_source") in done
            return tis if mass and activity else None

        tis = wait_for(synced, timeout=900, interval=5, what="every table's Mass sync and the demo activity")
        time.sleep(60)  # a minute more of the dispatcher's runs after the demo source changed
        track()
        tis = api.task_instances()
        bad = [(t["dag_id"], t["task_id"], t["state"], t["try_number"]) for t in tis if t["state"] in BAD_STATES]
        retried = [(t["dag_id"], t["task_id"], t["state"], t["try_number"]) for t in tis if (t["try_number"] or 0) > 1]
        assert not bad and not retried, f"failed or retried tries: {bad + retried}\n{log()}"
        activity = [t for t in tis if t["dag_id"] == "datasync_demo__activity" and t["state"] == "success"]
        assert activity
        # tasks called the execution API on the chosen port (a task calling :8080 would have failed)
        assert (tmp_path / "home").is_dir() and any(t["dag_id"].endswith("__mass") for t in tis)
    finally:
        track()
        started = [" ".join(p.cmdline()[:4]) for p in alive(seen)]
        os.kill(script.pid, signal.SIGINT)  # ONE Ctrl-C
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not alive(seen):
                break
            time.sleep(0.5)
        left = [(p.pid, " ".join(p.cmdline()[:4])) for p in alive(seen)]
        for p in alive(seen):  # never leave them behind, even when the assertion fails
            p.kill()
        script.wait(10)
        text = log()
        out.close()
        assert len(started) >= 5, f"expected the script, api-server, scheduler, dag-processor, triggerer: {started}"
        assert not left, f"still running 30 s after one SIGINT: {left}\n{text}"
        assert script.returncode == 0 and "datasync: Airflow stopped" in text, text


def alive(procs: dict[int, Any]) -> list[Any]:
    import psutil

    found = []
    for p in procs.values():
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            pass
    return found
