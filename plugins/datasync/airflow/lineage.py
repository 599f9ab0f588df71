"""OpenLineage of a sync: which source table fills which cache table, column by column.

The sync operator's ``get_openlineage_facets_on_start/complete/failure`` (the
openlineage provider's DefaultExtractor calls them) return:

- input: the source connection's namespace and the fetcher's table (``F4801``,
  under the source system's schema when it has one);
- output: the cache table, named like its Airflow asset (datasync.airflow.assets),
  with the target's schema (the table's Columns map applied), the column lineage
  from each JDE physical column to its target column (WADOCO → DOCO; LastUpdateDT
  from the audit date and time), and on completion the row count of the sync;
- on failure the same datasets without a row count; the provider's FAIL event
  carries the exception as its errorMessage facet (message and stack trace).

Nothing is emitted unless the provider has a transport (docs/assets.md). Only
this module imports the provider, and only when the provider calls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from datasync.config import DataSourceConfig, DataSyncConfig
from datasync.connections import ConnectionInfo, from_environment
from datasync.connections.naming import DatasetName, dataset
from datasync.engine.columnmap import target_schema

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

log = logging.getLogger(__name__)


def _connection(conn_id: str, ask_airflow: bool) -> ConnectionInfo | None:
    """The connection as the task sees it (Airflow's lookup), else its AIRFLOW_CONN_* variable, else None.

    ``ask_airflow`` False: the variable only. The provider emits COMPLETE and FAIL from a forked
    child of the task, where a lookup through the task's supervisor would hang.
    """
    if ask_airflow:
        try:
            from datasync.airflow.connections import HookConnector

            return HookConnector().info(conn_id)
        except Exception:  # noqa: BLE001 - lineage never fails a sync
            pass
    try:
        return from_environment(conn_id)
    except Exception:  # noqa: BLE001
        return None


def _fetcher(config: DataSyncConfig, table: DataSourceConfig) -> Any:
    from datasync.fetchers.registry import fetcher_class

    cls = fetcher_class(table.fetcher_type_name)
    return cls(table, config.source_system(table.source_system), None, config.batch_size)


@dataclass(frozen=True)
class SyncDatasets:
    """Where a sync reads from and writes to (resolved once, at START, in the task's own process)."""

    source: DatasetName | None
    target: DatasetName


def sync_datasets(config: DataSyncConfig, table: DataSourceConfig, ask_airflow: bool = True) -> SyncDatasets:
    """The source table on the source connection; the cache table named like its asset (AssetNamespace first)."""
    source = config.source_system(table.source_system)
    name = _fetcher(config, table).lineage_table()
    src = dataset(_connection(source.conn_id, ask_airflow), source.conn_id, name, schema=source.schema_name) if name else None
    prefix = table.asset_namespace or config.asset_namespace
    info = None if prefix else _connection(config.target_conn_id, ask_airflow)
    return SyncDatasets(src, dataset(info, config.target_conn_id, table.table_name, prefix=prefix))


def _type(column: Any) -> str:
    if column.kind == "string":
        return f"string({column.length})" if column.length else "string"
    if column.kind == "decimal":
        return f"decimal({column.precision},{column.scale})"
    return str(column.kind)


def sync_lineage(
    config: DataSyncConfig,
    table_name: str,
    result: dict[str, Any] | None = None,
    datasets: SyncDatasets | None = None,
) -> OperatorLineage:
    """Input and output datasets of ``table_name``'s sync, with schema, column lineage and rows (``result``).

    ``datasets``: resolved earlier (START); else from the AIRFLOW_CONN_* variables only.

    Every failure here is the provider's to log: the DefaultExtractor catches it, and the sync is unaffected.
    """
    from airflow.providers.common.compat.openlineage.facet import (
        ColumnLineageDatasetFacet,
        Fields,
        InputDataset,
        InputField,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    table = config.table(table_name)
    fetcher = _fetcher(config, table)
    own = fetcher.schema()
    mapped = target_schema(own, table)
    datasets = datasets or sync_datasets(config, table, ask_airflow=False)
    source, target = datasets.source, datasets.target

    facets: dict[str, Any] = {
        "schema": SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=c.name, type=_type(c)) for c in mapped.columns]
        )
    }
    sources = fetcher.column_sources()
    if source is not None and sources:
        fields = {}
        for alias, column in zip(own.column_names, mapped.column_names):
            physical = sources.get(alias)
            if physical:
                fields[column] = Fields(
                    inputFields=[InputField(namespace=source.namespace, name=source.name, field=p) for p in physical],
                    transformationType="",
                    transformationDescription="",
                )
        facets["columnLineage"] = ColumnLineageDatasetFacet(fields=fields)
    output_facets: dict[str, Any] = {}
    if result is not None and result.get("rows") is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=int(result["rows"]))
    return OperatorLineage(
        inputs=[InputDataset(namespace=source.namespace, name=source.name)] if source is not None else [],
        outputs=[OutputDataset(namespace=target.namespace, name=target.name, facets=facets, outputFacets=output_facets)],
    )
