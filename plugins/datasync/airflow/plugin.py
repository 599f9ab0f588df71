"""The DataSync Airflow plugin (entry point ``airflow.plugins``): the health endpoint and the UI page.

Registered through the package's entry point, not the plugins/ folder, so it
loads wherever datasync is installed (and the plugins/ import trap of
AIRFLOW3_NOTES.md does not apply). Only the API server builds the FastAPI app:
other Airflow processes load this class without importing FastAPI.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from datasync.airflow import listeners as health_listeners
from datasync.airflow.timetables import DispatchedTimetable

URL_PREFIX = "/datasync"


class DataSyncPlugin(AirflowPlugin):
    name = "datasync"
    listeners = [health_listeners]  # the health run's verdict as its note
    timetables = [DispatchedTimetable]  # the sync DAGs' (custom timetables must be registered)
    external_views = [
        {
            "name": "DataSync",
            "href": f"{URL_PREFIX}/page",
            "url_route": "datasync",
            "destination": "nav",
            "category": "browse",
        }
    ]

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from datasync.airflow.web import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "DataSync"}]
