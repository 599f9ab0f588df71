"""SQL Server sources (JDE on SQL Server) through pymssql, streamed in Arrow batches.

The connection comes from ``MsSqlHook`` inside Airflow and from
datasync.connections.drivers outside (the same pymssql arguments). The query
runs once; pymssql (FreeTDS db-lib) then reads the result from the TDS
stream one row per ``dbnextrow`` call, without a client-side result buffer,
so ``fetchmany(CHUNK_ROWS)`` holds one chunk of Python rows at a time and
each chunk becomes one ``pa.array`` per column (datasync.sources.base), then
batches of BatchSize rows (the fetcher contract): memory follows the chunk and
the batch size, never the table. While the client has
not read, the server waits on the network (ASYNC_NETWORK_IO): a slow sync
keeps the statement open, never a copy of the result.

Values as pymssql gives them: NCHAR/NVARCHAR as ``str`` with their padding
(trimmed by the fetchers), NUMERIC/DECIMAL as ``Decimal``, FLOAT as ``float``,
INT as ``int``, DATE as ``date``, DATETIME/DATETIME2 as ``datetime``, NULL as
``None``. Columns of the fetcher's raw schema are cast to it (a Julian
NUMERIC(18,0) becomes int64, refusing fractions); the others (FLOAT times,
implied decimals) stay as delivered for the fetcher's JDE kernels.

Parameters: pymssql substitutes ``%(name)s`` placeholders in the client,
quoting each value (strings as N'…', numbers as digits), before the text is
sent: the Julian bound arrives as a numeric literal the audit-date index can
seek on. Datetimes are sent as ISO 8601 text with a ``T`` and milliseconds
(``'2024-02-29T09:30:15.000'``), which DATETIME and DATETIME2 columns read
alike whatever the session's language and DATEFORMAT; pymssql's own form
(``'2024-02-29 09:30:15.000000'``) is refused by DATETIME. The bound is
truncated to the millisecond, so the pushed-down filter reads a superset and
the fetchers' exact filter decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from datasync.core.identifiers import quote_brackets, validate_identifier
from datasync.core.reading import SourceQuery
from datasync.sources.base import Reader, names_as_in, rebatch, rows_to_batch
from datasync.sources.errors import classify


CHUNK_ROWS = 10_000
"""Rows per fetchmany: pymssql's Python rows of F4801 take ~1.5 KB each (~15 MiB per chunk), their
Arrow batch ~260 B; chunks are concatenated in Arrow up to the BatchSize."""


def server_value(value: Any) -> Any:
    """A parameter as pymssql should quote it: datetimes as ISO 8601 text SQL Server reads unambiguously."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep="T", timespec="milliseconds")
    return value


def driver_message(exc: BaseException) -> str:
    """pymssql's error as text: its arguments are ``(number, b'message')`` tuples."""
    parts: list[str] = []
    for arg in exc.args:
        for item in arg if isinstance(arg, tuple) else (arg,):
            parts.append(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item))
    return " ".join(parts) or type(exc).__name__


class MssqlSourceReader(Reader):
    """A SQL Server source read through pymssql, chunk by chunk, into Arrow batches."""

    dialect = "mssql"
    reads_uncommitted = True  # the fetcher SQL can say WITH (NOLOCK) (SourceSystems.<name>.ReadUncommitted)

    def __init__(self, conn: Any, chunk_rows: int = CHUNK_ROWS):
        """``conn``: an open pymssql connection (from MsSqlHook or datasync.connections.drivers)."""
        self.conn = conn
        self.chunk_rows = chunk_rows

    def quote(self, name: str) -> str:
        return quote_brackets(validate_identifier(name))

    def placeholder(self, name: str) -> str:
        return f"%({validate_identifier(name, 'parameter')})s"

    def read(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        """Yield batches of at most ``query.batch_size`` rows; columns named in its schema are cast to it."""
        import pymssql

        chunk = query.chunk(self.chunk_rows)
        cursor = self.conn.cursor()
        try:
            try:
                if query.params:
                    cursor.execute(query.sql, {k: server_value(v) for k, v in query.params.items()})
                else:  # without parameters pymssql leaves the text alone (no %-substitution at all)
                    cursor.execute(query.sql)
            except pymssql.Error as exc:
                raise classify(driver_message(exc), query.table) from None
            names = names_as_in([d[0] for d in cursor.description or []], query.schema)

            def chunks() -> Iterator[pa.RecordBatch]:
                while True:
                    try:
                        rows = cursor.fetchmany(chunk)
                    except pymssql.Error as exc:
                        raise classify(driver_message(exc), query.table) from None
                    if not rows:
                        return
                    yield rows_to_batch(rows, names, query)

            yield from rebatch(chunks(), query.batch_size)
        finally:
            cursor.close()
            self._end_read()

    def _end_read(self) -> None:
        """End the read's implicit transaction; an unread rest of the result is cancelled first (pymssql does)."""
        import pymssql

        try:
            self.conn.rollback()
        except pymssql.Error:
            pass  # a dead connection: the next read or close reports it

    def close(self) -> None:
        self.conn.close()


__all__ = ["MssqlSourceReader", "driver_message", "server_value"]
