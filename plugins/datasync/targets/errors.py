"""A target's primary-key violation explained in datasync's terms: which table, which key, which row.

A Mass with PrepurgeData loads straight into the emptied table (no de-duplication),
so duplicate source keys surface as the driver's unique violation; this turns it
into a SourceDataError naming the row, the same on every dialect.
"""

from __future__ import annotations

import pyarrow as pa

from datasync.core.errors import SourceDataError
from datasync.core.rowkeys import batch_row_key
from datasync.core.schema import TableSchema


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
        f"duplicate key ({batch_row_key(batch, schema.primary_key)(row)})"
        if row is not None
        else "a key of this batch was already loaded by an earlier batch"
    )
    said = str(driver_error).strip()
    detail = getattr(getattr(driver_error, "diag", None), "message_detail", None)
    if detail:
        said = f"{said}: {detail}"
    return SourceDataError(f"table {schema.name}, key column(s) {key}: {where}; a Mass load needs unique keys (target said: {said})")
