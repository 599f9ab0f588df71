"""Downstream of the cache: DAGs that run when datasync has fresh data in a table.

Not loaded by default (it is not in dags/): copy it into the DAG folder of the
Airflow that runs datasync and rename the tables. Each sync DAG's ``publish`` task
emits an event of its cache table's asset after a Mass or a sync that changed
rows (docs/assets.md); the event's extra says what the sync did:

    {"table": "WorkOrder_Curr", "sync_type": "Hourly", "rows": 120, "inserted": 3,
     "updated": 117, "deleted": null, "operation_id": "...", "minimum_dt": "2024-05-01T09:00:00+00:00"}

``cache_table(name)`` is the asset the sync DAGs publish (name and URI from the
same datasync config, $DATASYNC_CONFIG), so the schedule always matches it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, task

from datasync.airflow.assets import cache_table

START = datetime(2024, 1, 1, tzinfo=timezone.utc)

WORK_ORDERS = cache_table("WorkOrder_Curr")
ANY_OF = cache_table("WorkOrder_Curr") | cache_table("Item_Curr")


def _events(triggering_asset_events) -> list[dict]:
    """Every event that started this run (several syncs may have finished since the last run)."""
    out = []
    for asset, events in triggering_asset_events.items():
        for event in events:
            out.append({"asset": getattr(asset, "name", str(asset)), **(event.extra or {})})
    return out


with DAG(
    dag_id="report_refresh__work_orders",
    schedule=WORK_ORDERS,
    start_date=START,
    catchup=False,
    tags=["downstream", "datasync"],
    doc_md="Refreshes the work order report after each sync of WorkOrder_Curr that changed rows.",
):

    @task
    def refresh(triggering_asset_events=None) -> list[dict]:
        events = _events(triggering_asset_events or {})
        for e in events:
            print(
                f"{e['table']}: {e['sync_type']} sync {e['operation_id']}: {e['inserted']} inserted, "
                f"{e['updated']} updated, {e['deleted'] or 0} deleted ({e['rows']} rows read)"
            )
        # a Mass or a full refresh (minimum_dt null) read everything; an incremental, rows changed since minimum_dt
        if not events:
            print("started without an event (a manual run): full refresh")
        elif any(e["minimum_dt"] is None for e in events):
            print("full refresh")
        else:
            print(f"refresh rows changed since {min(e['minimum_dt'] for e in events)}")
        return events

    refresh()


with DAG(
    dag_id="extract__any_cache_table",
    schedule=ANY_OF,
    start_date=START,
    catchup=False,
    tags=["downstream", "datasync"],
    doc_md="Runs after a change to WorkOrder_Curr or to Item_Curr.",
):

    @task
    def extract(triggering_asset_events=None) -> list[dict]:
        events = _events(triggering_asset_events or {})
        for table in sorted({e["table"] for e in events}):
            print(f"extracting {table}")
        return events

    extract()
