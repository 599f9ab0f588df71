"""The dispatcher: the seed's loop inside Airflow, one long task per hour.

Every CheckInterval it re-reads the config file (a table added there is dispatched in
the next cycle; an unreadable file keeps the last good config, with an error in the
log), reads the ledger once (datasync.engine.dispatch, the code ``datasync run-due``
runs) and, for each table whose schedule picks a type, triggers a run of that type's
DAG (``datasync__{table}__{type}``) through Airflow's own API (the task's supervisor,
as TriggerDagRunOperator does), highest type first. A table with a run of any of its
DAGs queued or running is left alone (busy) until it is done. So a table's grid holds
only runs that synced (or skipped with a reason), and the dispatcher's own grid about
one run per hour.

SIGTERM ends the loop within a second and the task succeeds: a scheduler shutdown, Ctrl-C of
``make airflow``, and the warm shutdown of the Celery worker running it
(datasync.airflow.celery_worker) all stop it at once. Its DAG's timetable fires every
CheckInterval with one active run, so the next run starts within a CheckInterval, on a worker
that is not shutting down.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator

from datasync.airflow.connections import HookConnector
from datasync.config import DataSyncConfig
from datasync.core.times import utcnow

log = logging.getLogger(__name__)

RUN_LENGTH = timedelta(hours=1)
ACTIVE_STATES = ["queued", "running"]


def dispatch_run_id(sync_type: str, now: datetime) -> str:
    return f"dispatched__{sync_type.lower()}__{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}"


def trigger(dag_id: str, run_id: str, conf: dict[str, Any]) -> str | None:
    """Trigger a run through the task's supervisor (Airflow's execution API); an error text, or None."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun

    response = task_runner.SUPERVISOR_COMMS.send(TriggerDagRun(dag_id=dag_id, run_id=run_id, conf=conf))
    if isinstance(response, ErrorResponse):
        return f"{response.error}: {response.detail}"
    return None


def active_runs(dag_id: str) -> int:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    return RuntimeTaskInstance.get_dr_count(dag_id=dag_id, states=ACTIVE_STATES)


class DispatcherOperator(BaseOperator):
    """Loops every CheckInterval for about an hour (``cycles`` param: a fixed number instead)."""

    ui_color = "#d8ecd0"

    def __init__(
        self,
        *,
        config: DataSyncConfig,
        config_path: str | None = None,
        run_length: timedelta = RUN_LENGTH,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.config = config  # the last good config: the one the DAG was built with, then each cycle's reload
        self.config_path = config_path  # re-read every cycle (None: keep ``config``)
        self.run_length = run_length
        self._stopping = False  # set by on_kill (a plain flag: operators are deep-copied)
        self._config_trouble: str | None = None  # what the last reload logged, so it is not repeated every cycle

    def on_kill(self) -> None:
        """SIGTERM (scheduler shut down, Ctrl-C of make airflow, warm shutdown of its Celery worker): end the loop now."""
        self._stopping = True

    def execute(self, context: Any) -> dict[str, Any]:
        params = context.get("params") or {}
        cycles = int(params.get("cycles") or 0)
        every = self.config.check_interval
        started = time.monotonic()
        ends = started + max(every.total_seconds(), (self.run_length - every / 2).total_seconds())
        done = 0
        triggered: dict[str, int] = {}
        while True:
            for dag_id in self.cycle(utcnow()):
                triggered[dag_id] = triggered.get(dag_id, 0) + 1
            done += 1
            if cycles and done >= cycles:
                break
            wake = started + done * every.total_seconds()
            if wake >= ends or not self._sleep_until(wake):
                break
        if self._stopping:
            log.info("dispatcher: stopped by SIGTERM; the next run goes on")
        log.info("dispatcher: %d cycles, %d runs triggered", done, sum(triggered.values()))
        return {"cycles": done, "triggered": triggered}

    def _sleep_until(self, wake: float) -> bool:
        """Sleep in short slices so a SIGTERM ends the loop within a second; False once stopping."""
        while not self._stopping and (left := wake - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
        return not self._stopping

    def reload_config(self) -> DataSyncConfig:
        """The config file as it is now, loaded as the DAG file loads it; the last good one if it cannot be.

        A bad edit never stops the dispatching: the error is logged once (again when it changes)
        and the cycle runs on the last config that loaded.
        """
        from datasync.airflow.dag_factory import load_for_dags

        if not self.config_path:
            return self.config
        try:
            loaded = load_for_dags(self.config_path)
        except Exception as exc:  # noqa: BLE001 - a YAML slip, a wrong global setting, a file being rewritten
            self._report(f"dispatcher: cannot load {self.config_path}, dispatching with the last good config: {exc}")
            return self.config
        problems = "; ".join(loaded.problems)  # bad entries, left out here as from the DAGs
        self._report(f"dispatcher: {self.config_path}: entries left out (not dispatched): {problems}" if problems else None)
        before, after = ({t.table_name for t in c.enabled_tables()} for c in (self.config, loaded.config))
        if loaded.config != self.config:
            log.info(
                "dispatcher: config reloaded (tables added: %s; removed: %s)",
                ", ".join(sorted(after - before)) or "none", ", ".join(sorted(before - after)) or "none",
            )
        self.config = loaded.config
        return self.config

    def _report(self, trouble: str | None) -> None:
        """Log a config problem when it appears or changes, and once when it clears (not every cycle)."""
        if trouble and trouble != self._config_trouble:
            log.error("%s", trouble)
        elif not trouble and self._config_trouble:
            log.info("dispatcher: %s loads cleanly again", self.config_path)
        self._config_trouble = trouble

    def cycle(self, now: datetime) -> list[str]:
        """One cycle: re-read the config, decide every table, trigger the runs; returns the DAG ids triggered."""
        from datasync.airflow.dag_factory import sync_dag_id
        from datasync.engine import service

        config = self.reload_config()
        try:
            decisions = service.dispatch_decisions(config, connector=HookConnector(), now=now)
        except Exception:  # noqa: BLE001 - the target may be down for a while; the next cycle retries
            log.exception("dispatcher: cannot read the ledger; retried next cycle")
            return []
        out = []
        for d in decisions:
            if not d.run:
                (log.info if d.busy else log.debug)("%s", d.reason)
                continue
            table = config.table(d.table)
            busy = [i for i in (sync_dag_id(table.table_name, t) for t in table.enabled_types()) if active_runs(i)]
            if busy:
                log.info("%s: busy, a run of %s is queued or running; %s waits", d.table, ", ".join(busy), d.sync_type)
                continue
            dag_id = sync_dag_id(table.table_name, str(d.sync_type))
            run_id = dispatch_run_id(str(d.sync_type), now)
            error = trigger(dag_id, run_id, {"dispatched": d.reason, "retry": d.retry})
            if error:
                log.warning("%s: could not trigger %s: %s", d.table, dag_id, error)
                continue
            log.info("triggered %s (%s): %s", dag_id, run_id, d.reason)
            out.append(dag_id)
        return out
