"""Checks every fetched batch passes before it reaches the target.

Written once for all dialects: a NULL key, an over-long string or a batch that
does not match the declared schema fails the sync with a message naming the
table, the column and the row key, before any target row changes.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from datasync.core import scalars
from datasync.core.arrowcast import first_invalid_utf8
from datasync.core.rowkeys import batch_row_key
from datasync.core.errors import PermanentSyncError, SourceDataError
from datasync.core.schema import TableSchema


def describe_key(schema: TableSchema, batch: pa.RecordBatch, row: int) -> str:
    """'DOCO=1234' or "LOTN='A1', ITM=7, MCU='M30'" for row ``row`` of ``batch``."""
    return batch_row_key(batch, schema.primary_key)(row)


def check_batch(schema: TableSchema, batch: pa.RecordBatch) -> None:
    """Raise a clear error if ``batch`` cannot be written to ``schema``'s table."""
    expected = schema.arrow_schema()
    if batch.schema.names != expected.names:
        missing = [n for n in expected.names if n not in batch.schema.names]
        extra = [n for n in batch.schema.names if n not in expected.names]
        detail = "; ".join(
            part
            for part in (
                f"missing column(s) {', '.join(missing)}" if missing else "",
                f"unexpected column(s) {', '.join(extra)}" if extra else "",
            )
            if part
        ) or "columns in another order"
        raise PermanentSyncError(
            f"table {schema.name}: {detail} (fetcher delivered {batch.schema.names}, expected {expected.names})"
        )
    for field in expected:
        got = batch.schema.field(field.name).type
        if got != field.type:
            raise PermanentSyncError(f"table {schema.name}, column {field.name}: fetcher delivered {got}, expected {field.type}")
    for key in (*schema.primary_key, schema.last_update_column):
        col = batch.column(key)
        if col.null_count:
            row = pc.index(pc.is_null(col), scalars.boolean(True)).as_py()
            raise SourceDataError(
                f"table {schema.name}, column {key}: NULL in a key column at batch row {row} "
                f"({describe_key(schema, batch, row)})"
            )
    for column in schema.columns:
        if column.kind == "string":
            _check_utf8(schema, batch, column.name)
        if column.kind == "string" and column.length:
            lengths = pc.utf8_length(batch.column(column.name))
            too_long = pc.greater(lengths, scalars.int64(column.length).cast(lengths.type))
            if pc.any(too_long).as_py():
                row = pc.index(too_long, scalars.boolean(True)).as_py()
                raise SourceDataError(
                    f"table {schema.name}, column {column.name}: value of {lengths[row].as_py()} characters is "
                    f"longer than the column's {column.length} ({describe_key(schema, batch, row)})"
                )


def _check_utf8(schema: TableSchema, batch: pa.RecordBatch, name: str) -> None:
    """Arrow does not re-check UTF-8 of strings a fetcher built from raw buffers; targets differ
    (PostgreSQL rejects, SQLite stores the bytes), so reject them here, naming the row."""
    col = batch.column(name)
    try:
        col.validate(full=True)
    except pa.ArrowInvalid:
        row = first_invalid_utf8(col)
        if row is None:
            raise
        value = col.view(pa.binary())[row].as_py()
        raise SourceDataError(
            f"table {schema.name}, column {name}: bytes {value!r} are not valid UTF-8 text "
            f"({describe_key(schema, batch, row)})"
        ) from None
