"""Existing tables as the database's catalog describes them, and how they differ from a schema.

Switching from the .NET service means syncing into cache tables that already
exist. Before any sync, ``compare`` lists every difference between the table a
fetcher declares (after the table's ``Columns`` map) and the table that is
there: missing or extra columns, type, length, precision or nullability
differences, a missing or different primary key. Each difference is an
``error`` when a sync would fail or silently change data (a missing column, a
string column shorter than the fetcher's width, a smaller scale, no primary key
for MERGE / ON CONFLICT to match on) and a ``warning`` when syncs work but the
operator should know (an extra nullable column, a wider column, INT where
datasync declares BIGINT). SQLite stores any value in any column and ignores
lengths, so there type and length differences are warnings only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from datasync.core.schema import Column, TableSchema

#: error: a sync would fail or change data silently; warning: syncs work; note: nothing wrong (a table to create)
Severity = Literal["error", "warning", "note"]

#: the lower-cased base type names of SQL Server, PostgreSQL and SQLite, by what they hold
_FAMILIES = {
    "string": {"char", "varchar", "nchar", "nvarchar", "text", "ntext", "character", "character varying", "bpchar", "clob"},
    "int": {"int", "integer", "bigint", "smallint", "tinyint", "int2", "int4", "int8", "serial", "bigserial"},
    "decimal": {"decimal", "numeric", "money", "smallmoney"},
    "float": {"float", "real", "double precision", "double", "float4", "float8"},
    "date": {"date"},
    "datetime": {"datetime", "datetime2", "smalldatetime", "timestamp", "timestamp without time zone",
                 "datetimeoffset", "timestamp with time zone", "timestamptz"},
}
#: integer types narrower than the BIGINT datasync declares
_NARROW_INTS = {"int", "integer", "smallint", "tinyint", "int2", "int4"}
#: what can hold a configured kind without a sync failing (other than the kind's own family)
_HOLDS = {
    "int": {"decimal", "float"},
    "decimal": {"float"},
    "float": {"decimal"},
    "date": {"datetime"},
}


def family(type_name: str) -> str:
    """'string', 'int', 'decimal', 'float', 'date', 'datetime' or the type name itself."""
    name = type_name.lower().strip()
    for fam, names in _FAMILIES.items():
        if name in names:
            return fam
    return name


@dataclass(frozen=True)
class ExistingColumn:
    name: str
    type_name: str  # lower-case base type: 'nvarchar', 'numeric', 'timestamp without time zone'
    length: int | None = None  # character types; None = unbounded or not a character type
    precision: int | None = None  # decimals
    scale: int | None = None
    nullable: bool = True
    has_default: bool = False  # a default, identity or computed value: an INSERT may leave it out

    def describe(self) -> str:
        if family(self.type_name) == "string" and (self.length or self.type_name not in ("text", "ntext", "clob")):
            return f"{self.type_name.upper()}({self.length if self.length else 'MAX'})"
        if family(self.type_name) == "decimal" and self.precision is not None:
            return f"{self.type_name.upper()}({self.precision},{self.scale or 0})"
        return self.type_name.upper()


@dataclass(frozen=True)
class ExistingTable:
    name: str
    columns: tuple[ExistingColumn, ...]
    primary_key: tuple[str, ...]

    def find(self, name: str, case_sensitive: bool) -> ExistingColumn | None:
        for c in self.columns:
            if c.name == name or (not case_sensitive and c.name.lower() == name.lower()):
                return c
        return None


@dataclass(frozen=True)
class Difference:
    table: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.table}: {self.severity}: {self.message}"


def parse_declared_type(declared: str) -> tuple[str, int | None, int | None, int | None]:
    """SQLite's declared type 'NVARCHAR(30)' / 'DECIMAL(18,2)' -> (name, length, precision, scale)."""
    m = re.fullmatch(r"\s*([A-Za-z ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*", declared or "")
    if not m:
        return (declared or "").lower(), None, None, None
    name, first, second = m.group(1).lower(), m.group(2), m.group(3)
    if family(name) == "string":
        return name, int(first) if first else None, None, None
    if family(name) == "decimal":
        return name, None, int(first) if first else None, int(second or 0) if first else None
    return name, None, None, None


@dataclass(frozen=True)
class Rules:
    """What the target database enforces (dlt-style capabilities, not dialect branches)."""

    enforces_types: bool = True  # False: SQLite stores any value in any column
    case_sensitive_names: bool = False  # True: PostgreSQL's quoted names


def compare(
    schema: TableSchema, declared: dict[str, str], existing: ExistingTable, rules: Rules, aliases: dict[str, str] | None = None
) -> list[Difference]:
    """Every difference between ``schema`` (DDL types ``declared``) and the ``existing`` table.

    ``aliases``: column name -> the fetcher alias it is mapped from, to name both in messages.
    """
    aliases = aliases or {}
    out: list[Difference] = []

    def add(severity: Severity, message: str) -> None:
        out.append(Difference(schema.name, severity, message))

    def label(name: str) -> str:
        alias = aliases.get(name)
        return f"column {name} (alias {alias})" if alias and alias != name else f"column {name}"

    wanted = {c.name.lower() for c in schema.columns}
    for column in schema.columns:
        found = existing.find(column.name, rules.case_sensitive_names)
        if found is None:
            other = existing.find(column.name, case_sensitive=False)
            hint = (
                f"; {other.name} differs only in case (names are case-sensitive here: map it in Columns)"
                if other
                else ""
            )
            hint = hint or "; add it, or map the alias to an existing column in the table's Columns"
            add("error", f"{label(column.name)}: missing (datasync declares {declared[column.name]}){hint}")
            continue
        for severity, message in _column_differences(column, declared[column.name], found, rules, schema):
            add(severity, f"{label(column.name)}: {message}")
    for extra in existing.columns:
        if extra.name.lower() in wanted:
            continue
        if not extra.nullable and not extra.has_default:
            add("error", f"column {extra.name}: not filled by datasync, and NOT NULL without a default: every insert fails")
        else:
            add("warning", f"column {extra.name}: not filled by datasync (stays {'its default' if extra.has_default else 'NULL'})")
    key = tuple(schema.primary_key)
    have = existing.primary_key
    same = [h.lower() for h in have] == [k.lower() for k in key] if not rules.case_sensitive_names else list(have) == list(key)
    if not have:
        add("error", f"no primary key; datasync needs one on ({', '.join(key)}) to match rows (MERGE, ON CONFLICT)")
    elif not same:
        add("error", f"primary key is ({', '.join(have)}); datasync matches rows on ({', '.join(key)})")
    return out


def _column_differences(
    column: Column, declared: str, found: ExistingColumn, rules: Rules, schema: TableSchema
) -> list[tuple[Severity, str]]:
    out: list[tuple[Severity, str]] = []
    strict: Severity = "error" if rules.enforces_types else "warning"
    want, have = column.kind, family(found.type_name)
    is_key = column.name in schema.primary_key or column.name == schema.last_update_column
    if not found.nullable and column.nullable and not is_key:
        out.append(("warning", "NOT NULL where datasync allows NULL: a NULL from the source fails the sync"))
    if found.describe().replace(" ", "") == declared.upper().replace(" ", ""):
        return out  # the type datasync itself creates
    if have != want:
        if have in _HOLDS.get(want, set()) or not rules.enforces_types:
            out.append(("warning", f"{found.describe()} where datasync declares {declared}"))
        else:
            out.append(("error", f"{found.describe()} cannot hold datasync's {declared}"))
        return out
    if want == "string":
        if column.length and found.length and found.length < column.length:
            out.append((strict, f"{found.describe()} is shorter than datasync's {declared}: longer values fail"))
        elif column.length is None and found.length is not None:
            out.append((strict, f"{found.describe()} is bounded where datasync's {declared} is not: longer values fail"))
        elif found.length != column.length and rules.enforces_types:
            out.append(("warning", f"{found.describe()} where datasync declares {declared}"))
        if found.type_name in ("char", "varchar", "character", "character varying", "text") and declared.upper().startswith("NVARCHAR"):
            out.append(("warning", f"{found.describe()} is not a Unicode type: characters outside its code page are lost"))
        if found.type_name in ("char", "nchar", "character", "bpchar"):
            out.append(("warning", f"{found.describe()} is fixed-width: values come back padded with spaces"))
    elif want == "decimal" and found.precision is not None:
        scale = found.scale or 0
        if scale < column.scale:
            out.append((strict, f"{found.describe()} has fewer decimals than datasync's {declared}: values are rounded"))
        if found.precision - scale < column.precision - column.scale:
            out.append((strict, f"{found.describe()} has fewer integer digits than datasync's {declared}: large values fail"))
    elif want == "int" and found.type_name in _NARROW_INTS:
        out.append(("warning", f"{found.describe()} where datasync declares {declared}: values beyond its range fail"))
    elif want == "datetime" and found.type_name in ("datetime", "smalldatetime"):
        out.append(("warning", f"{found.describe()} keeps less time precision than datasync's {declared}"))
    return out
