"""Cache tables as Airflow assets: downstream DAGs run when a table has fresh data.

Each sync DAG ends with a ``publish`` task whose outlet is the table's asset
(name: the table's AssetName, else its TableName; URI: its AssetNamespace, the
DataSync section's, else the target connection as the environment defines it
when the DAGs are parsed, e.g. ``mssql://sql01:1433/Cache/dbo/WorkOrder_Curr``;
group ``datasync``). Airflow records an asset event only for a task that
succeeds, so ``publish`` succeeds only after a committed sync that was a Mass
or changed rows, with the counts as the event's extra; after a sync that
changed nothing it is skipped (no event). A failed or skipped sync leaves it
upstream_failed or skipped: no event either. See docs/assets.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from datasync.config import DataSourceConfig, DataSyncConfig
from datasync.connections import from_environment
from datasync.connections.naming import DatasetName, dataset, fallback_namespace
from datasync.core.errors import ConfigError
from datasync.core.types import SyncType

log = logging.getLogger(__name__)

ASSET_GROUP = "datasync"
PUBLISH_TASK_ID = "publish"
EXTRA_KEYS = ("table", "sync_type", "rows", "inserted", "updated", "deleted", "operation_id", "minimum_dt")


def cache_table_dataset(config: DataSyncConfig, table: DataSourceConfig) -> DatasetName:
    """Namespace, name and URI of ``table``'s cache table (no connection is opened).

    The target connection is read from its AIRFLOW_CONN_* variable only (parsing asks no
    metadata DB or secrets backend); when it is not there, ``datasync://conn_id/table``.
    """
    prefix = table.asset_namespace or config.asset_namespace
    try:
        info = None if prefix else from_environment(config.target_conn_id)
    except ConfigError:
        info = None
    return dataset(info, config.target_conn_id, table.table_name, prefix=prefix)


def cache_table_asset(config: DataSyncConfig, table: DataSourceConfig) -> Asset:
    """The Airflow asset of ``table``'s cache table (name, URI, group ``datasync``)."""
    name = table.asset_name or table.table_name
    extra = {"table": table.table_name, "target_conn_id": config.target_conn_id}
    uri = cache_table_dataset(config, table).uri
    try:
        return Asset(name=name, uri=uri, group=ASSET_GROUP, extra=extra)
    except ValueError as exc:  # a URI the scheme's provider refuses (e.g. postgres without a database)
        fallback = f"{fallback_namespace(config.target_conn_id)}/{table.table_name}"
        log.warning("%s: asset URI %s refused (%s); using %s", table.table_name, uri, exc, fallback)
        return Asset(name=name, uri=fallback, group=ASSET_GROUP, extra=extra)


@lru_cache(maxsize=4)
def _config_for(path: str) -> DataSyncConfig:
    from datasync.airflow.dag_factory import load_for_dags

    return load_for_dags(path).config


def cache_table(name: str, config_path: str | Path | None = None) -> Asset:
    """The asset of the cache table ``name`` (its AssetName or TableName), for a downstream DAG's schedule.

    Read from the datasync config the DAGs are built from ($DATASYNC_CONFIG, else
    include/datasync.yaml), so it is the same asset (name and URI) the sync DAGs publish.
    """
    from datasync.airflow.dag_factory import resolve_config_path

    config = _config_for(str(config_path or resolve_config_path()))
    for table in config.data_sources:
        if (table.asset_name or table.table_name).lower() == name.lower() or table.table_name.lower() == name.lower():
            return cache_table_asset(config, table)
    known = ", ".join(t.asset_name or t.table_name for t in config.data_sources) or "(none)"
    raise ConfigError([f"no cache table {name!r} in the datasync config; its tables: {known}"])


def changed_rows(result: Mapping[str, Any]) -> int:
    return int(result.get("inserted") or 0) + int(result.get("updated") or 0) + int(result.get("deleted") or 0)


def publish_reason(result: Any) -> str | None:
    """Why this sync result is news for downstream (None: it is not, no event)."""
    if not isinstance(result, Mapping) or "operation_id" not in result:
        return None
    if result.get("sync_type") == SyncType.MASS:
        return "a Mass sync reloaded the table"
    changed = changed_rows(result)
    return f"{changed} rows changed" if changed else None


def event_extra(result: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event's extra: what the sync did, as its XCom says."""
    return {key: result.get(key) for key in EXTRA_KEYS}


class PublishCacheTableOperator(BaseOperator):
    """Announces a committed sync of ``table`` as an event of its cache table's asset.

    Reads the sync task's XCom (it exists only when the sync committed). A Mass, or
    a sync that inserted, updated or deleted rows: success, one asset event with
    the counts as extra. A sync that changed nothing: skipped, no event.
    """

    ui_color = "#d5f0dc"

    def __init__(self, *, table: str, asset: Asset, sync_task_id: str = "sync", **kwargs: Any):
        kwargs.setdefault("retries", 0)
        super().__init__(outlets=[asset], **kwargs)
        self.table = table
        self.asset = asset
        self.sync_task_id = sync_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        result = context["ti"].xcom_pull(task_ids=self.sync_task_id)
        reason = publish_reason(result)
        if reason is None:
            what = "changed no rows" if isinstance(result, Mapping) else "left no result"
            raise AirflowSkipException(f"{self.table}: the sync {what}; no event for asset {self.asset.name}")
        extra = event_extra(result)
        context["outlet_events"][self.asset].extra = extra
        log.info("%s: %s; event for asset %s (%s): %s", self.table, reason, self.asset.name, self.asset.uri, extra)
        return extra
