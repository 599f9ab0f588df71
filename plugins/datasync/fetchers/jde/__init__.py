"""JD Edwards fetchers, declared rather than coded.

A JDE fetcher names its physical table (F4801), the two-letter column prefix
(WA), its key and its columns by data-dictionary alias (DOCO, MCU ...). The
base class builds the target schema, renders the source SELECT from
include/sql/fetchers/<FetcherTypeName>.sql, pushes the incremental filter down
on the Julian audit date and converts each batch with the kernels of
``datasync.fetchers.jde.rules``:

- ``string``: NCHAR, trailing spaces trimmed
- ``business_unit``: right-justified in 12 characters, trimmed both sides
- ``julian``: CYYDDD → DATE (0 / NULL → NULL)
- ``integer``: math-numeric without decimals (often FLOAT in the source)
- ``implied_decimal``: integer with implied decimals → DECIMAL; the default
  places can be overridden per table in the config (``ColumnDecimals: {UORG: 4}``)

``LastUpdateDT`` = audit date + audit time (``UPMJ`` + ``TDAY`` by default),
1900-01-01 for a row without an audit date.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc

from datasync.fetchers.jde import rules as jde

from datasync.core import scalars
from datasync.core.errors import SourceDataError
from datasync.core.times import to_source_time
from datasync.fetchers.base import Fetcher, SourceQuery
from datasync.fetchers.registry import register
from datasync.core.schema import LAST_UPDATE_COLUMN, Column, TableSchema

log = logging.getLogger(__name__)

JdeKind = Literal["string", "business_unit", "julian", "integer", "implied_decimal"]


@dataclass(frozen=True)
class JdeColumn:
    """One source column by data-dictionary alias (the target column name)."""

    alias: str
    kind: JdeKind
    length: int | None = None  # strings: the JDE width
    places: int = 0  # implied decimals: default places
    precision: int = 18


def string(alias: str, length: int) -> JdeColumn:
    return JdeColumn(alias, "string", length=length)


def business_unit(alias: str = "MCU") -> JdeColumn:
    return JdeColumn(alias, "business_unit", length=12)


def julian(alias: str) -> JdeColumn:
    return JdeColumn(alias, "julian")


def integer(alias: str) -> JdeColumn:
    return JdeColumn(alias, "integer")


def implied_decimal(alias: str, places: int = 0, precision: int = 18) -> JdeColumn:
    return JdeColumn(alias, "implied_decimal", places=places, precision=precision)


class JdeFetcher(Fetcher):
    """Declarative base of the JDE fetchers; subclasses set the class attributes below."""

    source_system: ClassVar[str] = "JDE"
    physical_table: ClassVar[str]  # e.g. F4801
    prefix: ClassVar[str]  # e.g. WA
    key: ClassVar[tuple[str, ...]]  # aliases
    columns: ClassVar[tuple[JdeColumn, ...]]  # in target order, key columns included
    audit_date: ClassVar[str] = "UPMJ"  # alias of the Julian audit date (pushed-down filter)
    audit_time: ClassVar[str] = "TDAY"  # alias of the HHMMSS audit time
    indexes: ClassVar[tuple[tuple[str, ...], ...]] = ()  # extra non-PK target indexes
    required_nonblank: ClassVar[tuple[str, ...]] = ()  # aliases whose blank rows are skipped

    _schema: TableSchema | None = None

    # ----------------------------------------------------------------- declaration

    def physical(self, alias: str) -> str:
        """Source column name: prefix + alias (DOCO → WADOCO)."""
        return self.prefix + alias

    def places(self) -> dict[str, int]:
        """Implied decimal places per alias: the fetcher's defaults, overridden by ColumnDecimals."""
        return self.decimal_places({c.alias: c.places for c in self.columns if c.kind == "implied_decimal"})

    def schema(self) -> TableSchema:
        if self._schema is None:
            places = self.places()
            cols = []
            for c in self.columns:
                nullable = c.alias not in self.key
                if c.kind in ("string", "business_unit"):
                    cols.append(Column(c.alias, "string", length=c.length, nullable=nullable))
                elif c.kind == "julian":
                    cols.append(Column(c.alias, "date", nullable=nullable))
                elif c.kind == "integer":
                    cols.append(Column(c.alias, "int", nullable=nullable))
                else:
                    cols.append(
                        Column(c.alias, "decimal", precision=c.precision, scale=places[c.alias], nullable=nullable)
                    )
            cols.append(Column(LAST_UPDATE_COLUMN, "datetime", nullable=False))
            self._schema = TableSchema(
                name=self.table.table_name,
                columns=tuple(cols),
                primary_key=self.key,
                indexes=self.indexes,
            )
        return self._schema

    def lineage_table(self) -> str:
        return self.physical_table

    def column_sources(self) -> dict[str, tuple[str, ...]]:
        """Each alias from its physical column; LastUpdateDT from the audit date and time."""
        out = {c.alias: (self.physical(c.alias),) for c in self.columns}
        out[LAST_UPDATE_COLUMN] = (self.physical(self.audit_date), self.physical(self.audit_time))
        return out

    def source_columns(self) -> list[str]:
        """Physical columns the SELECT reads, audit date and time last."""
        names = [self.physical(c.alias) for c in self.columns]
        for alias in (self.audit_date, self.audit_time):
            if self.physical(alias) not in names:
                names.append(self.physical(alias))
        return names

    def raw_schema(self) -> pa.Schema:
        """Types the reader casts to; TDAY and implied decimals stay as delivered (int or FLOAT)."""
        fields = []
        for c in self.columns:
            if c.kind in ("string", "business_unit"):
                fields.append(pa.field(self.physical(c.alias), pa.string()))
            elif c.kind in ("julian", "integer"):
                fields.append(pa.field(self.physical(c.alias), pa.int64()))
        if self.physical(self.audit_date) not in {f.name for f in fields}:
            fields.append(pa.field(self.physical(self.audit_date), pa.int64()))
        return pa.schema(fields)

    # ----------------------------------------------------------------- query

    def source_casts(self) -> dict[str, str]:
        """The audit time as FLOAT: HHMMSS, numeric in JDE, but untyped in some SQLite copies of it."""
        return {self.physical(self.audit_time): "FLOAT"}

    def sql(self, incremental: bool, bounded: bool = False) -> str:
        return self.render_select(
            table=self.physical_table,
            columns=self.source_columns(),
            audit_date=self.physical(self.audit_date),
            incremental=incremental,
            bounded=bounded,
        )

    def fetch(self, minimum_dt: datetime | None, maximum_dt: datetime | None = None) -> Iterator[pa.RecordBatch]:
        reader = self.require_reader()
        schema = self.schema()
        minimum_dt = to_source_time(minimum_dt, self.source.zone)
        maximum_dt = to_source_time(maximum_dt, self.source.zone)
        bounded = self.bounds_query(maximum_dt)  # either way ``_keep`` cuts at maximum_dt exactly
        params: dict[str, Any] = {}
        if minimum_dt is not None:
            params["min_julian"] = jde.date_to_julian(minimum_dt)
        if bounded:
            params["max_julian"] = jde.date_to_julian(maximum_dt)  # the end's day: inclusive, exact in Arrow
        sql = self.bounded_sql(minimum_dt is not None, bounded)
        log.debug(
            "reading %s from %s (%s)", self.physical_table, self.source_system,
            " and ".join(f"{n} {params[k]}" for k, n in (("min_julian", "UPMJ >="), ("max_julian", "UPMJ <=")) if k in params) or "full fetch",
        )
        raw_batches = reader.read(
            SourceQuery(
                sql, params, self.batch_size, self.raw_schema(), self.physical_table, tuple(self.physical(k) for k in self.key)
            )
        )
        for raw in raw_batches:
            batch = self.convert(raw, schema)
            batch = self._keep(batch, minimum_dt, maximum_dt)
            if batch.num_rows:
                yield batch

    # ----------------------------------------------------------------- conversion

    def _where(self, alias: str, key: jde.RowKey) -> jde.Where:
        return jde.Where(self.physical_table, self.physical(alias), f"{self.table.table_name}.{alias}", key)

    def fetch_keys(self) -> Iterator[pa.RecordBatch]:
        """Key-only scan: SELECT of the physical key columns, converted by the same rules as ``fetch``."""
        reader = self.require_reader()
        physical = [self.physical(k) for k in self.key]
        raw_schema = pa.schema([f for f in self.raw_schema() if f.name in physical])
        keys_schema = self.schema().keys_only().arrow_schema()
        query = SourceQuery(
            self.render_key_select(self.physical_table, physical), {}, self.batch_size, raw_schema,
            self.physical_table, tuple(physical),
        )
        for raw in reader.read(query):
            if raw.num_rows:
                yield self.convert_keys(raw, keys_schema)

    def convert_keys(self, raw: pa.RecordBatch, keys_schema: pa.Schema | None = None) -> pa.RecordBatch:
        """Raw key columns (physical names) → the key columns exactly as ``convert`` makes them."""
        schema = self.schema()
        key = jde.row_key(raw, [self.physical(k) for k in self.key], list(self.key))
        by_alias = {c.alias: c for c in self.columns}
        arrays = [self._convert_column(by_alias[k], raw, key, schema) for k in self.key]
        return pa.RecordBatch.from_arrays(arrays, schema=keys_schema or schema.keys_only().arrow_schema())

    def _convert_column(self, c: JdeColumn, raw: pa.RecordBatch, key: jde.RowKey, schema: TableSchema) -> pa.Array:
        """One source column by its JDE rule; a NULL string key becomes blank, a NULL numeric key an error."""
        src = raw.column(self.physical(c.alias))
        where = self._where(c.alias, key)
        if c.kind == "string":
            arr = jde.trim_trailing(src)
        elif c.kind == "business_unit":
            arr = jde.trim_business_unit(src)
        elif c.kind == "julian":
            arr = jde.julian_to_date(src, where)
        elif c.kind == "integer":
            arr = jde.to_int64(src, where)
        else:
            col = schema.column(c.alias)
            arr = jde.implied_decimal(src, col.scale, where, col.precision)
        if c.alias in self.key and arr.null_count:
            if pa.types.is_string(arr.type):
                arr = pc.fill_null(arr, scalars.string(""))
            else:
                jde.reject_rows(where, pc.is_null(arr), arr, "a key value (it is NULL)")
        return arr

    def convert(self, raw: pa.RecordBatch, schema: TableSchema | None = None) -> pa.RecordBatch:
        """One raw source batch (physical names) → a target batch with exactly ``schema().arrow_schema()``."""
        schema = schema or self.schema()
        key = jde.row_key(raw, [self.physical(k) for k in self.key], list(self.key))
        arrays: list[pa.Array] = [self._convert_column(c, raw, key, schema) for c in self.columns]
        arrays.append(
            jde.audit_timestamp(
                raw.column(self.physical(self.audit_date)),
                raw.column(self.physical(self.audit_time)),
                self._where(self.audit_date, key),
                self._where(self.audit_time, key),
            )
        )
        try:
            return pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema())
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # pragma: no cover - a fetcher declaration bug
            raise SourceDataError(f"{self.physical_table}: batch does not match the declared schema: {exc}") from None

    def _keep(
        self, batch: pa.RecordBatch, minimum_dt: datetime | None, maximum_dt: datetime | None = None
    ) -> pa.RecordBatch:
        """Exact filters in Arrow: minimum_dt <= LastUpdateDT < maximum_dt and required non-blank columns."""
        mask = None
        if minimum_dt is not None:
            mask = pc.greater_equal(batch.column(LAST_UPDATE_COLUMN), scalars.timestamp_us(minimum_dt))
        if maximum_dt is not None:
            before = pc.less(batch.column(LAST_UPDATE_COLUMN), scalars.timestamp_us(maximum_dt))
            mask = before if mask is None else pc.and_(mask, before)
        for alias in self.required_nonblank:
            nonblank = pc.fill_null(pc.not_equal(batch.column(alias), scalars.string("")), scalars.boolean(False))
            mask = nonblank if mask is None else pc.and_(mask, nonblank)
        return batch if mask is None else batch.filter(mask)


# --------------------------------------------------------------------------- the fetchers


@register
class JdeWorkOrderFetcher(JdeFetcher):
    """F4801 Work Order Master File."""

    physical_table = "F4801"
    prefix = "WA"
    key = ("DOCO",)
    columns = (
        integer("DOCO"),
        string("DCTO", 2),
        string("SFXO", 3),
        string("KCOO", 5),
        business_unit("MCU"),
        business_unit("MMCU"),
        integer("ITM"),
        string("LITM", 25),
        string("DL01", 30),
        string("SRST", 2),
        julian("TRDJ"),
        julian("STRT"),
        julian("DRQJ"),
        julian("STRX"),
        implied_decimal("UORG"),
        implied_decimal("SOQS"),
        implied_decimal("SOCN"),
        string("UOM", 2),
        string("LOTN", 30),
        string("PARS", 8),
    )
    indexes = (("ITM",), ("LOTN",))


@register
class JdeLotUsageFetcher(JdeFetcher):
    """F4111 Item Ledger (Cardex), rows that carry a lot number. F4111 has no UPMJ: CRDJ is the audit date."""

    physical_table = "F4111"
    prefix = "IL"
    key = ("UKID",)
    columns = (
        integer("UKID"),
        integer("ITM"),
        string("LITM", 25),
        business_unit("MCU"),
        string("LOCN", 20),
        string("LOTN", 30),
        integer("DOC"),
        string("DCT", 2),
        string("KCO", 5),
        integer("DOCO"),
        string("DCTO", 2),
        implied_decimal("LNID", 3),
        julian("TRDJ"),
        implied_decimal("TRQT"),
        string("TRUM", 2),
        implied_decimal("UNCS", 4),
    )
    audit_date = "CRDJ"
    indexes = (("LOTN",), ("ITM", "MCU"))
    required_nonblank = ("LOTN",)


@register
class JdeItemFetcher(JdeFetcher):
    """F4101 Item Master."""

    physical_table = "F4101"
    prefix = "IM"
    key = ("ITM",)
    columns = (
        integer("ITM"),
        string("LITM", 25),
        string("AITM", 25),
        string("DSC1", 30),
        string("DSC2", 30),
        string("STKT", 1),
        string("LNTY", 2),
        string("UOM1", 2),
        string("GLPT", 4),
        string("LOTS", 1),
        string("SRCE", 1),
        string("MPST", 1),
    )
    indexes = (("LITM",),)


@register
class JdeLotMasterFetcher(JdeFetcher):
    """F4108 Lot Master; one row per lot, item and branch."""

    physical_table = "F4108"
    prefix = "IO"
    key = ("LOTN", "ITM", "MCU")
    columns = (
        string("LOTN", 30),
        integer("ITM"),
        business_unit("MCU"),
        string("LITM", 25),
        string("LDSC", 30),
        string("LOTS", 1),
        julian("MMEJ"),
        julian("OHDJ"),
        integer("DOCO"),
    )
    indexes = (("ITM",), ("DOCO",))


__all__ = [
    "JdeColumn",
    "JdeFetcher",
    "JdeItemFetcher",
    "JdeLotMasterFetcher",
    "JdeLotUsageFetcher",
    "JdeWorkOrderFetcher",
    "business_unit",
    "implied_decimal",
    "integer",
    "julian",
    "string",
]
