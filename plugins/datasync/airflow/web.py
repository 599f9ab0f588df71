"""The DataSync web app, served by the Airflow API server under /datasync (see airflow.plugin).

- ``GET /datasync/health``: the seed's IHealthCheck as HTTP, for load balancers and
  probes: 200 Healthy, 200 Degraded, 503 Unhealthy (also when the ledger cannot be
  read), JSON ``{status, description, data}`` with ``{Table}_LastSync`` (ISO-8601 or
  "Never"), ``{Table}_Status`` ("Current" or "Overdue") and richer per-table keys.
  No login: it says no more than a status page would.
- ``GET /datasync/page`` (the DataSync entry of the UI's navigation) and
  ``GET /datasync/api/tables`` (what the page shows): the API server's
  authentication (its session cookie or a bearer token) and DAG read access.

Each request reads the ledger once (``Ledger.latest``) on its own connection.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from datasync.airflow.dag_factory import HEALTH_DAG_ID, load_for_dags, resolve_config_path, sync_dag_id
from datasync.core.types import HealthStatus

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}
_config_cache: dict[tuple[str, float], Any] = {}


def _config() -> Any:
    """The config the DAGs are built from (its valid entries), re-read when the file changes."""
    from airflow.configuration import conf

    dags_folder = Path(conf.get("core", "dags_folder"))
    path = resolve_config_path(dags_folder / "datasync_dags.py")
    key = (str(path), path.stat().st_mtime if path.exists() else 0.0)
    if key not in _config_cache:
        _config_cache.clear()
        _config_cache[key] = load_for_dags(path).config
    return _config_cache[key]


def _report(now: datetime | None = None) -> Any:
    from datasync.airflow.connections import HookConnector
    from datasync.engine import service

    return service.health(_config(), connector=HookConnector(), now=now)


def health_response() -> JSONResponse:
    try:
        body = _report().as_health_check()
    except Exception as exc:  # noqa: BLE001 - a probe must get an answer, not a 500 page
        log.warning("datasync health: cannot read the ledger", exc_info=True)
        body = {"status": str(HealthStatus.UNHEALTHY), "description": f"cannot read the ledger: {type(exc).__name__}: {exc}", "data": {}}
    code = 503 if body["status"] == HealthStatus.UNHEALTHY else 200
    return JSONResponse(body, status_code=code, headers=NO_STORE)


def tables_payload() -> dict[str, Any]:
    """What the DataSync page shows: the health check plus, per table, its DAG ids."""
    config = _config()
    check = _report().as_health_check()
    tables = []
    for ds in config.enabled_tables():
        name = ds.table_name
        data = check["data"]
        tables.append(
            {
                "table": name,
                "health": data.get(f"{name}_Health"),
                "status": data.get(f"{name}_Status"),
                "last_sync": data.get(f"{name}_LastSync"),
                "problems": data.get(f"{name}_Problems", []),
                "types": data.get(f"{name}_Types", {}),
                "dags": {t: sync_dag_id(name, t) for t in ds.enabled_types()},
            }
        )
    return {
        "status": check["status"],
        "description": check["description"],
        "checked_at": check["checked_at"],
        "health_dag": HEALTH_DAG_ID,
        "refresh_seconds": int(os.environ.get("DATASYNC_PAGE_REFRESH_SECONDS", "30")),
        "tables": tables,
    }


def _page_html() -> str:
    return (files("datasync.airflow") / "page.html").read_text(encoding="utf-8")


def _requires_dag_read() -> Any:
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return Depends(requires_access_dag(method="GET"))


def create_app() -> FastAPI:
    app = FastAPI(title="DataSync", description=__doc__, docs_url=None, redoc_url=None, openapi_url=None)
    read = _requires_dag_read()

    @app.get("/health", response_class=JSONResponse)
    def health() -> JSONResponse:
        return health_response()

    @app.get("/api/tables", dependencies=[read])
    def tables() -> JSONResponse:
        return JSONResponse(tables_payload(), headers=NO_STORE)

    @app.get("/page", response_class=HTMLResponse, dependencies=[read])
    def page() -> HTMLResponse:
        return HTMLResponse(_page_html(), headers=NO_STORE)

    return app
