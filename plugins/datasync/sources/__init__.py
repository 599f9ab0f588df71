"""Source readers: run a fetcher's query and stream raw Arrow record batches.

``open_source(conn_id)`` resolves an Airflow connection and picks the reader
by connection type. Readers read with ``fetchmany`` in chunks, build each
column with one ``pa.array`` call and cast it to the fetcher's raw schema, so
memory depends on the batch size, never on the table size.

Driver failures that mean "the source changed" become SchemaDriftError (a
missing column or table), undecodable bytes become SourceDataError naming
table, column and row key, instead of a driver traceback.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from datasync.airflow.connections import get_connection, sqlite_path
from datasync.core.errors import ConfigError, SchemaDriftError, SourceDataError, TransientSyncError
from datasync.core.identifiers import validate_identifier
from datasync.sources.sqlite_arrow import FastPathUnavailable, adbc_available, read_sqlite_arrow

if TYPE_CHECKING:
    from datasync.fetchers.base import SourceReader

CHUNK_ROWS = 50_000
"""Rows per driver round trip; chunks are concatenated in Arrow up to the batch size."""
ARROW_CHUNK_ROWS = 16_384
"""Rows per ADBC batch (SQLite): yielded as they come, so memory does not grow with BatchSize."""


# --------------------------------------------------------------------------- column building


def _describe_row(rows: Sequence[tuple], names: Sequence[str], key_columns: Sequence[str], index: int) -> str:
    positions = [names.index(k) for k in key_columns if k in names]
    if not positions:
        return f"#{index}"
    parts = []
    for pos in positions:
        value = rows[index][pos]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace").strip()
        parts.append(f"{names[pos]}={value!r}" if isinstance(value, str) else f"{names[pos]}={value}")
    return ", ".join(parts)


def _decode(arr: pa.Array, where: str, row_of: Any) -> pa.Array:
    """binary → string, or SourceDataError naming the first row that is not UTF-8."""
    try:
        return arr.cast(pa.string())
    except pa.ArrowInvalid:
        for i, value in enumerate(arr.to_pylist()):  # error path only
            if value is not None:
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise SourceDataError(
                        f"{where}, row {row_of(i)}: bytes {value!r} are not valid UTF-8 text"
                    ) from None
        raise


def build_column(values: Sequence[Any], target: pa.DataType | None, where: str, row_of: Any) -> pa.Array:
    """One raw column from driver values, cast to ``target`` (None: as inferred).

    Integer targets accept whole floats and decimals but never truncate a
    fraction silently; TEXT arriving as bytes is decoded as UTF-8.
    """
    if target is not None and (pa.types.is_string(target) or pa.types.is_large_string(target)):
        try:
            arr = pa.array(values, type=pa.binary())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arr = pa.array([v if v is None or isinstance(v, (bytes, str)) else str(v) for v in values])
        if not pa.types.is_string(arr.type):
            arr = _decode(arr, where, row_of)
        return arr
    try:
        arr = pa.array(values)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed bytes and numbers in one column
        arr = pa.array(
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else None if v is None else str(v) for v in values],
            type=pa.string(),
        )
    if pa.types.is_binary(arr.type):
        arr = _decode(arr, where, row_of)
    if target is None or arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # find the first value that does not convert (error path only)
        for i in range(len(arr)):
            try:
                arr.slice(i, 1).cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SourceDataError(
                    f"{where}, row {row_of(i)}: {arr[i].as_py()!r} cannot be read as {target}"
                ) from None
        raise


def rows_to_batch(
    rows: Sequence[tuple],
    names: Sequence[str],
    schema: pa.Schema | None,
    table: str,
    key_columns: Sequence[str] = (),
) -> pa.RecordBatch:
    """A record batch from driver rows: one ``pa.array`` per column.

    Columns named in ``schema`` are cast to its types; others keep the type the
    driver's values infer (e.g. int or FLOAT math-numerics, converted later).
    """
    columns = list(zip(*rows)) if rows else [() for _ in names]

    def row_of(i: int) -> str:
        return _describe_row(rows, names, key_columns, i)

    arrays = []
    for name, values in zip(names, columns):
        target = schema.field(name).type if schema is not None and name in schema.names else None
        arrays.append(build_column(values, target, f"{table}.{name}", row_of))
    batch = pa.RecordBatch.from_arrays(arrays, names=list(names))
    if schema is not None:
        missing = [n for n in schema.names if n not in names]
        if missing:
            raise SchemaDriftError(f"{table}: the query did not return column(s) {', '.join(missing)}")
    return batch


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _rebatch(chunks: Iterator[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
    """Concatenate driver chunks into batches of exactly ``batch_size`` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for chunk in chunks:
        while chunk.num_rows:
            take = min(batch_size - rows, chunk.num_rows)
            pending.append(chunk.slice(0, take))
            rows += take
            chunk = chunk.slice(take)
            if rows == batch_size:
                yield _concat(pending)
                pending, rows = [], 0
    if rows:
        yield _concat(pending)


# --------------------------------------------------------------------------- readers


class _Reader:
    dialect = "generic"

    def quote(self, name: str) -> str:
        """Identifier quoting: always quoted, after validation."""
        return '"' + validate_identifier(name).replace('"', '""') + '"'

    def placeholder(self, name: str) -> str:
        raise NotImplementedError

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


_NO_COLUMN = re.compile(r"no such column: (?:\S+\.)?\"?(\w+)\"?")
_NO_TABLE = re.compile(r"no such table: (\S+)")


class SqliteSourceReader(_Reader):
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

    @staticmethod
    def _param(value: Any) -> Any:
        if isinstance(value, datetime):
            text = value.strftime("%Y-%m-%d %H:%M:%S")
            return text + (f".{value.microsecond:06d}" if value.microsecond else "")
        if isinstance(value, date):
            return value.isoformat()
        return value

    def read(
        self,
        sql: str,
        params: dict[str, Any],
        batch_size: int,
        schema: pa.Schema | None = None,
        *,
        table: str = "source",
        key_columns: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        bound = {k: self._param(v) for k, v in params.items()}
        if self.arrow and adbc_available():
            yield from self._read_arrow(sql, bound, batch_size, schema, table, key_columns)
        else:
            yield from self._read_rows(sql, bound, batch_size, schema, table, key_columns)

    def _read_arrow(
        self,
        sql: str,
        bound: dict[str, Any],
        batch_size: int,
        schema: pa.Schema | None,
        table: str,
        key_columns: Sequence[str],
    ) -> Iterator[pa.RecordBatch]:
        """The ADBC path; whatever it cannot type is read (or, mid-way, diagnosed) row by row."""
        # The statement's own column names (one step; a subquery would rename them): SQLite turns a
        # "quoted" name that is not a column into a text literal named '"WAPARS"', which must stay drift.
        try:
            probe = self.conn.execute(sql, bound)
            names = [d[0] for d in probe.description]
            probe.close()
        except sqlite3.OperationalError as exc:
            raise _sqlite_error(exc, table) from None
        if schema is not None and any(n not in names for n in schema.names):
            yield from self._read_rows(sql, bound, batch_size, schema, table, key_columns)  # raises SchemaDriftError
            return
        yielded = False
        chunk = max(1, min(batch_size, ARROW_CHUNK_ROWS))
        try:
            for batch in _rebatch(read_sqlite_arrow(self.path, sql, bound, names, chunk, schema), chunk):
                yielded = True
                yield batch
        except FastPathUnavailable as exc:
            rows = self._read_rows(sql, bound, batch_size, schema, table, key_columns)
            if not yielded:
                yield from rows
                return
            for _ in rows:  # error path: the row reader names the bad row and raises
                pass
            raise SourceDataError(f"source {table}: a column changed storage class mid-read ({exc})") from None

    def _read_rows(
        self,
        sql: str,
        bound: dict[str, Any],
        batch_size: int,
        schema: pa.Schema | None,
        table: str,
        key_columns: Sequence[str],
    ) -> Iterator[pa.RecordBatch]:
        """Row tuples from the sqlite3 module, one ``pa.array`` per column and chunk."""
        try:
            cursor = self.conn.execute(sql, bound)
        except sqlite3.OperationalError as exc:
            raise _sqlite_error(exc, table) from None
        names = [d[0] for d in cursor.description]
        chunk = max(1, min(batch_size, CHUNK_ROWS))

        def chunks() -> Iterator[pa.RecordBatch]:
            try:
                while True:
                    try:
                        rows = cursor.fetchmany(chunk)
                    except sqlite3.OperationalError as exc:
                        raise _sqlite_error(exc, table) from None
                    if not rows:
                        break
                    yield rows_to_batch(rows, names, schema, table, key_columns)
            finally:
                cursor.close()

        yield from _rebatch(chunks(), batch_size)

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


class PostgresSourceReader(_Reader):
    """A PostgreSQL source read through a psycopg 3 server-side (named) cursor."""

    dialect = "postgres"

    def __init__(self, conninfo: str | None = None, **kwargs: Any):
        import psycopg

        try:
            self.conn = psycopg.connect(conninfo or "", **kwargs)
        except psycopg.OperationalError as exc:
            raise TransientSyncError(f"cannot connect to PostgreSQL source: {exc}") from None
        self._count = 0

    @classmethod
    def from_connection(cls, conn: Any) -> PostgresSourceReader:
        kwargs: dict[str, Any] = {"host": conn.host or "localhost", "dbname": conn.schema or "postgres"}
        if conn.port:
            kwargs["port"] = conn.port
        if conn.login:
            kwargs["user"] = conn.login
        if conn.password:
            kwargs["password"] = conn.password
        extra = getattr(conn, "extra_dejson", None) or {}
        for option in ("sslmode", "sslrootcert", "connect_timeout", "options", "application_name"):
            if option in extra:
                kwargs[option] = extra[option]
        return cls(**kwargs)

    def placeholder(self, name: str) -> str:
        return f"%({validate_identifier(name, 'parameter')})s"

    def read(
        self,
        sql: str,
        params: dict[str, Any],
        batch_size: int,
        schema: pa.Schema | None = None,
        *,
        table: str = "source",
        key_columns: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        import psycopg

        self._count += 1
        chunk = max(1, min(batch_size, CHUNK_ROWS))
        cursor = self.conn.cursor(name=f"datasync_read_{self._count}")
        try:
            try:
                cursor.execute(sql, params)
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
                    yield rows_to_batch(rows, names, schema, table, key_columns)
                    rows = cursor.fetchmany(chunk)

            yield from _rebatch(chunks(), batch_size)
        finally:
            cursor.close()
            if not self.conn.closed:
                self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


READERS = {
    "sqlite": "SqliteSourceReader",
    "postgres": "PostgresSourceReader",
    "postgresql": "PostgresSourceReader",
    "odbc": "OdbcSourceReader",
}


def open_source(conn_id: str) -> SourceReader:
    """A connected SourceReader for Airflow connection ``conn_id``, chosen by its connection type."""
    conn = get_connection(conn_id)
    conn_type = (conn.conn_type or "").lower()
    if conn_type == "sqlite":
        return SqliteSourceReader(sqlite_path(conn))
    if conn_type in ("postgres", "postgresql"):
        return PostgresSourceReader.from_connection(conn)
    if conn_type == "odbc":
        from datasync.sources.odbc import OdbcSourceReader

        return OdbcSourceReader.from_connection(conn)
    raise ConfigError(
        [
            f"connection {conn_id!r} has type {conn_type!r}, which is not a supported source; "
            f"supported: {', '.join(sorted(READERS))}"
        ]
    )


__all__ = ["PostgresSourceReader", "SqliteSourceReader", "build_column", "open_source", "rows_to_batch"]
