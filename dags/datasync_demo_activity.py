"""The demo's ERP activity: every few minutes a few rows of the demo source change or appear.

Only in the demo (scripts/airflow-standalone sets $DATASYNC_DEMO_SOURCE to the demo source
file); elsewhere this file defines no DAG. It keeps incremental runs showing real counts.
"""

import os
from datetime import datetime, timedelta, timezone

DEMO_SOURCE = os.environ.get("DATASYNC_DEMO_SOURCE", "")
EVERY = timedelta(minutes=float(os.environ.get("DATASYNC_DEMO_ACTIVITY_MINUTES", "5")))
PERCENT = float(os.environ.get("DATASYNC_DEMO_ACTIVITY_PERCENT", "0.2"))

if DEMO_SOURCE:
    from airflow.sdk import DAG, task
    from airflow.timetables.interval import DeltaDataIntervalTimetable

    with DAG(
        "datasync_demo__activity",
        description=f"Demo only: every {EVERY.total_seconds() / 60:g} min, {PERCENT:g}% of the demo source's rows change, half as many are added",
        schedule=DeltaDataIntervalTimetable(EVERY),
        start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["datasync", "demo"],
    ):

        @task
        def touch_demo_source() -> dict:
            """Update PERCENT % of each demo table's rows (new audit stamp) and add half as many.

            A sync reading the SQLite source holds off the write: wait for it (up to 10 min)
            rather than fail the try.
            """
            import sqlite3
            import time

            from datasync_demo.generator import touch

            for _ in range(120):
                try:
                    changed = touch(DEMO_SOURCE, PERCENT, seed=int(time.time()))
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    time.sleep(5)
            else:
                raise TimeoutError(f"the demo source {DEMO_SOURCE} stayed locked for 10 minutes")
            return {table: {"updated": u, "added": a} for table, (u, a) in changed.items()}

        touch_demo_source()
