"""Arrow batches as the rows pymssql's ``bulk_copy`` sends faithfully.

Bulk copy values (pymssql 2.4 / FreeTDS 1.5, read from their sources):
- FreeTDS sends a zero-length value as NULL; an empty NVARCHAR is sent as a
  single U+0000, which FreeTDS turns into a zero-length, non-NULL value. So ''
  stays '' and NULL stays NULL.
- FreeTDS trims trailing spaces of character values in bulk copy (as bcp does);
  JDE strings arrive trimmed anyway.
- pymssql would send a ``datetime`` with millisecond precision and cannot send
  a ``date`` at all; dates, timestamps and decimals therefore go as ISO / plain
  text, which FreeTDS converts to DATE / DATETIME2 / DECIMAL(p,s) with the
  target column's precision and scale (the freebcp character-mode path).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_EMPTY_NVARCHAR = "\x00"  # FreeTDS: a single U+0000 is a zero-length, non-NULL value


def _bulk_column(col: pa.ChunkedArray | pa.Array) -> list[Any]:
    """One Arrow column as the Python values pymssql's bulk_copy sends faithfully (NULL stays None)."""
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        col = pc.if_else(pc.equal(pc.utf8_length(col), 0), pa.scalar(_EMPTY_NVARCHAR, t), col)
    elif pa.types.is_timestamp(t):
        if t.tz is not None:
            col = pc.cast(col, pa.timestamp(t.unit))  # UTC wall time, naive
        col = pc.strftime(pc.cast(col, pa.timestamp("us")), format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_date(t):
        col = pc.strftime(col, format="%Y-%m-%d")
    elif pa.types.is_decimal(t):
        col = pc.cast(col, pa.string())
    return col.to_pylist()


def bulk_rows(batch: pa.RecordBatch, chunk_rows: int) -> Iterator[tuple]:
    """Rows of ``batch`` as tuples for ``bulk_copy``, converted column-wise ``chunk_rows`` at a time."""
    step = max(1, chunk_rows)
    for start in range(0, batch.num_rows, step):
        chunk = batch.slice(start, step)
        yield from zip(*(_bulk_column(c) for c in chunk.columns))
