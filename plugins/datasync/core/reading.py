"""The contract between fetchers and source readers: a query to run, and who runs it.

A fetcher renders its SQL with the reader's quoting and placeholders, then asks
the reader for raw Arrow batches of a ``SourceQuery``; the reader owns the
driver, streams, casts the named columns to the raw types the fetcher expects,
and names the source table and row in its errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyarrow as pa


@dataclass(frozen=True)
class SourceQuery:
    """One query for a source reader.

    ``schema``: raw Arrow types to cast the named result columns to (others stay as the
    driver delivers them). ``table`` and ``key_columns`` only name the source table and
    row in error messages.
    """

    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 1_000_000
    schema: pa.Schema | None = None
    table: str = "source"
    key_columns: tuple[str, ...] = ()

    def chunk(self, limit: int) -> int:
        """Rows per driver round trip: at most ``limit``, never more than a batch."""
        return max(1, min(self.batch_size, limit))


class SourceReader(Protocol):
    """An open source connection that runs a query and yields raw Arrow batches."""

    dialect: str  # 'sqlite', 'postgres', 'odbc', 'mssql', 'oracle': picks include/sql/fetchers/dialect/<dialect>.sql

    def placeholder(self, name: str) -> str:
        """The driver's placeholder for bound value ``name`` in query text."""

    def quote(self, name: str) -> str:
        """The source's quoting of a validated identifier (table, column, schema)."""

    def read(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        """Run the query and yield batches of at most ``query.batch_size`` rows."""

    def close(self) -> None: ...
