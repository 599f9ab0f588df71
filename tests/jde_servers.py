"""The demo JDE/CMS source as it lives on SQL Server and on Oracle: column types and driver values.

JDE on SQL Server stores strings as NCHAR, math numerics as FLOAT and Julian dates
as NUMERIC(18,0); on Oracle strings as NCHAR, Julian dates as NUMBER(6,0) and math
numerics as NUMBER without precision. The CMS table keeps plain types (NVARCHAR,
INT, DATETIME on SQL Server; NVARCHAR2, NUMBER(10,0), NUMBER(18,4), DATE on Oracle).

Two uses: the marker suites create the demo tables with these types on a real
server, and the default suite builds, without a server, what each driver hands
out for a stored value (pymssql's Python objects, python-oracledb's Arrow arrays
as documented for its data-frame fetches), to run the readers' conversion on it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

import pyarrow as pa

from datasync_demo import generator as demo
from datasync.fetchers.jde import JdeFetcher
from datasync.fetchers.registry import fetcher_class, known_fetchers


@lru_cache(maxsize=1)
def julian_columns() -> frozenset[str]:
    """Physical columns the JDE fetchers read as Julian dates (their audit dates included)."""
    names: set[str] = set()
    for name in known_fetchers():
        cls = fetcher_class(name)
        if issubclass(cls, JdeFetcher):
            names |= {cls.prefix + c.alias for c in cls.columns if c.kind == "julian"}
            names.add(cls.prefix + cls.audit_date)
    return frozenset(names)


def _width(decl: str) -> int | None:
    return int(decl[decl.index("(") + 1 : -1]) if "(" in decl else None


#: the demo's SQLite declaration -> (SQL Server type, Oracle type); strings and Julian dates apart
_TYPES = {
    "NUMERIC": ("FLOAT", "NUMBER"),
    "FLOAT": ("FLOAT", "FLOAT"),
    "": ("FLOAT", "NUMBER"),
    "REAL": ("FLOAT", "NUMBER(18,4)"),
    "INTEGER": ("INT", "NUMBER(10,0)"),
    "INTEGER PRIMARY KEY": ("INT NOT NULL PRIMARY KEY", "NUMBER(10,0) NOT NULL PRIMARY KEY"),
    "DATETIME": ("DATETIME", "DATE"),
}
_JULIAN = ("NUMERIC(18,0)", "NUMBER(6,0)")


def _server_type(column: str, decl: str, server: int) -> str:
    if decl.startswith("NCHAR("):
        return decl
    if decl.startswith("VARCHAR("):
        return ("NVARCHAR({})", "NVARCHAR2({})")[server].format(_width(decl))
    return (_JULIAN if column in julian_columns() else _TYPES[decl])[server]


def mssql_type(column: str, decl: str) -> str:
    """The SQL Server type of a demo column (its SQLite declaration ``decl``)."""
    return _server_type(column, decl, 0)


def oracle_type(column: str, decl: str) -> str:
    """The Oracle type of a demo column."""
    return _server_type(column, decl, 1)


def column_decls(table: str) -> dict[str, str]:
    return dict(demo.TABLES[table])


# --------------------------------------------------------------------------- values as stored


def stored(value: Any, sql_type: str) -> Any:
    """A demo value (as SQLite holds it) as a server column of ``sql_type`` stores it."""
    if value is None:
        return None
    base = sql_type.split("(")[0].split()[0]
    if base == "NCHAR":
        return str(value).ljust(_width(sql_type) or 1)
    if base in ("NVARCHAR", "NVARCHAR2"):
        return None if value == "" and base == "NVARCHAR2" else str(value)  # Oracle: '' is NULL
    if base in ("DATETIME", "DATE"):
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if base == "FLOAT":
        return float(value)
    if base == "INT" or sql_type.startswith(("NUMBER(6,0)", "NUMBER(10,0)")) or sql_type.startswith("NUMERIC(18,0)"):
        return int(value)
    if sql_type.startswith("NUMBER(18,4)"):
        return Decimal(repr(float(value))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if base == "NUMBER":
        return value  # NUMBER keeps any number as given
    raise AssertionError(f"no stored form for {sql_type}")


# --------------------------------------------------------------------------- what the drivers hand out


def pymssql_value(value: Any, sql_type: str) -> Any:
    """What pymssql's cursor returns for ``value`` stored in a SQL Server column of ``sql_type``.

    pymssql (see its _mssql.convert_db_value): NUMERIC/DECIMAL → Decimal (from the
    server's text form), FLOAT → float, INT → int, N(VAR)CHAR → str with its padding,
    DATETIME → datetime, NULL → None.
    """
    value = stored(value, sql_type)
    if value is None:
        return None
    if sql_type.startswith("NUMERIC"):
        return Decimal(str(int(value)))
    return value


def oracle_arrow_type(sql_type: str, fetch_decimals: bool = False, large_strings: bool = True) -> pa.DataType:
    """The Arrow type of python-oracledb's data frames for an Oracle column of ``sql_type``.

    As documented: CHAR/NCHAR/VARCHAR2/NVARCHAR2 → (large) string; NUMBER(p, 0) with
    p ≤ 18 → int64; NUMBER(p, s) → double, or decimal128(p, s) with fetch_decimals;
    NUMBER without precision and FLOAT → double; DATE → timestamp[s].
    """
    base = sql_type.split("(")[0].split()[0]
    if base in ("NCHAR", "NVARCHAR2"):
        return pa.large_string() if large_strings else pa.string()
    if base == "DATE":
        return pa.timestamp("s")
    if base == "FLOAT" or sql_type.split()[0] == "NUMBER":
        return pa.float64()
    precision, scale = (int(x) for x in sql_type.split("(")[1].split(")")[0].split(","))
    if scale == 0 and precision <= 18:
        return pa.int64()
    return pa.decimal128(precision, scale) if fetch_decimals else pa.float64()


def oracle_array(values: list[Any], sql_type: str, **options: Any) -> pa.Array:
    """A column of an Oracle data frame, as python-oracledb fills it."""
    arrow_type = oracle_arrow_type(sql_type, **options)
    stored_values = [stored(v, sql_type) for v in values]
    if pa.types.is_floating(arrow_type):
        stored_values = [None if v is None else float(v) for v in stored_values]
    return pa.array(stored_values, type=arrow_type)
