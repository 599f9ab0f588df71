"""SourceSystems.<name>.Queue: the sync tasks of that system go to that executor queue, nothing else does.

The Celery run of it (workers on different queues) is in test_celery.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow_harness import entry, write_config

from datasync.airflow.dag_factory import build_dags, sync_dag_id
from datasync.engine.configuration import load_config
from datasync.core.errors import ConfigError


def _config(tmp_path: Path, **systems: dict) -> Path:
    return write_config(
        tmp_path / "datasync.yaml",
        [entry("Items", source="JDE"), entry("Lots", "JdeLotMasterFetcher", source="CMS")],
        SourceSystems=systems,
    )


def _queues(path: Path) -> dict[tuple[str, str], str]:
    dags = build_dags(config_path=path).dags
    return {(dag_id, task.task_id): task.queue for dag_id, dag in dags.items() for task in dag.tasks}


def test_sync_tasks_of_a_system_with_a_queue_run_on_it(tmp_path: Path) -> None:
    from airflow.configuration import conf

    default = conf.get("operators", "default_queue")
    path = _config(tmp_path, JDE={"ConnId": "datasync_jde", "Queue": "jde_odbc"})
    queues = _queues(path)
    for sync_type in ("Mass", "Daily", "Hourly"):
        assert queues[(sync_dag_id("Items", sync_type), "sync")] == "jde_odbc"
        assert queues[(sync_dag_id("Lots", sync_type), "sync")] == default  # CMS has no queue
    # the gate and the housekeeping read only the target: any worker runs them
    assert queues[(sync_dag_id("Items", "Daily"), "priority_gate")] == default
    assert queues[("datasync__recovery", "recover")] == default
    dag = build_dags(config_path=path).dags[sync_dag_id("Items", "Mass")]
    assert "| queue | `jde_odbc` |" in dag.doc_md


def test_a_bad_queue_name_is_a_config_error_naming_the_field(tmp_path: Path) -> None:
    path = _config(tmp_path, CMS={"ConnId": "datasync_cms", "Queue": "cms,jde"})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "field SourceSystems.CMS.Queue: 'cms,jde' is not a queue name" in str(err.value)
