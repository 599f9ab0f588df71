"""One measured sync of one Python tool, in its own process (started by bench/run.py).

    python bench/runner.py '<json spec>'

Imports everything the tool needs first, then times the sync itself
(``time.perf_counter`` around it: the in-process figure; bench/run.py times the whole process) and prints one line ``RESULT {json}``:
seconds, rows written, the tool's own view of what it did, and this process's
peak RSS (VmHWM); the parent watches the same figure for every tool it starts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH_TABLE = "LotUsage"


def _report(**fields: Any) -> None:
    """The result line; with this process's peak RSS (VmHWM), read right after the sync."""
    try:
        with open("/proc/self/status") as f:
            hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        fields["own_peak_rss_mb"] = hwm / 1024
    except (OSError, StopIteration):
        pass
    print("RESULT " + json.dumps(fields), flush=True)


# --------------------------------------------------------------------------- datasync


def datasync_config(spec: dict[str, Any]) -> dict[str, Any]:
    mass = {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True}
    return {
        "BatchSize": spec.get("batch_size", 1_000_000),
        "BulkCopyBatchSize": spec.get("bulk_copy_batch_size", 10_000),
        "SourceSystems": {"JDE": {"ConnId": "datasync_jde", "TimeZone": "UTC"}},
        "DataSources": [
            {
                "TableName": spec.get("table", BENCH_TABLE),
                "SourceSystem": "JDE",
                "FetcherTypeName": spec.get("fetcher", "JdeLotUsageFetcher"),
                "MassConfig": mass,
                "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
                "HourlyConfig": {"Enabled": False},  # schedules are on unless turned off (the seed's default)
            }
        ],
    }


def run_datasync(spec: dict[str, Any]) -> None:
    os.environ["AIRFLOW_CONN_DATASYNC_JDE"] = spec["source_conn"]
    os.environ["AIRFLOW_CONN_DATASYNC_TARGET"] = spec["target_conn"]
    os.environ["AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA"] = "True"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

    import datasync.fetchers.jde  # noqa: F401
    import datasync.sources.sqlite
    import datasync.sources.odbc  # noqa: F401
    import datasync.targets.postgres  # noqa: F401
    import datasync.targets.sqlite  # noqa: F401
    from datasync.engine.configuration import parse_config
    from datasync.engine.service import sync_table
    from datasync.engine.sync import SyncRequest

    if spec.get("arrow") is False:  # the row-by-row SQLite reader, for comparison
        original = datasync.sources.sqlite.SqliteSourceReader.__init__

        def rows_only(self: Any, path: str, arrow: bool = True) -> None:
            original(self, path, arrow=False)

        datasync.sources.sqlite.SqliteSourceReader.__init__ = rows_only  # type: ignore[method-assign]

    cfg = parse_config(datasync_config(spec))
    sync_type = "Mass" if spec["mode"] == "mass" else "Daily"
    profiler = None
    if spec.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    started = time.perf_counter()
    result = sync_table(cfg, SyncRequest(spec.get("table", BENCH_TABLE), sync_type))
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        Path(spec["profile"]).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    _report(seconds=seconds, rows=result.rows, inserted=result.inserted, updated=result.updated)


# --------------------------------------------------------------------------- dlt


def run_dlt(spec: dict[str, Any]) -> None:
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = spec["data_dir"]
    os.environ["DLT_PROJECT_DIR"] = spec["data_dir"]

    import dlt
    import psycopg2  # noqa: F401 - the postgres destination's driver, imported lazily by dlt
    import sqlalchemy.dialects.sqlite  # noqa: F401
    from dlt.destinations import postgres
    from dlt.sources.sql_database import sql_table

    resource = sql_table(
        credentials=f"sqlite:///{spec['source']}",
        table=spec.get("source_table", "F4111"),
        backend="pyarrow",
        incremental=dlt.sources.incremental(spec.get("cursor", "ILCRDJ")),
        primary_key=spec.get("primary_key", "ILUKID"),
    )
    pipeline = dlt.pipeline(
        pipeline_name="datasync_bench",
        destination=postgres(credentials=spec["pg_url"]),
        dataset_name=spec["dataset"],
        pipelines_dir=spec["pipelines_dir"],
    )
    disposition = "replace" if spec["mode"] == "mass" else "merge"
    started = time.perf_counter()
    pipeline.run(resource, write_disposition=disposition)
    seconds = time.perf_counter() - started
    counts = pipeline.last_trace.last_normalize_info.row_counts
    _report(seconds=seconds, rows=int(counts.get(spec.get("source_table", "F4111").lower(), 0)))


TOOLS = {"datasync": run_datasync, "dlt": run_dlt}

if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    TOOLS[job["tool"]](job)
