"""ODBC sources (production JDE and CMS): query results straight into Arrow batches.

The reader runs the fetcher's query through arrow-odbc, which binds column
buffers and fills Arrow arrays in Rust: no Python object per row or value.
The connection string is built as ``OdbcHook`` builds it
(datasync.connections.drivers.odbc_connection_string: DRIVER, DSN, SERVER,
DATABASE, PORT, then every extra as ``key=value``; credentials are passed
apart and escaped by arrow-odbc), so a connection that works for Airflow's
ODBC operators works here.

Memory is bounded by the transit buffer: at most ``chunk_rows`` rows and
``max_bytes_per_batch`` bytes (two buffers while fetching concurrently),
whatever the table size, provided the driver streams. The connection string
asks the drivers the tests use to (datasync.connections.drivers.odbc_streaming_options):
psqlodbc through a cursor (``UseDeclareFetch=1;Fetch=16384``), the SQLite ODBC
driver stepping through the result (``StepAPI=1``; it then may report an
untyped column as text, so the JDE fetchers cast the audit time and parse
numbers delivered as text). Values bound to ``:name`` placeholders are passed
as text (arrow-odbc binds parameters as VARCHAR); the servers convert them
to the column type on comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from datasync.core.errors import ConfigError, TransientSyncError
from datasync.core.identifiers import validate_identifier
from datasync.core.reading import SourceQuery
from datasync.sources.base import NAMED_TOKENS, Reader, conform, datetime_text, names_as_in
from datasync.sources.errors import classify

CHUNK_ROWS = 16_384
"""Rows per ODBC fetch (the transit buffer); a batch never holds more than the fetcher's BatchSize.
Larger fetches were no faster in the benchmark and cost memory (two buffers while fetching concurrently)."""
MAX_BYTES_PER_BATCH = 32 * 1024 * 1024
"""Upper bound of one transit buffer: wide rows get fewer rows per fetch."""
MAX_TEXT_SIZE = 4000
"""Bytes reserved per value of an unbounded text column (VARCHAR(MAX), TEXT); JDE columns are bounded."""


def positional(sql: str, params: dict[str, Any]) -> tuple[str, list[str | None]]:
    """``:name`` placeholders → ``?`` and the values in placeholder order, as ODBC wants them."""
    values: list[str | None] = []

    def swap(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return m.group(0)
        if name not in params:
            raise ConfigError([f"query placeholder :{name} has no value"])
        values.append(_text(params[name]))
        return "?"

    return NAMED_TOKENS.sub(swap, sql), values


def _text(value: Any) -> str | None:
    """A bound value as text: arrow-odbc binds every parameter as VARCHAR."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(datetime_text(value))


class OdbcSourceReader(Reader):
    """A source read through an ODBC driver (unixODBC on Linux) into Arrow batches."""

    dialect = "odbc"

    def __init__(
        self,
        connection_string: str,
        user: str | None = None,
        password: str | None = None,
        *,
        chunk_rows: int = CHUNK_ROWS,
        max_bytes_per_batch: int = MAX_BYTES_PER_BATCH,
        max_text_size: int = MAX_TEXT_SIZE,
        login_timeout_sec: int | None = 30,
        fetch_concurrently: bool = True,
    ):
        import arrow_odbc

        self.connection_string = connection_string
        self.chunk_rows = chunk_rows
        self.max_bytes_per_batch = max_bytes_per_batch
        self.max_text_size = max_text_size
        self.fetch_concurrently = fetch_concurrently
        try:
            self.conn = arrow_odbc.connect(
                connection_string, user=user, password=password, login_timeout_sec=login_timeout_sec
            )
        except arrow_odbc.Error as exc:
            raise TransientSyncError(f"cannot connect to the ODBC source: {exc}") from None

    def placeholder(self, name: str) -> str:
        return ":" + validate_identifier(name, "parameter")

    def read(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        """Yield batches of at most ``query.batch_size`` rows; columns named in its schema are cast to it."""
        import arrow_odbc

        sql, values = positional(query.sql, dict(query.params))
        try:
            reader = self.conn.read_arrow_batches(
                sql,
                batch_size=query.chunk(self.chunk_rows),
                parameters=values or None,
                max_bytes_per_batch=self.max_bytes_per_batch,
                max_text_size=self.max_text_size,
                fetch_concurrently=self.fetch_concurrently,
            )
        except arrow_odbc.Error as exc:
            raise classify(str(exc), query.table) from None
        names = names_as_in(reader.schema.names, query.schema)
        try:
            for batch in reader:
                if batch.num_rows:
                    yield conform(batch, names, query)
        except arrow_odbc.Error as exc:
            raise classify(str(exc), query.table) from None

    def close(self) -> None:
        self.conn = None  # arrow-odbc closes the connection when it is collected


__all__ = ["OdbcSourceReader", "positional"]
