"""Celery settings for datasync workers: Airflow's default Celery config plus a warm-shutdown policy.

A Celery worker that gets SIGTERM (``docker stop``, a Kubernetes pod deletion, ``airflow celery
stop``) does a warm shutdown: it takes no new tasks and waits for the running ones. What happens
to a running sync is the Airflow setting ``[datasync] worker_shutdown``
(``AIRFLOW__DATASYNC__WORKER_SHUTDOWN``):

- ``finish`` (default, Celery's own behaviour): the sync runs to its end; the worker exits after.
  Give the container a stop grace period longer than the longest sync, or it is killed
  (SIGKILL: the transaction rolls back, the next sync or the recovery DAG closes its ledger row).
- ``cancel``: each running task gets SIGTERM, as Airflow sends it when a task is stopped: the
  operator's on_kill marks the ledger row -1 "cancelled: ...", the transaction rolls back (readers
  keep the old contents) and the task fails into its retry, which another worker runs.

Either way the dispatcher's task (DAG ``datasync__dispatcher``, an hour-long loop that holds no
work of its own) gets SIGTERM at once: it ends within a second, the worker does not wait an hour
for it, and the dispatcher's next run starts within a CheckInterval on another worker.

Used by ``[celery] celery_config_options = datasync.airflow.celery_worker.CELERY_CONFIG`` on the
workers (the scheduler may use it too: the handler only acts in a worker's main process). The
setting is read when the worker loads this module: a wrong value stops it from starting.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Iterable
from typing import Any

import psutil
from airflow.configuration import conf
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init, worker_shutting_down

from datasync.airflow.dag_factory import DISPATCHER_DAG_ID

log = logging.getLogger(__name__)

SHUTDOWN_MODES = ("finish", "cancel")

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)
"""Airflow's Celery config, unchanged: importing this module is what installs the shutdown policy."""


def shutdown_mode() -> str:
    """``[datasync] worker_shutdown``: finish (default) or cancel; anything else is an error."""
    mode = conf.get("datasync", "worker_shutdown", fallback="finish").strip().lower()
    if mode not in SHUTDOWN_MODES:
        raise ValueError(f"[datasync] worker_shutdown must be one of {', '.join(SHUTDOWN_MODES)}, got {mode!r}")
    return mode


MODE = shutdown_mode()
_workers: list[Any] = []  # this process's Celery WorkController, once it starts (the signal gives no other handle)


@worker_init.connect
def _remember_worker(sender: Any = None, **_: Any) -> None:
    log.info("datasync: on warm shutdown running syncs will %s", "be cancelled" if MODE == "cancel" else "finish")
    _workers[:] = [sender]


def running_task_pids(pool_pids: list[int]) -> list[int]:
    """The task processes Airflow's supervisor started inside the worker's pool processes."""
    pids = []
    for pid in pool_pids:
        try:
            pids.extend(child.pid for child in psutil.Process(pid).children())
        except psutil.NoSuchProcess:
            continue
    return pids


def workload_dag_id(args: Any) -> str | None:
    """The DAG id in the workload an Airflow Celery task carries (its first argument, JSON); None if not one."""
    try:
        return json.loads(args[0])["ti"]["dag_id"]
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def dispatcher_pool_pids(requests: Iterable[Any]) -> list[int]:
    """The pool processes running the dispatcher's task, from the worker's active Celery requests."""
    return [r.worker_pid for r in requests if r.worker_pid and workload_dag_id(r.args) == DISPATCHER_DAG_ID]


@worker_shutting_down.connect
def _on_shutting_down(sig: str = "", how: str = "", **_: Any) -> None:
    if how != "Warm" or not _workers:
        return  # a cold shutdown: Celery terminates the pool itself
    from celery.worker import state

    if MODE == "cancel":
        pool = getattr(_workers[0], "pool", None)
        pool_pids = list((getattr(pool, "info", None) or {}).get("processes", []))
        what = "cancelling task process"
    else:  # finish: syncs run to their end; only the dispatcher, which would hold the worker for its hour, ends now
        pool_pids = dispatcher_pool_pids(list(state.active_requests))
        what = "ending the dispatcher's task process (its next run starts on another worker)"
    for pid in running_task_pids(pool_pids):
        try:
            os.kill(pid, signal.SIGTERM)  # the task runner calls the operator's on_kill
            log.warning("datasync: %s warm shutdown, %s %d", sig, what, pid)
        except ProcessLookupError:
            continue
