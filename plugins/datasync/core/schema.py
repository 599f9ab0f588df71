"""Target table declarations: what a fetcher delivers and what ``init-db`` creates.

A small set of logical column kinds keeps dialect type mapping in one table per
dialect (NVARCHAR/TEXT, DECIMAL(p,s), DATE, DATETIME2/TIMESTAMP ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import pyarrow as pa

from datasync.core.identifiers import validate_identifier

def match_columns(names: Iterable[str], columns: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Column names from the config matched case-blind to ``columns``: ({name: column}, names matching none)."""
    by_upper = {c.upper(): c for c in columns}
    found = {n: by_upper[n.upper()] for n in names if n.upper() in by_upper}
    return found, [n for n in names if n not in found]


Kind = Literal["string", "int", "decimal", "date", "datetime", "float"]
LAST_UPDATE_COLUMN = "LastUpdateDT"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    length: int | None = None  # strings: NVARCHAR(length); None = unbounded
    precision: int = 18  # decimals
    scale: int = 0  # decimals
    nullable: bool = True

    def __post_init__(self) -> None:
        validate_identifier(self.name, "column")

    @property
    def arrow_type(self) -> pa.DataType:
        return {
            "string": pa.string(),
            "int": pa.int64(),
            "float": pa.float64(),
            "date": pa.date32(),
            "datetime": pa.timestamp("us"),
        }.get(self.kind) or pa.decimal128(self.precision, self.scale)


@dataclass(frozen=True)
class TableSchema:
    """A target table: columns in order, primary key, LastUpdateDT column, extra indexes."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    last_update_column: str = LAST_UPDATE_COLUMN
    indexes: tuple[tuple[str, ...], ...] = field(default=())

    def __post_init__(self) -> None:
        validate_identifier(self.name, "table")
        names = [c.name for c in self.columns]
        if len(set(n.lower() for n in names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column names")
        for col in (*self.primary_key, self.last_update_column, *(c for ix in self.indexes for c in ix)):
            if col not in names:
                raise ValueError(f"table {self.name}: {col!r} is not one of its columns")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def non_key_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.name not in self.primary_key]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable and c.name not in self.primary_key) for c in self.columns]
        )

    def keys_only(self, name: str | None = None) -> TableSchema:
        """The key columns alone (a key staging table: delete detection, verify); no LastUpdateDT."""
        keys = tuple(self.column(k) for k in self.primary_key)
        return TableSchema(name or self.name, keys, self.primary_key, last_update_column=self.primary_key[0])

    def index_name(self, columns: tuple[str, ...]) -> str:
        return validate_identifier(f"IX_{self.name}_{'_'.join(columns)}"[:128], "index")

    def renamed(self, names: dict[str, str]) -> TableSchema:
        """The same table with columns renamed (``names``: column -> new name); key, LastUpdateDT
        and indexes follow their columns."""

        def new(name: str) -> str:
            return names.get(name, name)

        return TableSchema(
            self.name,
            tuple(replace(c, name=new(c.name)) for c in self.columns),
            tuple(new(k) for k in self.primary_key),
            new(self.last_update_column),
            tuple(tuple(new(c) for c in ix) for ix in self.indexes),
        )
