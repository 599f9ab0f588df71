"""ODBC sources (production JDE and CMS): query results straight into Arrow batches.

The reader runs the fetcher's query through arrow-odbc, which binds column
buffers and fills Arrow arrays in Rust: no Python object per row or value.
The connection string is the one ``OdbcHook`` builds from the Airflow
connection (DRIVER, DSN, SERVER, DATABASE, UID, PWD, PORT, then every extra
as ``key=value``), so a connection that works for Airflow's ODBC operators
works here. The driver comes, as in ``OdbcHook``, from the hook argument
(``driver=``), else from the connection extra ``driver`` when Airflow's
``[providers.odbc] allow_driver_in_extra`` is true, else from
``OdbcHook.default_driver``; a DSN in the extra works without a driver.

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
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from datasync.core.errors import ConfigError, SchemaDriftError, SourceDataError, TransientSyncError
from datasync.core.identifiers import validate_identifier

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
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond:06d}" if value.microsecond else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def connection_string(conn: Any, driver: str | None = None) -> tuple[str, str | None, str | None]:
    """(connection string without credentials, login, password) for Airflow connection ``conn``.

    Built by ``OdbcHook.odbc_connection_string``; login and password are
    passed to arrow-odbc separately, which escapes them (the hook would not).
    """
    from airflow.providers.odbc.hooks.odbc import OdbcHook

    # The hook writes PWD=... unescaped; arrow-odbc escapes UID and PWD itself, so the string
    # is built from a copy of the connection without credentials.
    anonymous = conn.__class__(
        conn_id=conn.conn_id, conn_type=conn.conn_type, host=conn.host, schema=conn.schema, port=conn.port, extra=conn.extra
    )
    hook = OdbcHook(odbc_conn_id=conn.conn_id, driver=driver)
    # OdbcHook.__init__ drops a connection passed as an argument and the property's setter is
    # a no-op: hand the hook the (credential-free) connection it would otherwise look up.
    hook._connection = anonymous
    text = hook.odbc_connection_string
    if not hook.driver and not hook.dsn:
        raise ConfigError(
            [
                f"ODBC connection {conn.conn_id!r} names neither a driver nor a DSN: put 'driver' in its extra "
                "and set [providers.odbc] allow_driver_in_extra = True, or a 'dsn' defined in odbc.ini"
            ]
        )
    return text, conn.login or None, conn.password or None


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


class OdbcSourceReader:
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

    @classmethod
    def from_connection(cls, conn: Any, driver: str | None = None, **options: Any) -> OdbcSourceReader:
        text, login, password = connection_string(conn, driver)
        return cls(text, login, password, **options)

    def quote(self, name: str) -> str:
        """ANSI quoting (SQL Server with QUOTED_IDENTIFIER ON, Oracle, DB2, PostgreSQL, SQLite)."""
        return '"' + validate_identifier(name).replace('"', '""') + '"'

    def placeholder(self, name: str) -> str:
        return ":" + validate_identifier(name, "parameter")

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
        """Yield batches of at most ``batch_size`` rows; columns named in ``schema`` are cast to it."""
        import arrow_odbc

        query, values = positional(sql, params)
        try:
            reader = self.conn.read_arrow_batches(
                query,
                batch_size=max(1, min(batch_size, self.chunk_rows)),
                parameters=values or None,
                max_bytes_per_batch=self.max_bytes_per_batch,
                max_text_size=self.max_text_size,
                fetch_concurrently=self.fetch_concurrently,
            )
        except arrow_odbc.Error as exc:
            raise _classify(exc, table) from None
        names = _target_names(reader.schema.names, schema)
        try:
            for batch in reader:
                if batch.num_rows:
                    yield conform(batch, names, schema, table, key_columns)
        except arrow_odbc.Error as exc:
            raise _classify(exc, table) from None

    def close(self) -> None:
        self.conn = None  # arrow-odbc closes the connection when it is collected

    def __enter__(self) -> OdbcSourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _target_names(names: Sequence[str], schema: pa.Schema | None) -> list[str]:
    """Result column names, spelled as in ``schema`` when they match case-insensitively."""
    if schema is None:
        return list(names)
    wanted = {n.lower(): n for n in schema.names}
    return [wanted.get(n.lower(), n) for n in names]


def conform(
    batch: pa.RecordBatch, names: Sequence[str], schema: pa.Schema | None, table: str, key_columns: Sequence[str]
) -> pa.RecordBatch:
    """Rename to ``names`` and cast the columns named in ``schema`` (safe casts, nothing truncated)."""
    arrays = list(batch.columns)
    if schema is not None:
        missing = [n for n in schema.names if n not in names]
        if missing:
            raise SchemaDriftError(f"{table}: the query did not return column(s) {', '.join(missing)}")
        for i, name in enumerate(names):
            if name in schema.names:
                arrays[i] = _cast(arrays[i], schema.field(name).type, table, name, batch, names, key_columns)
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _cast(
    arr: pa.Array,
    target: pa.DataType,
    table: str,
    column: str,
    batch: pa.RecordBatch,
    names: Sequence[str],
    key_columns: Sequence[str],
) -> pa.Array:
    if arr.type == target:
        return arr
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target)
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        for i in range(len(arr)):  # error path only: name the first value that does not convert
            try:
                arr.slice(i, 1).cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise SourceDataError(
                    f"{table}.{column}, row {_row_key(batch, names, key_columns, i)}: "
                    f"{arr[i].as_py()!r} cannot be read as {target}"
                ) from None
        raise SourceDataError(f"{table}.{column}: cannot be read as {target} ({exc})") from None


def _row_key(batch: pa.RecordBatch, names: Sequence[str], key_columns: Sequence[str], i: int) -> str:
    parts = []
    for key in key_columns:
        if key in names:
            value = batch.column(names.index(key))[i].as_py()
            parts.append(f"{key}={value.strip() if isinstance(value, str) else value!r}")
    return ", ".join(parts) or f"#{i}"


__all__ = ["OdbcSourceReader", "connection_string", "conform", "positional"]
