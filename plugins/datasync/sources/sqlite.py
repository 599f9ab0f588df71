"""A SQLite file as a source (demo, tests, small sites), read-only.

Queries go through ADBC straight into Arrow (datasync.sources.sqlite_arrow);
whatever that path cannot type is read row by row with the sqlite3 module,
which names the bad row. TEXT is read as bytes and decoded in Arrow.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace

import pyarrow as pa

from datasync.core.errors import ConfigError, SchemaDriftError, SourceDataError, TransientSyncError
from datasync.core.identifiers import validate_identifier
from datasync.core.reading import SourceQuery
from datasync.sources.base import CHUNK_ROWS, Reader, datetime_text, rebatch, rows_to_batch
from datasync.sources.sqlite_arrow import FastPathUnavailable, adbc_available, integer_affinity, read_sqlite_arrow

ARROW_CHUNK_ROWS = 16_384
"""Rows per ADBC batch: yielded as they come, so memory does not grow with BatchSize."""


_NO_COLUMN = re.compile(r"no such column: (?:\S+\.)?\"?(\w+)\"?")
_NO_TABLE = re.compile(r"no such table: (\S+)")


class SqliteSourceReader(Reader):
    """A SQLite file as a source (demo, tests), read-only; TEXT is read as bytes and decoded in Arrow."""

    dialect = "sqlite"

    def __init__(self, path: str, arrow: bool = True):
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self.arrow = arrow  # read through ADBC straight into Arrow (datasync.sources.sqlite_arrow) when it can

    @property
    def conn(self) -> sqlite3.Connection:
        """Opened on first use, read-only: a missing file is an error, never a new empty database."""
        if self._conn is None:
            try:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout = 60000")
            except sqlite3.OperationalError as exc:
                raise ConfigError([f"cannot open SQLite source {self.path!r}: {exc}"]) from None
            conn.text_factory = bytes
            self._conn = conn
        return self._conn

    def placeholder(self, name: str) -> str:
        return ":" + validate_identifier(name, "parameter")

    def read(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        query = replace(query, params={k: datetime_text(v) for k, v in query.params.items()})
        if self.arrow and adbc_available():
            yield from self._read_arrow(query)
        else:
            yield from self._read_rows(query)

    def _read_arrow(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        """The ADBC path; whatever it cannot type is read (or, mid-way, diagnosed) row by row."""
        # The statement's own column names (one step; a subquery would rename them): SQLite turns a
        # "quoted" name that is not a column into a text literal named '"WAPARS"', which must stay drift.
        try:
            probe = self.conn.execute(query.sql, query.params)
            names = [d[0] for d in probe.description]
            probe.close()
        except sqlite3.OperationalError as exc:
            raise _sqlite_error(exc, query.table) from None
        if query.schema is not None and any(n not in names for n in query.schema.names):
            yield from self._read_rows(query)  # raises SchemaDriftError
            return
        yielded = False
        chunk = query.chunk(ARROW_CHUNK_ROWS)
        try:
            exact = self._integer_affinity_columns(query.table)
            arrow = read_sqlite_arrow(self.path, query.sql, dict(query.params), names, chunk, query.schema, exact)
            for batch in rebatch(arrow, chunk):
                yielded = True
                yield batch
        except FastPathUnavailable as exc:
            rows = self._read_rows(query)
            if not yielded:
                yield from rows
                return
            for _ in rows:  # error path: the row reader names the bad row and raises
                pass
            raise SourceDataError(f"source {query.table}: a column changed storage class mid-read ({exc})") from None

    def _integer_affinity_columns(self, table: str) -> set[str]:
        """The columns of source table ``table`` with INTEGER or NUMERIC affinity (none if it is no table here).

        A result column named like one of them is taken to be that column: if a query renamed
        another expression so, a whole REAL in it fails the read with a clear error, never a wrong value.
        """
        try:
            declared = self.conn.execute("SELECT name, type FROM pragma_table_xinfo(?)", (table,)).fetchall()
        except sqlite3.Error:
            return set()
        return {(n.decode() if isinstance(n, bytes) else n) for n, t in declared
                if integer_affinity(t.decode() if isinstance(t, bytes) else t)}

    def _read_rows(self, query: SourceQuery) -> Iterator[pa.RecordBatch]:
        """Row tuples from the sqlite3 module, one ``pa.array`` per column and chunk."""
        try:
            cursor = self.conn.execute(query.sql, query.params)
        except sqlite3.OperationalError as exc:
            raise _sqlite_error(exc, query.table) from None
        names = [d[0] for d in cursor.description]
        chunk = query.chunk(CHUNK_ROWS)

        def chunks() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    try:
                        rows = cursor.fetchmany(chunk)
                    except sqlite3.OperationalError as exc:
                        raise _sqlite_error(exc, query.table) from None
                    if not rows:
                        break
                    yield rows_to_batch(rows, names, query)
            finally:
                cursor.close()

        yield from rebatch(chunks(), query.batch_size)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _sqlite_error(exc: sqlite3.OperationalError, table: str) -> Exception:
    text = str(exc)
    if m := _NO_COLUMN.search(text):
        return SchemaDriftError(f"source table {table} has no column {m.group(1)} ({text})")
    if m := _NO_TABLE.search(text):
        return SchemaDriftError(f"source table {m.group(1)} does not exist ({text})")
    if "locked" in text or "busy" in text:
        return TransientSyncError(f"source {table}: {text}")
    return SourceDataError(f"source {table}: {text}")


