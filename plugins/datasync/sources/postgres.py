"""A PostgreSQL source read through a psycopg 3 server-side (named) cursor: rows stream in chunks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from datasync.core.errors import SchemaDriftError, TransientSyncError
from datasync.core.identifiers import validate_identifier
from datasync.core.reading import SourceQuery
from datasync.sources.base import CHUNK_ROWS, Reader, rebatch, rows_to_batch


class PostgresSourceReader(Reader):
    """A PostgreSQL source read through a psycopg 3 server-side (named) cursor."""

    dialect = "postgres"

    def __init__(self, conn: Any):
        """``conn``: an open psycopg 3 connection (from PostgresHook or datasync.connections)."""
        self.conn = conn
        self._count = 0

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> PostgresSourceReader:
        """Open from a libpq connection string or keyword arguments (tests, tools)."""
        import psycopg

        try:
            return cls(psycopg.connect(conninfo, **kwargs))
        except psycopg.OperationalError as exc:
            raise TransientSyncError(f"cannot connect to PostgreSQL source: {exc}") from None

    def placeholder(self, name: str) -> str:
        return f"%({validate_identifier(name, 'parameter')})s"

    def read(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        import psycopg

        self._count += 1
        table = query.table
        chunk = query.chunk(CHUNK_ROWS)
        cursor = self.conn.cursor(name=f"datasync_read_{self._count}")
        try:
            try:
                cursor.execute(query.sql, dict(query.params))
                first = cursor.fetchmany(chunk)
            except psycopg.errors.UndefinedColumn as exc:
                self.conn.rollback()
                m = re.search(r'column "?([^"\s]+)"? does not exist', str(exc))
                column = m.group(1).split(".")[-1] if m else "?"
                raise SchemaDriftError(f"source table {table} has no column {column} ({exc})".strip()) from None
            except psycopg.errors.UndefinedTable as exc:
                self.conn.rollback()
                raise SchemaDriftError(f"source table {table} does not exist ({exc})".strip()) from None
            except psycopg.OperationalError as exc:
                raise TransientSyncError(f"source {table}: {exc}") from None
            names = [d.name for d in cursor.description or []]

            def chunks() -> Iterator[pa.RecordBatch]:
                rows = first
                while rows:
                    yield rows_to_batch(rows, names, query)
                    rows = cursor.fetchmany(chunk)

            yield from rebatch(chunks(), query.batch_size)
        finally:
            cursor.close()
            if not self.conn.closed:
                self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


