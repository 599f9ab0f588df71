"""A sync and a DAG parse never import pandas (about 0.5 s and 50 MB per process; see datasync.core.scalars)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

SYNC = """
import json, sys
from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config
from datasync.engine.service import sync_table
from datasync.engine.sync import SyncRequest

source = sys.argv[1]
demo.write_demo_source(source, 3000, seed=5)
cfg = parse_config(json.loads(sys.argv[2]))
seen = {}
for table in ("LotUsage", "Orders", "Mis"):
    for sync_type in ("Mass", "Daily"):
        sync_table(cfg, SyncRequest(table, sync_type, minimum_dt=None))
        seen[f"{table} {sync_type}"] = "pandas" in sys.modules
from datasync.airflow.dag_factory import build_dags
build_dags(config_path=sys.argv[3])
seen["DAG parse"] = "pandas" in sys.modules
print(json.dumps(seen))
"""


def test_syncs_and_dag_parsing_do_not_import_pandas(tmp_path: Path) -> None:
    schedules = {
        "MassConfig": {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True},
        "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
        "HourlyConfig": {"Enabled": False},  # schedules are on unless turned off (the seed's default)
    }
    cfg = {
        "DataSources": [
            {"TableName": "LotUsage", "FetcherTypeName": "JdeLotUsageFetcher", **schedules},
            {"TableName": "Orders", "FetcherTypeName": "JdeWorkOrderFetcher", **schedules},
            {"TableName": "Mis", "SourceSystem": "CMS", "FetcherTypeName": "CmsMisDataFetcher", **schedules},
        ]
    }
    source = tmp_path / "jde.db"
    env = {
        "AIRFLOW_CONN_DATASYNC_JDE": f"sqlite:///{source}",
        "AIRFLOW_CONN_DATASYNC_CMS": f"sqlite:///{source}",
        "AIRFLOW_CONN_DATASYNC_TARGET": f"sqlite:///{tmp_path / 'cache.db'}",
        "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", SYNC, str(source), json.dumps(cfg), str(REPO / "include" / "datasync.yaml")],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen and not any(seen.values()), f"pandas imported by: {[k for k, v in seen.items() if v]}"
