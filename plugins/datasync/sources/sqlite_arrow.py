"""Read a SQLite query straight into Arrow batches (ADBC), without Python row tuples.

The ``sqlite3`` module hands out one Python object per value; for a million
JDE rows that is most of a sync's time. The ADBC SQLite driver fills Arrow
buffers in C instead (about five times faster). Its one weakness is typing:
it infers each column's type from the values of the first batch and fails
when a later batch holds another storage class (SQLite is dynamically typed).
Two measures keep that from happening on sane data:

- a *witness row* of the wanted type (``''`` for text, ``0`` for integers,
  ``0.0`` for numbers the fetcher takes as delivered) is put in front of the
  query with ``UNION ALL``, so a column that starts with NULLs, or with
  integers where REALs follow, is typed right from the first batch;
- integer columns turn whole REALs (``3.0``) into INTEGERs in the query,
  unless the source column has INTEGER or NUMERIC affinity (``exact``): SQLite
  already stores a whole REAL there as an INTEGER, and the test per value
  costs 40% of the read on a wide table.

Anything else that does not fit (text in a numeric column, bytes that are not
UTF-8, a fraction in an integer column) raises ``FastPathUnavailable``; the
caller then reads with its row-by-row reader, which names the bad row.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import pyarrow as pa

from datasync.core.identifiers import quote_ansi, validate_identifier
from datasync.core.scalars import single

__all__ = ["FastPathUnavailable", "adbc_available", "read_sqlite_arrow"]


class FastPathUnavailable(Exception):
    """The ADBC path cannot deliver this result; read it row by row instead."""


def adbc_available() -> bool:
    try:
        import adbc_driver_manager  # noqa: F401
        import adbc_driver_sqlite  # noqa: F401
    except ImportError:
        return False
    return True


def _witness(field: pa.Field | None) -> str:
    """A literal of the storage class ADBC should infer for the column."""
    if field is None:
        return "0.0"  # taken as delivered: JDE numbers (times, implied decimals) as REAL
    t = field.type
    if pa.types.is_integer(t):
        return "0"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "0.0"
    if pa.types.is_boolean(t):
        return "0"
    return "''"  # text, dates and timestamps arrive as TEXT and are cast in Arrow


def integer_affinity(declared_type: str | None) -> bool:
    """Whether SQLite gives a column of this declared type INTEGER or NUMERIC affinity (its rules, in order).

    Such a column never holds a whole REAL: SQLite stores ``3.0`` there as the INTEGER 3.
    """
    t = (declared_type or "").upper()
    if "INT" in t:
        return True
    if not t or any(word in t for word in ("CHAR", "CLOB", "TEXT", "BLOB", "REAL", "FLOA", "DOUB")):
        return False
    return True


def _normalised(name: str, field: pa.Field | None, exact: bool = False) -> str:
    """The column as selected: whole REALs in integer columns become INTEGERs (``exact``: stored so already)."""
    col = quote_ansi(name)
    if field is not None and pa.types.is_integer(field.type) and not exact:
        return f"CASE WHEN typeof({col}) = 'real' AND {col} = CAST({col} AS INTEGER) THEN CAST({col} AS INTEGER) ELSE {col} END"
    return col


_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def wrap_query(sql: str, names: Sequence[str], schema: pa.Schema | None, exact: Collection[str] = ()) -> str:
    """``sql`` behind a witness row, with integer columns normalised; names stay as they were.

    ``exact``: result columns read from source columns of INTEGER or NUMERIC affinity (no test needed).
    """
    fields = {n: (schema.field(n) if schema is not None and n in schema.names else None) for n in names}
    witness = ", ".join(f"{_witness(fields[n])} AS {quote_ansi(n)}" for n in names)
    body = ", ".join(_normalised(n, fields[n], n in exact) for n in names)
    return f"SELECT {witness}\nUNION ALL\nSELECT {body} FROM (\n{sql}\n)"


def _conform(batch: pa.RecordBatch, schema: pa.Schema | None) -> pa.RecordBatch:
    """Check text is UTF-8; cast columns named in ``schema`` to its types (safe casts: no silent truncation)."""
    for arr in batch.columns:
        if pa.types.is_string(arr.type):
            arr.validate(full=True)  # the driver does not check UTF-8: ArrowInvalid on bad bytes
    if schema is None:
        return batch
    arrays = []
    for name, arr in zip(batch.schema.names, batch.columns):
        if name in schema.names:
            want = schema.field(name).type
            if arr.type != want:
                if pa.types.is_null(arr.type):
                    arr = pa.nulls(len(arr), want)
                else:
                    arr = arr.cast(want)
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def read_sqlite_arrow(
    path: str,
    sql: str,
    params: dict[str, Any],
    names: Sequence[str],
    chunk_rows: int,
    schema: pa.Schema | None = None,
    exact: Collection[str] = (),
) -> Iterator[pa.RecordBatch]:
    """Run ``sql`` (``:name`` placeholders) on the SQLite file ``path`` read-only; yield batches.

    ``names`` are the query's result columns (e.g. from a ``LIMIT 0`` run);
    batches hold at most ``chunk_rows`` rows and are cast to ``schema``; ``exact`` as for ``wrap_query``.
    Raises FastPathUnavailable on anything it cannot type.
    """
    # The low-level API: adbc_driver_manager.dbapi would import pyarrow.dataset and pandas (~50 MB RSS).
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    for name in params:
        validate_identifier(name, "parameter")
    wrapped = wrap_query(sql, names, schema, exact)
    used = set(_PARAM.findall(wrapped))
    bound = {f":{k}": v for k, v in params.items() if k in used}  # the driver rejects unused values
    handles: list[Any] = []
    try:
        try:
            db = adbc_driver_sqlite.connect(f"file:{path}?mode=ro")
            handles.append(db)
            conn = adbc.AdbcConnection(db)
            handles.append(conn)
            stmt = adbc.AdbcStatement(conn)
            handles.append(stmt)
            stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(max(2, chunk_rows))})
            stmt.set_sql_query(wrapped)
            if bound:
                stmt.set_options(**{adbc.StatementOptions.BIND_BY_NAME.value: "true"})
                names_, values = zip(*bound.items())
                stmt.bind(pa.RecordBatch.from_arrays([single(v) for v in values], names=list(names_)))
            stream, _ = stmt.execute_query()
            reader = pa.RecordBatchReader._import_from_c(stream.address)
            handles.append(reader)
            first = True
            for batch in reader:
                if first:
                    batch, first = batch.slice(1), False  # the witness row
                if batch.num_rows:
                    yield _conform(batch, schema)
        except (OSError, UnicodeDecodeError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise FastPathUnavailable(str(exc)) from exc
        except adbc.Error as exc:  # prepare failures: a missing table or column, a bad parameter
            raise FastPathUnavailable(str(exc)) from exc
    finally:
        for handle in reversed(handles):
            handle.close()
