"""Checks every fetched batch passes before it reaches the target.

Written once for all dialects: a NULL key, an over-long string or a batch that
does not match the declared schema fails the sync with a message naming the
table, the column and the row key, before any target row changes.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from datasync.errors import PermanentSyncError, SourceDataError
from datasync.schema import TableSchema


def describe_key(schema: TableSchema, batch: pa.RecordBatch, row: int) -> str:
    """'DOCO=1234' or 'LOTN=A1, ITM=7, MCU=M30' for row ``row`` of ``batch``."""
    parts = []
    for k in schema.primary_key:
        if k in batch.schema.names:
            parts.append(f"{k}={batch.column(k)[row].as_py()!r}")
    return ", ".join(parts) or f"row {row}"


def check_batch(schema: TableSchema, batch: pa.RecordBatch) -> None:
    """Raise a clear error if ``batch`` cannot be written to ``schema``'s table."""
    expected = schema.arrow_schema()
    if batch.schema.names != expected.names:
        raise PermanentSyncError(
            f"table {schema.name}: fetcher delivered columns {batch.schema.names}, expected {expected.names}"
        )
    for field in expected:
        got = batch.schema.field(field.name).type
        if got != field.type:
            raise PermanentSyncError(f"table {schema.name}, column {field.name}: fetcher delivered {got}, expected {field.type}")
    for key in (*schema.primary_key, schema.last_update_column):
        col = batch.column(key)
        if col.null_count:
            row = pc.index(pc.is_null(col), True).as_py()
            raise SourceDataError(
                f"table {schema.name}, column {key}: NULL in a key column at batch row {row} "
                f"({describe_key(schema, batch, row)})"
            )
    for column in schema.columns:
        if column.kind == "string" and column.length:
            lengths = pc.utf8_length(batch.column(column.name))
            too_long = pc.greater(lengths, column.length)
            if pc.any(too_long).as_py():
                row = pc.index(too_long, True).as_py()
                raise SourceDataError(
                    f"table {schema.name}, column {column.name}: value of {lengths[row].as_py()} characters is "
                    f"longer than the column's {column.length} ({describe_key(schema, batch, row)})"
                )
