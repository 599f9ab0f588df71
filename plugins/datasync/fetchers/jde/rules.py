"""JD Edwards data rules as vectorised Arrow kernels.

JDE stores dates as Julian CYYDDD integers, times of day as HHMMSS integers
(often FLOAT), strings as space-padded NCHAR and numbers as integers with
implied decimals. Each kernel here converts a whole column with
``pyarrow.compute``; Python loops run only to describe the first bad row when
a value cannot be converted.

A bad value raises SourceDataError naming the table, the column and the row's
key; the caller says how to name the key with a ``RowKey`` (row index → text
such as ``DOCO=1001``), usually built with ``row_key(batch, columns)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasync.core.errors import SourceDataError
from datasync.core.rowkeys import RowKey, batch_row_key
from datasync.core.scalars import boolean, float64, int64, null, string

"""Names row ``i`` of the array being converted, e.g. ``'DOCO=1001'``."""

NO_AUDIT_DATE = datetime(1900, 1, 1)
"""LastUpdateDT of a row without an audit date: still loaded, never NULL."""

_MIN_YEAR = 1900
_MAX_YEAR = 9999
_US_PER_DAY = 86_400 * 1_000_000


@lru_cache(maxsize=1)
def _year_tables() -> tuple[pa.Array, pa.Array]:
    """Per century-year offset (year − 1900): days from 1970-01-01 to Jan 1, and days in the year.

    Built on first use, not at import: the DAG file imports fetchers to read their schemas.
    """
    years = np.arange(_MIN_YEAR, _MAX_YEAR + 1)
    jan1 = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    starts = (jan1 - np.datetime64("1970-01-01")).astype(np.int64)
    leap = (years % 4 == 0) & ((years % 100 != 0) | (years % 400 == 0))
    lengths = np.where(leap, 366, 365).astype(np.int64)
    # from buffers: pa.array(ndarray) would make pyarrow import pandas (see datasync.core.scalars)
    return (
        pa.Array.from_buffers(pa.int64(), len(starts), [None, pa.py_buffer(np.ascontiguousarray(starts))]),
        pa.Array.from_buffers(pa.int64(), len(lengths), [None, pa.py_buffer(lengths)]),
    )


@dataclass(frozen=True)
class Where:
    """Where a column comes from, for error messages: ``F4801.WATRDJ (WorkOrder_Curr.TRDJ)``."""

    table: str
    column: str
    target: str | None = None
    row_key: RowKey | None = None

    def describe(self, index: int) -> str:
        where = f"{self.table}.{self.column}"
        if self.target:
            where += f" ({self.target})"
        row = self.row_key(index) if self.row_key else f"#{index}"
        return f"{where}, row {row}"


row_key = batch_row_key
"""Names rows of a raw batch by key columns (``DOCO=1001``): the one spelling of datasync.core.rowkeys."""


def _first_true(mask: pa.Array) -> int | None:
    """Index of the first true value of a boolean array (nulls count as false)."""
    mask = pc.fill_null(mask, boolean(False))
    if not pc.any(mask).as_py():
        return None
    return int(pc.index(mask, boolean(True)).as_py())


def reject_rows(where: Where, mask: pa.Array, arr: pa.Array, what: str) -> None:
    """Raise SourceDataError naming the first row where ``mask`` is true (``arr[i]`` is not ``what``), if any."""
    first = _first_true(mask)
    if first is None:
        return
    count = pc.sum(pc.cast(pc.fill_null(mask, boolean(False)), pa.int64())).as_py()
    more = f" ({count - 1} more rows in this batch)" if count > 1 else ""
    raise SourceDataError(f"{where.describe(first)}: {arr[first].as_py()!r} is not {what}{more}")


def to_int64(arr: pa.Array | pa.ChunkedArray, where: Where) -> pa.Array:
    """Integers as int64; floats and decimals are rounded to the nearest integer first."""
    arr = _combine(arr)
    t = arr.type
    if pa.types.is_integer(t):
        return arr.cast(pa.int64())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.int64())
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        if pa.types.is_floating(t):
            finite = pc.is_finite(arr)
            big = pc.greater(pc.abs(arr), float64(9.2e18))
            reject_rows(where, pc.or_(pc.invert(finite), big), arr, "a finite number in int64 range")
        return pc.round(arr).cast(pa.int64())
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return to_int64(numbers_from_text(arr, where), where)
    raise SourceDataError(f"{where.table}.{where.column}: expected a number, the source delivers {t}")


_NUMBER_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def numbers_from_text(arr: pa.Array, where: Where) -> pa.Array:
    """Numbers a driver delivered as text (one that cannot type a column, such as the SQLite ODBC
    driver in StepAPI mode on an untyped column) as float64; the first row that is no number is named."""
    blank = pc.equal(pc.utf8_trim_whitespace(arr), string(""))
    not_number = pc.and_(pc.invert(pc.match_substring_regex(arr, _NUMBER_TEXT)), pc.invert(blank))
    reject_rows(where, not_number, arr, "a number")
    return pc.if_else(blank, pa.nulls(len(arr), pa.float64()), pc.cast(pc.if_else(blank, string("0"), arr), pa.float64()))


def _combine(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        return arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr


# --------------------------------------------------------------------------- dates and times


def julian_to_date(arr: pa.Array | pa.ChunkedArray, where: Where) -> pa.Array:
    """CYYDDD Julian dates → date32. 0 and NULL → NULL; anything else invalid raises SourceDataError.

    CYYDDD = (year − 1900) × 1000 + day of year: 100001 = 2000-01-01,
    99365 = 1999-12-31, 124060 = 2024-02-29.
    """
    values = to_int64(arr, where)
    present = pc.and_(pc.is_valid(values), pc.not_equal(values, int64(0)))
    offset = pc.divide(values, int64(1000))  # non-negative values only matter; negatives are rejected below
    day = pc.subtract(values, pc.multiply(offset, int64(1000)))
    in_range = pc.and_(pc.greater(values, int64(0)), pc.less_equal(offset, int64(_MAX_YEAR - _MIN_YEAR)))
    safe_offset = pc.if_else(in_range, offset, int64(0))
    year_start, year_days_table = _year_tables()
    year_days = pc.take(year_days_table, pc.fill_null(safe_offset, int64(0)))
    valid = pc.and_(in_range, pc.and_(pc.greater_equal(day, int64(1)), pc.less_equal(day, year_days)))
    reject_rows(where, pc.and_(present, pc.invert(valid)), values, "a valid Julian date (CYYDDD)")
    start = pc.take(year_start, pc.fill_null(safe_offset, int64(0)))
    days = pc.add(start, pc.subtract(day, int64(1)))
    days = pc.if_else(present, days, null(pa.int64()))
    return days.cast(pa.int32()).view(pa.date32())


def date_to_julian(value: date | datetime) -> int:
    """The CYYDDD Julian date of ``value`` (for pushed-down filters and the demo)."""
    d = value.date() if isinstance(value, datetime) else value
    return (d.year - 1900) * 1000 + d.timetuple().tm_yday


def tday_to_seconds(arr: pa.Array | pa.ChunkedArray, where: Where) -> pa.Array:
    """HHMMSS times (int or float) → seconds since midnight (int64). NULL → 0; invalid raises.

    93015 = 09:30:15, 235959 = 23:59:59; 246060 or any minute/second ≥ 60 is invalid.
    """
    values = pc.fill_null(to_int64(arr, where), int64(0))
    hours = pc.divide(values, int64(10_000))
    minutes = pc.subtract(pc.divide(values, int64(100)), pc.multiply(hours, int64(100)))
    seconds = pc.subtract(values, pc.multiply(pc.divide(values, int64(100)), int64(100)))
    valid = pc.and_(
        pc.and_(pc.greater_equal(values, int64(0)), pc.less_equal(hours, int64(23))),
        pc.and_(pc.less_equal(minutes, int64(59)), pc.less_equal(seconds, int64(59))),
    )
    reject_rows(where, pc.invert(valid), values, "a valid HHMMSS time")
    return pc.add(pc.add(pc.multiply(hours, int64(3600)), pc.multiply(minutes, int64(60))), seconds)


def audit_timestamp(
    dates: pa.Array | pa.ChunkedArray,
    times: pa.Array | pa.ChunkedArray,
    date_where: Where,
    time_where: Where,
) -> pa.Array:
    """Julian audit date + HHMMSS time → timestamp('us'), naive source local time.

    A row without an audit date (0 or NULL) gets 1900-01-01 00:00:00, never NULL.
    """
    days = julian_to_date(dates, date_where)
    seconds = tday_to_seconds(times, time_where)
    day_us = pc.multiply(days.view(pa.int32()).cast(pa.int64()), int64(_US_PER_DAY))
    stamp = pc.add(day_us, pc.multiply(seconds, int64(1_000_000)))
    no_date_us = int((NO_AUDIT_DATE - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
    return pc.fill_null(stamp, int64(no_date_us)).view(pa.timestamp("us"))


# --------------------------------------------------------------------------- strings and numbers


def trim_trailing(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """NCHAR padding: trailing spaces removed (leading spaces kept)."""
    return pc.utf8_rtrim(_as_string(arr), characters=" ")


def trim_business_unit(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Business units (MCU, MMCU, CMCU …) are right-justified in 12 characters: trim both sides."""
    return pc.utf8_trim(_as_string(arr), characters=" ")


def _as_string(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    arr = _combine(arr)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if arr.type != pa.string():
        return arr.cast(pa.string())
    return arr


def implied_decimal(arr: pa.Array | pa.ChunkedArray, places: int, where: Where, precision: int = 18) -> pa.Array:
    """An integer with ``places`` implied decimals → decimal128(precision, places), exactly.

    12345 with 2 places is 123.45. FLOAT sources are rounded to int64 first.
    A value with more than ``precision`` digits raises SourceDataError.
    """
    values = to_int64(arr, where)
    limit = 10**precision
    too_big = (
        pc.or_(pc.greater_equal(values, int64(limit)), pc.less_equal(values, int64(-limit))) if precision < 19 else None
    )
    if too_big is not None:
        reject_rows(where, too_big, values, f"a number of at most {precision} digits")
    unscaled = values.cast(pa.decimal128(19, 0)).view(pa.decimal128(19, places))
    return unscaled.cast(pa.decimal128(precision, places))


__all__ = [
    "NO_AUDIT_DATE",
    "RowKey",
    "Where",
    "audit_timestamp",
    "date_to_julian",
    "implied_decimal",
    "julian_to_date",
    "reject_rows",
    "row_key",
    "tday_to_seconds",
    "to_int64",
    "trim_business_unit",
    "trim_trailing",
]
