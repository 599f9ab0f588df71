"""Checks every fetched batch passes before it reaches the target.

Written once for all dialects: a NULL key, an over-long string or a batch that
does not match the declared schema fails the sync with a message naming the
table, the column and the row key, before any target row changes.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from datasync.core import scalars
from datasync.core.errors import PermanentSyncError, SourceDataError
from datasync.core.schema import TableSchema


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
        for row, value in enumerate(col.view(pa.binary()).to_pylist()):  # error path only
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise SourceDataError(
                        f"table {schema.name}, column {name}: bytes {value!r} are not valid UTF-8 text "
                        f"({describe_key(schema, batch, row)})"
                    ) from None
        raise


def first_duplicate_key(schema: TableSchema, batch: pa.RecordBatch) -> int | None:
    """Index of the first row of ``batch`` whose key an earlier row of the batch already has."""
    seen: set[tuple] = set()
    columns = [batch.column(k).to_pylist() for k in schema.primary_key]
    for row, key in enumerate(zip(*columns)):
        if key in seen:
            return row
        seen.add(key)
    return None


def duplicate_key_error(
    schema: TableSchema, batch: pa.RecordBatch, driver_error: BaseException, row: int | None = None
) -> SourceDataError:
    """Explain a primary-key violation of a Mass load (loaded straight into the table, no de-duplication).

    ``row``: the batch row that failed, when the target can tell; else a duplicate within the batch
    is searched, else the driver's own words (PostgreSQL and SQL Server name the key) must do.
    """
    key = ", ".join(schema.primary_key)
    if row is None:
        row = first_duplicate_key(schema, batch)
    where = (
        f"duplicate key ({describe_key(schema, batch, row)})"
        if row is not None
        else "a key of this batch was already loaded by an earlier batch"
    )
    said = str(driver_error).strip()
    detail = getattr(getattr(driver_error, "diag", None), "message_detail", None)
    if detail:
        said = f"{said}: {detail}"
    return SourceDataError(f"table {schema.name}, key column(s) {key}: {where}; a Mass load needs unique keys (target said: {said})")
