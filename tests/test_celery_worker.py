"""datasync.airflow.celery_worker without a broker: the setting, and which processes a cancel signals.

The whole warm-shutdown behaviour, with real workers, is in test_celery.py.
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from datasync.airflow import celery_worker

# a "pool process" that starts one "task process" and waits
POOL = "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"


def test_worker_shutdown_is_finish_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__DATASYNC__WORKER_SHUTDOWN", raising=False)
    assert celery_worker.shutdown_mode() == "finish"
    monkeypatch.setenv("AIRFLOW__DATASYNC__WORKER_SHUTDOWN", " Cancel ")
    assert celery_worker.shutdown_mode() == "cancel"


def test_an_unknown_worker_shutdown_names_the_setting_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__DATASYNC__WORKER_SHUTDOWN", "abort")
    with pytest.raises(ValueError, match=r"\[datasync\] worker_shutdown must be one of finish, cancel, got 'abort'"):
        celery_worker.shutdown_mode()


def test_the_task_processes_are_the_children_of_the_pool_processes() -> None:
    pool = subprocess.Popen([sys.executable, "-c", POOL])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a pool process with no task
    try:
        deadline = time.monotonic() + 30
        while not psutil.Process(pool.pid).children() and time.monotonic() < deadline:
            time.sleep(0.05)
        (task,) = psutil.Process(pool.pid).children()
        gone = 2**22 + 7  # no such process: skipped
        assert celery_worker.running_task_pids([pool.pid, idle.pid, gone]) == [task.pid]
    finally:
        for proc in (pool, idle):
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()


def _request(pid: int | None, dag_id: str | None) -> object:
    """A Celery request as the worker's main process holds it: the pool process and the task's arguments."""
    import json
    from types import SimpleNamespace

    workload = {"type": "ExecuteTask", "ti": {"dag_id": dag_id, "task_id": "t", "run_id": "r"}} if dag_id else {}
    return SimpleNamespace(worker_pid=pid, args=(json.dumps(workload),))


def test_a_warm_shutdown_ends_only_the_dispatchers_task_whatever_the_setting() -> None:
    requests = [
        _request(11, "datasync__Items__mass"),
        _request(12, "datasync__dispatcher"),
        _request(None, "datasync__dispatcher"),  # not yet accepted by a pool process
        _request(13, None),  # not an Airflow workload
        type("Other", (), {"worker_pid": 14, "args": ()})(),
    ]
    assert celery_worker.dispatcher_pool_pids(requests) == [12]
    assert celery_worker.workload_dag_id(("not json",)) is None
