"""What every source reader shares: the reader base class, driver rows to Arrow, re-batching.

Readers that get Python rows from their driver (sqlite3, psycopg) build each
column with one ``pa.array`` call per chunk and cast it to the fetcher's raw
schema, so memory depends on the batch size, never on the table size; readers
whose driver speaks Arrow (ADBC, arrow-odbc) only conform the batches.
Undecodable bytes and uncastable values become SourceDataError naming table,
column and row key, instead of a driver traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from datasync.core.arrowcast import cast_or_explain, decode_or_explain
from datasync.core.errors import SchemaDriftError
from datasync.core.identifiers import quote_ansi, validate_identifier
from datasync.core.reading import SourceQuery
from datasync.core.rowkeys import RowKey, batch_row_key, tuple_row_key

_WHOLE_DECIMAL = pa.decimal128(38, 0)
"""Whole NUMERIC values (a JDE Julian date as NUMERIC(18,0)): typed conversion is ~30x faster than inferring."""

CHUNK_ROWS = 50_000
"""Rows per driver round trip; chunks are concatenated in Arrow up to the batch size."""

# A quoted literal or a '::' cast is skipped; ':name' outside literals is a placeholder.
NAMED_TOKENS = re.compile(r"'(?:[^']|'')*'|::|:([A-Za-z_][A-Za-z0-9_]*)")


class Reader:
    """Base of the readers: validated ANSI quoting, a context manager that closes."""

    dialect = "generic"

    def quote(self, name: str) -> str:
        """Identifier quoting: always quoted, after validation."""
        return quote_ansi(validate_identifier(name))

    def placeholder(self, name: str) -> str:
        raise NotImplementedError

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError


def datetime_text(value: Any) -> Any:
    """Dates and datetimes as the ISO text drivers without date binding compare correctly; others as they are."""
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{value.microsecond:06d}" if value.microsecond else "")
    if isinstance(value, date):
        return value.isoformat()
    return value


def named_placeholders(sql: str) -> set[str]:
    """The ``:name`` placeholders of ``sql`` (outside literals): drivers that bind by name refuse extra values."""
    return {m.group(1) for m in NAMED_TOKENS.finditer(sql) if m.group(1)}


def build_column(values: Sequence[Any], target: pa.DataType | None, where: str, row_of: RowKey) -> pa.Array:
    """One raw column from driver values, cast to ``target`` (None: as inferred).

    Integer targets accept whole floats and decimals but never truncate a
    fraction silently; TEXT arriving as bytes is decoded as UTF-8.
    """

    def at(i: int) -> str:
        return f"{where}, row {row_of(i)}"

    if target is not None and pa.types.is_integer(target) and isinstance(_first(values), Decimal):
        try:
            return cast_or_explain(pa.array(values, type=_WHOLE_DECIMAL), target, at)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass  # a fraction or a value of another type: the general path below names the row
    if target is not None and (pa.types.is_string(target) or pa.types.is_large_string(target)):
        try:
            arr = pa.array(values, type=pa.binary())
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arr = pa.array([v if v is None or isinstance(v, (bytes, str)) else str(v) for v in values])
        return arr if pa.types.is_string(arr.type) else decode_or_explain(arr, at)
    try:
        arr = pa.array(values)
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed bytes and numbers in one column
        arr = pa.array(
            [v.decode("utf-8", "replace") if isinstance(v, bytes) else None if v is None else str(v) for v in values],
            type=pa.string(),
        )
    if pa.types.is_binary(arr.type):
        arr = decode_or_explain(arr, at)
    return arr if target is None else cast_or_explain(arr, target, at)


def _first(values: Sequence[Any]) -> Any:
    """The first value that is not NULL (None when all are)."""
    return next((v for v in values if v is not None), None)


def rows_to_batch(rows: Sequence[tuple], names: Sequence[str], query: SourceQuery) -> pa.RecordBatch:
    """A record batch from driver rows: one ``pa.array`` per column.

    Columns named in ``schema`` are cast to its types; others keep the type the
    driver's values infer (e.g. int or FLOAT math-numerics, converted later).
    """
    schema = query.schema
    columns = list(zip(*rows)) if rows else [() for _ in names]
    row_of = tuple_row_key(rows, names, query.key_columns)
    arrays = []
    for name, values in zip(names, columns):
        target = schema.field(name).type if schema is not None and name in schema.names else None
        arrays.append(build_column(values, target, f"{query.table}.{name}", row_of))
    batch = pa.RecordBatch.from_arrays(arrays, names=list(names))
    require_columns(names, query)
    return batch


def require_columns(names: Sequence[str], query: SourceQuery) -> None:
    """SchemaDriftError when the query result lacks a column the fetcher needs."""
    if query.schema is not None:
        missing = [n for n in query.schema.names if n not in names]
        if missing:
            raise SchemaDriftError(f"{query.table}: the query did not return column(s) {', '.join(missing)}")


def names_as_in(names: Sequence[str], schema: pa.Schema | None) -> list[str]:
    """Result column names, spelled as in ``schema`` when they match case-insensitively."""
    if schema is None:
        return list(names)
    wanted = {n.lower(): n for n in schema.names}
    return [wanted.get(n.lower(), n) for n in names]


def conform(batch: pa.RecordBatch, names: Sequence[str], query: SourceQuery) -> pa.RecordBatch:
    """An Arrow batch from a driver renamed to ``names``, the columns named in the query's schema cast to it."""
    require_columns(names, query)
    arrays = list(batch.columns)
    schema = query.schema
    if schema is not None:
        row_of = batch_row_key(batch.rename_columns(list(names)), query.key_columns)
        for i, name in enumerate(names):
            if name in schema.names:
                where = lambda r, n=name: f"{query.table}.{n}, row {row_of(r)}"  # noqa: E731
                arrays[i] = cast_or_explain(arrays[i], schema.field(name).type, where)
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def rebatch(chunks: Iterator[pa.RecordBatch], batch_size: int) -> Iterator[pa.RecordBatch]:
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
