"""Existing cache tables keep their column names: a table's ``Columns`` map.

Fetchers name target columns by JDE data-dictionary alias (DOCO, MCU ...). A
cache table the .NET service created may call them otherwise (WADOCO,
WorkOrderNumber). ``Columns: {DOCO: WADOCO}`` maps alias to existing name;
the mapped schema is what the target sees everywhere: DDL, staging tables, the
de-duplication and MERGE (key, LastUpdateDT guard), the mass load and any read
of the table. Batches are checked against the fetcher's own schema (messages
name the alias) and renamed on their way to the target (no copy: Arrow renames
the schema only).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa

from datasync.config import DataSourceConfig
from datasync.core.errors import ConfigError
from datasync.core.schema import TableSchema, match_columns


def target_schema(schema: TableSchema, table: DataSourceConfig) -> TableSchema:
    """``schema`` (the fetcher's) with the table's Columns map applied; aliases match case-blind."""
    if not table.columns:
        return schema
    found, unknown = match_columns(table.columns, schema.column_names)
    names = {column: table.columns[alias] for alias, column in found.items()}
    if unknown:
        raise ConfigError(
            [
                f"table {table.table_name}, field Columns: {', '.join(unknown)} "
                f"{'is not a column' if len(unknown) == 1 else 'are not columns'} of {table.fetcher_type_name}; "
                f"its columns: {', '.join(schema.column_names)}"
            ]
        )
    mapped = {n.lower() for n in names.values()}
    clashes = [c for c in schema.column_names if c not in names and c.lower() in mapped]
    if clashes:
        raise ConfigError(
            [f"table {table.table_name}, field Columns: {', '.join(clashes)} would then name two columns; map it too"]
        )
    return schema.renamed(names)


def aliases(schema: TableSchema, mapped: TableSchema) -> dict[str, str]:
    """Target column name -> the fetcher alias it holds (for messages)."""
    return dict(zip(mapped.column_names, schema.column_names))


def renamed(batches: Iterable[pa.RecordBatch], mapped: TableSchema) -> Iterator[pa.RecordBatch]:
    """The fetcher's batches under the target's column names."""
    names = mapped.column_names
    for batch in batches:
        yield batch.rename_columns(names) if batch.schema.names != names else batch
