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
whatever the table size, provided the driver streams (SQL Server's and
PostgreSQL's do; the SQLite ODBC driver of the tests and the benchmark holds
the whole result unless its extra says ``StepAPI=1``, and then reports
untyped columns as text). Values bound to ``:name`` placeholders are passed
as text (arrow-odbc binds parameters as VARCHAR); the servers convert them
to the column type on comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from datasync.core.errors import ConfigError, SchemaDriftError, SourceDataError, TransientSyncError
from datasync.core.identifiers import validate_identifier
from datasync.core.reading import SourceQuery
from datasync.sources.base import Reader, conform, datetime_text

CHUNK_ROWS = 16_384
"""Rows per ODBC fetch (the transit buffer); a batch never holds more than the fetcher's BatchSize.
Larger fetches were no faster in the benchmark and cost memory (two buffers while fetching concurrently)."""
MAX_BYTES_PER_BATCH = 32 * 1024 * 1024
"""Upper bound of one transit buffer: wide rows get fewer rows per fetch."""
MAX_TEXT_SIZE = 4000
"""Bytes reserved per value of an unbounded text column (VARCHAR(MAX), TEXT); JDE columns are bounded."""

# A quoted literal or a '::' cast is skipped; ':name' outside literals is a placeholder.
_TOKENS = re.compile(r"'(?:[^']|'')*'|::|:([A-Za-z_][A-Za-z0-9_]*)")
# SQLSTATEs (and driver texts without one) that mean "the source changed" or "try again".
_MISSING_COLUMN = ("42S22", "42703", "no such column", "invalid column name", "ORA-00904")
_MISSING_TABLE = ("42S02", "42P01", "no such table", "invalid object name", "ORA-00942")
_TRANSIENT = ("State: 08", "HYT00", "HYT01", "40001", "deadlock", "timeout expired")


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

    return _TOKENS.sub(swap, sql), values


def _text(value: Any) -> str | None:
    """A bound value as text: arrow-odbc binds every parameter as VARCHAR."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(datetime_text(value))


_COLUMN_NAME = (
    re.compile(r'column "([^"]+)" does not exist'),  # PostgreSQL
    re.compile(r"invalid column name '([^']+)'", re.IGNORECASE),  # SQL Server
    re.compile(r'no such column: "?([\w.]+)'),  # SQLite
    re.compile(r'"([^"]+)": invalid identifier', re.IGNORECASE),  # Oracle
)


def _classify(exc: Exception, table: str) -> Exception:
    """A driver error as SchemaDriftError, TransientSyncError or SourceDataError."""
    text = " ".join(str(exc).split())
    lower = text.lower()
    if any(k.lower() in lower for k in _MISSING_COLUMN):
        name = next((m.group(1).split(".")[-1] for p in _COLUMN_NAME if (m := p.search(text))), "?")
        return SchemaDriftError(f"source table {table} has no column {name} ({text})")
    if any(k.lower() in lower for k in _MISSING_TABLE):
        return SchemaDriftError(f"source table {table} does not exist ({text})")
    if any(k.lower() in lower for k in _TRANSIENT):
        return TransientSyncError(f"source {table}: {text}")
    return SourceDataError(f"source {table}: {text}")


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
            raise _classify(exc, query.table) from None
        names = _target_names(reader.schema.names, query.schema)
        try:
            for batch in reader:
                if batch.num_rows:
                    yield conform(batch, names, query)
        except arrow_odbc.Error as exc:
            raise _classify(exc, query.table) from None

    def close(self) -> None:
        self.conn = None  # arrow-odbc closes the connection when it is collected


def _target_names(names: Sequence[str], schema: pa.Schema | None) -> list[str]:
    """Result column names, spelled as in ``schema`` when they match case-insensitively."""
    if schema is None:
        return list(names)
    wanted = {n.lower(): n for n in schema.names}
    return [wanted.get(n.lower(), n) for n in names]


__all__ = ["OdbcSourceReader", "positional"]
