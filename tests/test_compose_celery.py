"""docker-compose.yaml's `celery` profile: Redis, a scalable Celery worker and Flower, as Airflow's
official compose file has them, plus datasync's worker shutdown policy.

No Docker engine runs here: the file is read as YAML, and rendered by the compose client when one
is installed (``docker compose`` or ``docker-compose``), as ``docker compose config`` renders it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml
from conftest import REPO

CELERY = ("redis", "airflow-worker", "flower")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())["services"]


def test_the_celery_services_are_in_the_celery_profile_only(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name in CELERY:
            assert service["profiles"] == ["celery"], name
        else:
            assert "celery" not in service.get("profiles", []), name


def test_the_worker_is_the_scheduler_image_with_a_warm_shutdown_and_the_datasync_policy(services: dict[str, Any]) -> None:
    from importlib import import_module

    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

    worker, scheduler = services["airflow-worker"], services["airflow-scheduler"]
    assert worker["image"] == scheduler["image"] and worker["volumes"] == scheduler["volumes"]
    assert worker["command"].startswith("celery worker --queues ${DATASYNC_WORKER_QUEUES:-default} --concurrency ")
    assert "replicas" not in worker.get("deploy", {}) and "container_name" not in worker  # --scale works
    env = worker["environment"]
    assert env["DUMB_INIT_SETSID"] == "0"  # SIGTERM to the worker's main process only
    module, _, name = env["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"].rpartition(".")
    assert getattr(import_module(module), name) == DEFAULT_CELERY_CONFIG  # what [celery] loads
    assert env["AIRFLOW__DATASYNC__WORKER_SHUTDOWN"] == "${DATASYNC_WORKER_SHUTDOWN:-finish}"
    assert worker["stop_grace_period"] == "${DATASYNC_WORKER_STOP_GRACE:-2h}"
    assert worker["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "celery@$${HOSTNAME}" in " ".join(worker["healthcheck"]["test"])
    assert services["flower"]["command"] == "celery flower" and services["flower"]["ports"] == ["5555:5555"]
    common = scheduler["environment"]
    assert common["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@redis:6379/0"
    assert common["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://airflow:airflow@postgres/airflow"
    # the dispatcher's queue, where the DAGs are parsed and on the workers; unset: the default queue
    assert common["AIRFLOW__DATASYNC__DISPATCHER_QUEUE"] == env["AIRFLOW__DATASYNC__DISPATCHER_QUEUE"]
    assert common["AIRFLOW__DATASYNC__DISPATCHER_QUEUE"] == "${DATASYNC_DISPATCHER_QUEUE:-}"


def _client() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) and subprocess.run([*cmd, "version"], capture_output=True).returncode == 0:
            return cmd
    return None


def test_the_compose_client_renders_celery_for_every_airflow_service() -> None:
    cmd = _client()
    if cmd is None:
        pytest.skip("no compose client (docker compose or docker-compose) installed")
    env = {**os.environ, "AIRFLOW_EXECUTOR": "CeleryExecutor", "DATASYNC_WORKER_QUEUES": "default,jde"}
    result = subprocess.run(
        [*cmd, "-f", str(REPO / "docker-compose.yaml"), "--profile", "celery", "config"],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)["services"]
    assert set(CELERY) <= set(rendered)
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-worker", "flower"):
        assert rendered[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    command = rendered["airflow-worker"]["command"]
    assert (command if isinstance(command, str) else " ".join(command)).startswith("celery worker --queues default,jde")
    assert rendered["airflow-worker"]["environment"]["AIRFLOW__DATASYNC__WORKER_SHUTDOWN"] == "finish"
