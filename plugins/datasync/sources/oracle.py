"""Oracle sources (JDE on Oracle) through python-oracledb, straight into Arrow batches.

The connection comes from the Oracle provider's ``OracleHook`` inside Airflow
and from datasync.connections.drivers outside (the same oracledb.connect
arguments). python-oracledb runs in thin mode (pure Python, no Oracle Instant
Client) unless the connection's extra asks the hook for thick mode.

``Connection.fetch_df_batches`` executes the query once and fetches
``chunk_rows`` rows per round trip into Arrow buffers (nanoarrow, in C): no
Python object per row or value. Each data frame is handed to pyarrow through
the Arrow C data interface without a copy, conformed to the fetcher's raw
schema and yielded, so memory follows one chunk, never the table.

Arrow types python-oracledb delivers and what they become:

- CHAR/NCHAR/VARCHAR2/NVARCHAR2 → string or large_string, padding kept → string
  (the fetchers trim it);
- NUMBER(p, 0) with p ≤ 18 (JDE's Julian dates) → int64;
- NUMBER without precision (JDE's math numerics), FLOAT, NUMBER(p, s > 0) →
  double (decimal128 when the connection sets ``fetch_decimals``); integer
  columns of the raw schema are cast to int64, refusing fractions, the others
  (times, implied decimals) stay as delivered for the JDE kernels;
- DATE → timestamp[s], TIMESTAMP → timestamp[us/ns] → timestamp[us] where the
  fetcher wants one.

Names are quoted and so case-sensitive: ``SourceSystems.JDE.Schema`` must be
spelled as Oracle stores it (PRODDTA, not proddta).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from datasync.core.identifiers import validate_identifier
from datasync.core.reading import SourceQuery
from datasync.sources.base import Reader, conform, names_as_in, named_placeholders
from datasync.sources.errors import classify

CHUNK_ROWS = 16_384
"""Rows per round trip (python-oracledb's arraysize and prefetch); one Arrow batch each."""
CASE_HINT = (
    "; Oracle names are case-sensitive when quoted and datasync quotes every name: spell the schema "
    "as Oracle stores it (usually upper case, e.g. PRODDTA)"
)


def frame_batch(frame: Any, query: SourceQuery) -> pa.RecordBatch:
    """One python-oracledb DataFrame as a RecordBatch conformed to the query's schema.

    Column by column through the Arrow C data interface (no copy), then cast where the
    fetcher's raw schema says (naming the first row that cannot be read).
    """
    arrays = [pa.array(column) for column in frame.column_arrays()]
    names = names_as_in(frame.column_names(), query.schema)
    return conform(pa.RecordBatch.from_arrays(arrays, names=names), names, query)


class OracleSourceReader(Reader):
    """An Oracle source read through python-oracledb's data-frame fetches into Arrow batches."""

    dialect = "oracle"

    def __init__(self, conn: Any, chunk_rows: int = CHUNK_ROWS):
        """``conn``: an open python-oracledb connection (from OracleHook or datasync.connections.drivers)."""
        self.conn = conn
        self.chunk_rows = chunk_rows

    def placeholder(self, name: str) -> str:
        return ":" + validate_identifier(name, "parameter")

    def read(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        """Yield batches of at most ``query.batch_size`` rows; columns named in its schema are cast to it."""
        import oracledb

        used = named_placeholders(query.sql)
        bound = {k: v for k, v in query.params.items() if k in used}  # oracledb refuses values without a placeholder
        size = query.chunk(self.chunk_rows)
        try:
            for frame in self.conn.fetch_df_batches(query.sql, parameters=bound or None, size=size):
                if not frame.column_arrays():
                    continue  # an empty result may come as a frame without columns
                batch = frame_batch(frame, query)
                if batch.num_rows:
                    yield batch
        except oracledb.Error as exc:
            raise classify(str(exc), query.table, CASE_HINT) from None

    def close(self) -> None:
        self.conn.close()


__all__ = ["OracleSourceReader", "frame_batch"]
