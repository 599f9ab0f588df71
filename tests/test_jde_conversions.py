"""JDE data rules as Arrow kernels: Julian dates, HHMMSS times, audit stamps, padding, implied decimals."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from datasync.fetchers.jde import rules as jde
from datasync.core.errors import SourceDataError

WHERE = jde.Where("F4801", "WATRDJ", "WorkOrder_Curr.TRDJ", lambda i: f"DOCO={1000 + i}")
TIME_WHERE = jde.Where("F4801", "WATDAY", "WorkOrder_Curr.LastUpdateDT", lambda i: f"DOCO={1000 + i}")


# --------------------------------------------------------------------------- Julian dates


def test_julian_known_dates_and_missing_values() -> None:
    arr = pa.array([0, None, 99365, 100001, 124060, 1, 126001, 8099365], pa.int64())
    assert jde.julian_to_date(arr, WHERE).to_pylist() == [
        None,
        None,
        date(1999, 12, 31),
        date(2000, 1, 1),
        date(2024, 2, 29),
        date(1900, 1, 1),
        date(2026, 1, 1),
        date(9999, 12, 31),
    ]


def test_julian_result_is_date32() -> None:
    assert jde.julian_to_date(pa.array([124060]), WHERE).type == pa.date32()


@pytest.mark.parametrize("values", [[124060.0, 99365.0, 0.0, None], [Decimal(124060), Decimal(99365), Decimal(0), None]])
def test_julian_from_float_or_decimal(values: list) -> None:
    assert jde.julian_to_date(pa.array(values), WHERE).to_pylist() == [date(2024, 2, 29), date(1999, 12, 31), None, None]


def test_julian_all_null_column() -> None:
    assert jde.julian_to_date(pa.nulls(3), WHERE).to_pylist() == [None, None, None]


@pytest.mark.parametrize(
    "bad",
    [
        125366,  # 2025 is not a leap year
        124367,  # day 367
        124000,  # day 0
        99999999,  # year 101899
        -1,
        -124060,
    ],
)
def test_invalid_julian_names_table_column_and_key(bad: int) -> None:
    with pytest.raises(SourceDataError) as err:
        jde.julian_to_date(pa.array([124060, bad, 0]), WHERE)
    message = str(err.value)
    assert "F4801.WATRDJ" in message
    assert "WorkOrder_Curr.TRDJ" in message
    assert "DOCO=1001" in message  # the second row
    assert str(bad) in message
    assert "Julian" in message


def test_invalid_julian_counts_the_other_bad_rows() -> None:
    with pytest.raises(SourceDataError, match=r"DOCO=1000.*2 more rows"):
        jde.julian_to_date(pa.array([125366, 125366, 124367, 124060]), WHERE)


def test_leap_years_by_the_gregorian_rule() -> None:
    # 2000 is a leap year (divisible by 400), 1900 and 2100 are not
    assert jde.julian_to_date(pa.array([100366]), WHERE).to_pylist() == [date(2000, 12, 31)]
    for bad in (366, 200366):
        with pytest.raises(SourceDataError):
            jde.julian_to_date(pa.array([bad]), WHERE)


def test_date_to_julian_round_trips() -> None:
    for d in (date(1999, 12, 31), date(2000, 1, 1), date(2024, 2, 29), date(2026, 11, 25)):
        j = jde.date_to_julian(d)
        assert jde.julian_to_date(pa.array([j]), WHERE).to_pylist() == [d]
    assert jde.date_to_julian(datetime(2024, 2, 29, 23, 59)) == 124060


# --------------------------------------------------------------------------- HHMMSS times


def test_tday_seconds() -> None:
    arr = pa.array([0, None, 93015, 235959, 5, 100], pa.int64())
    assert jde.tday_to_seconds(arr, TIME_WHERE).to_pylist() == [0, 0, 9 * 3600 + 30 * 60 + 15, 86399, 5, 60]


def test_tday_float_input() -> None:
    arr = pa.array([93015.0, None, 235959.0, 0.0], pa.float64())
    assert jde.tday_to_seconds(arr, TIME_WHERE).to_pylist() == [34215, 0, 86399, 0]


@pytest.mark.parametrize("bad", [246060, 240000, 236000, 1260, 6000, -1, 99.0 * 10_000])
def test_invalid_tday_names_table_column_and_key(bad: float) -> None:
    with pytest.raises(SourceDataError) as err:
        jde.tday_to_seconds(pa.array([93015, bad]), TIME_WHERE)
    message = str(err.value)
    assert "F4801.WATDAY" in message and "DOCO=1001" in message and "HHMMSS" in message


def test_tday_as_text_is_parsed_and_text_that_is_no_number_is_a_clear_error() -> None:
    """A driver that cannot type a column (SQLite ODBC in StepAPI mode) delivers numbers as text."""
    assert jde.tday_to_seconds(pa.array(["093015", "235959.0", None]), TIME_WHERE).to_pylist() == [
        jde.tday_to_seconds(pa.array([93015, 235959, None]), TIME_WHERE).to_pylist()[i] for i in range(3)
    ]
    with pytest.raises(SourceDataError, match="WATDAY.*'9:30' is not a number"):
        jde.tday_to_seconds(pa.array(["093015", "9:30"]), TIME_WHERE)
    with pytest.raises(SourceDataError, match="F4801.WATDAY: expected a number"):
        jde.tday_to_seconds(pa.array([b"093015"]), TIME_WHERE)


# --------------------------------------------------------------------------- LastUpdateDT


def test_audit_timestamp_combines_date_and_time() -> None:
    dates = pa.array([124060, 124060, 99365, 100001, 0, None, 124060])
    times = pa.array([93015.0, 0.0, 235959.0, None, 93015.0, 120000.0, None])
    result = jde.audit_timestamp(dates, times, WHERE, TIME_WHERE)
    assert result.type == pa.timestamp("us")
    assert result.null_count == 0
    assert result.to_pylist() == [
        datetime(2024, 2, 29, 9, 30, 15),
        datetime(2024, 2, 29, 0, 0, 0),
        datetime(1999, 12, 31, 23, 59, 59),
        datetime(2000, 1, 1, 0, 0, 0),
        datetime(1900, 1, 1),  # no audit date: still loaded, never NULL
        datetime(1900, 1, 1),
        datetime(2024, 2, 29),
    ]


def test_audit_timestamp_rejects_bad_time() -> None:
    with pytest.raises(SourceDataError, match="WATDAY.*246060"):
        jde.audit_timestamp(pa.array([124060]), pa.array([246060]), WHERE, TIME_WHERE)


# --------------------------------------------------------------------------- strings


def test_trailing_padding_trimmed_leading_kept() -> None:
    arr = pa.array(["ITEM-1" + " " * 19, "  LEAD  ", "", " " * 30, None])
    assert jde.trim_trailing(arr).to_pylist() == ["ITEM-1", "  LEAD", "", "", None]


def test_business_unit_trimmed_both_sides() -> None:
    arr = pa.array(["         M30", "     1234567", "10".rjust(12), None, " " * 12])
    assert jde.trim_business_unit(arr).to_pylist() == ["M30", "1234567", "10", None, ""]


def test_unicode_padding() -> None:
    assert jde.trim_trailing(pa.array(["Größe  ", "東京   "])).to_pylist() == ["Größe", "東京"]


# --------------------------------------------------------------------------- implied decimals


def test_implied_decimals_exact() -> None:
    arr = pa.array([12345, -7, 0, None, 999_999_999_999_999_999])
    result = jde.implied_decimal(arr, 2, WHERE)
    assert result.type == pa.decimal128(18, 2)
    assert result.to_pylist() == [
        Decimal("123.45"),
        Decimal("-0.07"),
        Decimal("0.00"),
        None,
        Decimal("9999999999999999.99"),
    ]


def test_implied_decimals_from_float_rounds_first() -> None:
    arr = pa.array([1234.0, 1233.9999999, 4046588.0, -15.0000001, None])
    assert jde.implied_decimal(arr, 4, WHERE).to_pylist() == [
        Decimal("0.1234"),
        Decimal("0.1234"),
        Decimal("404.6588"),
        Decimal("-0.0015"),
        None,
    ]


@pytest.mark.parametrize("places", [0, 3, 4, 18])
def test_implied_decimal_places(places: int) -> None:
    result = jde.implied_decimal(pa.array([5]), places, WHERE, precision=38 if places == 18 else 18)
    assert result.to_pylist() == [Decimal(5).scaleb(-places)]


def test_implied_decimal_too_many_digits() -> None:
    with pytest.raises(SourceDataError, match="DOCO=1001.*18 digits"):
        jde.implied_decimal(pa.array([1, 10**18]), 2, WHERE)


def test_implied_decimal_nan_float() -> None:
    with pytest.raises(SourceDataError, match="DOCO=1000"):
        jde.implied_decimal(pa.array([float("nan")]), 2, WHERE)


# --------------------------------------------------------------------------- row keys


def test_row_key_names_rows_by_key_columns() -> None:
    batch = pa.record_batch({"IOLOTN": ["LT1   ", "LT2   "], "IOITM": [60001, 60002], "IOMCU": ["   M30", "    10"]})
    name = jde.row_key(batch, ["IOLOTN", "IOITM", "IOMCU"], ["LOTN", "ITM", "MCU"])
    assert name(1) == "LOTN='LT2', ITM=60002, MCU='10'"
