"""Log scope in a real Airflow task (dag.test, Airflow 3's structlog task logging): every line of
the sync, from the engine, the fetcher's prefetch thread, the target and the post-processor,
carries TableName, UpdateType and OperationId; a failed sync logs "Sync failed" once."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from airflow_harness import DAG_TEST_SCRIPT, REPO, TESTS, entry, migrated_env, run, write_config

from datasync_demo import generator as demo

pytestmark = pytest.mark.airflow

LINE = re.compile(r"\[(?P<logger>datasync[\w.]*)\]\s+(?P<fields>.*)$")


def fields_of(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", line.rsplit("]", 1)[-1]))


def test_task_log_lines_carry_the_scope(tmp_path: Path) -> None:
    demo.write_demo_source(tmp_path / "jde.db", 500)
    cfg = write_config(
        tmp_path / "datasync.yaml",
        [entry("Items", PostProcessorTypeName="LogResultPostProcessor"), entry("Events", "CmsMisDataFetcher", "CMS")],
    )
    env = migrated_env(
        tmp_path / "home",
        REPO / "dags",
        DATASYNC_CONFIG=str(cfg),
        AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{tmp_path / 'jde.db'}",
        AIRFLOW_CONN_DATASYNC_CMS=f"sqlite:///{tmp_path / 'missing' / 'cms.db'}",
        AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{tmp_path / 'cache.db'}",
        AIRFLOW__LOGGING__LOGGING_LEVEL="DEBUG",  # the fetcher's and target's lines are DEBUG
    )
    steps = [{"dag_id": "datasync__Items__mass"}, {"dag_id": "datasync__Events__mass"}]
    code = DAG_TEST_SCRIPT.format(tests=str(TESTS), steps=json.dumps(steps), dags=str(REPO / "dags"))
    out = run([sys.executable, "-c", code], env).stdout
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT:"))[len("RESULT:"):])
    items, events = result["steps"]
    assert items["state"] == "success" and events["state"] == "failed"
    op_id = items["xcom"]["sync"]["operation_id"]

    ours = [line for line in out.splitlines() if LINE.search(line)]
    by_logger: dict[str, list[str]] = {}
    for line in out.splitlines():
        m = LINE.search(line)
        if m:
            by_logger.setdefault(m["logger"], []).append(line)
    item_lines = [line for lines in by_logger.values() for line in lines if f"OperationId={op_id}" in line]
    loggers = {LINE.search(line)["logger"] for line in item_lines}
    assert {"datasync.engine.sync", "datasync.fetchers.jde", "datasync.targets.base", "datasync_test.postprocessor"} <= loggers
    for line in item_lines:
        assert fields_of(line).items() >= {"TableName": "Items", "UpdateType": "Mass", "OperationId": op_id}.items(), line
    # every line of those loggers during the run is in a scope (none without the fields)
    for logger in ("datasync.engine.sync", "datasync.fetchers.jde", "datasync.targets.base", "datasync_test.postprocessor"):
        for line in by_logger[logger]:
            assert "TableName=" in line and "UpdateType=" in line and "OperationId=" in line, line
    failed = [line for line in ours if "Sync failed" in line]
    assert len(failed) == 1 and "cannot open SQLite source" in failed[0]
    assert fields_of(failed[0])["TableName"] == "Events" and fields_of(failed[0])["UpdateType"] == "Mass"
