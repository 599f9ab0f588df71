"""Listener of the datasync plugin: the health run's verdict as the note of its run and task.

The health task returns its report (XCom) but cannot write notes (tasks have no
database access in Airflow 3). The scheduler calls this listener when the run
ends, inside its own session: it copies the verdict ("Degraded: Some tables are
overdue: Lots", with each table's problems) to the notes the grid shows, so a
green run that is Degraded says so without opening its log.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)

HEALTH_DAG_ID = "datasync__health"  # dag_factory.HEALTH_DAG_ID (not imported: listeners load in every process)
HEALTH_TASK_ID = "health"


def health_note(report: dict[str, Any]) -> str:
    """Markdown note of a health report (the health task's XCom)."""
    lines = [f"**datasync health: {report.get('status')}**" + (f" — {report['description']}" if report.get("description") else "")]
    for key, problems in sorted(report.items()):
        if key.endswith("_Problems") and problems:
            lines.append(f"- {key[: -len('_Problems')]}: " + "; ".join(problems))
    return "\n".join(lines)


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _annotate(dag_run)


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _annotate(dag_run)


def _annotate(dag_run: Any) -> None:
    if getattr(dag_run, "dag_id", None) != HEALTH_DAG_ID:
        return
    try:
        from sqlalchemy.orm import object_session

        session = object_session(dag_run)
        if session is None:  # dag.test() hands over a run of another session
            from airflow.utils.session import create_session

            with create_session() as own:
                run = own.merge(dag_run, load=True)
                _write(own, run)
            return
        _write(session, dag_run)
    except Exception:  # noqa: BLE001 - a note must never disturb the scheduler
        log.warning("datasync: could not write the health note", exc_info=True)


def _write(session: Any, dag_run: Any) -> None:
    """In the scheduler's session (which holds the run's row): the run's and the task's note."""
    from sqlalchemy import select

    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    row = session.scalars(
        XComModel.get_many(run_id=dag_run.run_id, dag_ids=HEALTH_DAG_ID, task_ids=HEALTH_TASK_ID, key="return_value")
    ).first()
    if row is None:
        return
    report = XComModel.deserialize_value(row)
    if not isinstance(report, dict):
        return
    note = health_note(report)
    dag_run.note = note
    ti = session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == HEALTH_DAG_ID, TaskInstance.run_id == dag_run.run_id, TaskInstance.task_id == HEALTH_TASK_ID
        )
    ).first()
    if ti is not None:
        ti.note = note
