"""CMS fetchers: the shop-floor system's tables, already in plain SQL types."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from datasync.fetchers.jde import rules as jde

from datasync.core import scalars
from datasync.core.errors import SourceDataError
from datasync.core.times import to_source_time
from datasync.fetchers.base import Fetcher, SourceQuery
from datasync.fetchers.registry import register
from datasync.core.schema import LAST_UPDATE_COLUMN, Column, TableSchema

_NO_MODIFIED = scalars.timestamp_us(jde.NO_AUDIT_DATE)  # pa.scalar(datetime) would import pandas


@register
class CmsMisDataFetcher(Fetcher):
    """MIS_DATA: one row per machine event (lot, item, work order, step, quantities).

    LastUpdateDT is LastModified (a row without one gets 1900-01-01, never NULL).
    Strings lose trailing spaces like JDE's, so LotNumber joins F4108.LOTN.
    Quantity and Scrap are DECIMAL(18, 4); ``ColumnDecimals`` may change the scale.
    """

    source_system: ClassVar[str] = "CMS"
    source_table: ClassVar[str] = "MIS_DATA"
    key: ClassVar[tuple[str, ...]] = ("MisDataId",)
    modified_column: ClassVar[str] = "LastModified"
    decimal_columns: ClassVar[dict[str, int]] = {"Quantity": 4, "Scrap": 4}

    _schema: TableSchema | None = None

    def _scales(self) -> dict[str, int]:
        return self.decimal_places(self.decimal_columns)

    def schema(self) -> TableSchema:
        if self._schema is None:
            scales = self._scales()
            self._schema = TableSchema(
                name=self.table.table_name,
                columns=(
                    Column("MisDataId", "int", nullable=False),
                    Column("LotNumber", "string", length=30),
                    Column("ItemNumber", "string", length=25),
                    Column("WorkOrder", "int"),
                    Column("Step", "int"),
                    Column("Machine", "string", length=30),
                    Column("Quantity", "decimal", precision=18, scale=scales["Quantity"]),
                    Column("Scrap", "decimal", precision=18, scale=scales["Scrap"]),
                    Column("EventTime", "datetime"),
                    Column(LAST_UPDATE_COLUMN, "datetime", nullable=False),
                ),
                primary_key=self.key,
                indexes=(("LotNumber",), ("WorkOrder",)),
            )
        return self._schema

    def lineage_table(self) -> str:
        return self.source_table

    def column_sources(self) -> dict[str, tuple[str, ...]]:
        """Same names as the source; LastUpdateDT from LastModified."""
        out = {c: (c,) for c in self.schema().column_names if c != LAST_UPDATE_COLUMN}
        out[LAST_UPDATE_COLUMN] = (self.modified_column,)
        return out

    def source_columns(self) -> list[str]:
        return [c for c in self.schema().column_names if c != LAST_UPDATE_COLUMN] + [self.modified_column]

    def raw_schema(self) -> pa.Schema:
        """Reader casts; Quantity and Scrap stay as delivered (FLOAT, DECIMAL or integer)."""
        return pa.schema(
            [
                ("MisDataId", pa.int64()),
                ("LotNumber", pa.string()),
                ("ItemNumber", pa.string()),
                ("WorkOrder", pa.int64()),
                ("Step", pa.int64()),
                ("Machine", pa.string()),
                ("EventTime", pa.timestamp("us")),
                (self.modified_column, pa.timestamp("us")),
            ]
        )

    def sql(self, incremental: bool, bounded: bool = False) -> str:
        return self.render_select(
            table=self.source_table,
            columns=self.source_columns(),
            incremental=incremental,
            bounded=incremental and bounded,
        )

    def fetch(self, minimum_dt: datetime | None, maximum_dt: datetime | None = None) -> Iterator[pa.RecordBatch]:
        reader = self.require_reader()
        schema = self.schema()
        minimum_dt = to_source_time(minimum_dt, self.source.zone)
        maximum_dt = to_source_time(maximum_dt, self.source.zone) if minimum_dt is not None else None
        bounded = self.bounds_query(maximum_dt)  # either way the filter below cuts at maximum_dt exactly
        params: dict[str, Any] = {}
        if minimum_dt is not None:
            # whole seconds: text-stored times compare safely; the exact filter follows in Arrow
            params["minimum_dt"] = minimum_dt.replace(microsecond=0)
        if bounded:
            params["maximum_dt"] = maximum_dt.replace(microsecond=0) + timedelta(seconds=1)  # the next whole second
        raw_batches = reader.read(
            SourceQuery(
                self.bounded_sql(minimum_dt is not None, bounded),
                params, self.batch_size, self.raw_schema(),
                self.source_table, self.key,
            )
        )
        for raw in raw_batches:
            batch = self.convert(raw, schema)
            if minimum_dt is not None:
                batch = batch.filter(
                    pc.greater_equal(batch.column(LAST_UPDATE_COLUMN), scalars.timestamp_us(minimum_dt))
                )
            if maximum_dt is not None:
                batch = batch.filter(pc.less(batch.column(LAST_UPDATE_COLUMN), scalars.timestamp_us(maximum_dt)))
            if batch.num_rows:
                yield batch

    def fetch_keys(self) -> Iterator[pa.RecordBatch]:
        """Key-only scan: SELECT MisDataId, converted as ``fetch`` converts it."""
        reader = self.require_reader()
        keys = list(self.key)
        raw_schema = pa.schema([f for f in self.raw_schema() if f.name in keys])
        keys_schema = self.schema().keys_only().arrow_schema()
        query = SourceQuery(self.render_key_select(self.source_table, keys), {}, self.batch_size, raw_schema,
                            self.source_table, self.key)
        for raw in reader.read(query):
            if raw.num_rows:
                key = jde.row_key(raw, keys)
                arrays = []
                for name in keys:
                    where = jde.Where(self.source_table, name, f"{self.table.table_name}.{name}", key)
                    arr = jde.to_int64(raw.column(name), where)
                    if arr.null_count:
                        jde.reject_rows(where, pc.is_null(arr), arr, "a key value (it is NULL)")
                    arrays.append(arr)
                yield pa.RecordBatch.from_arrays(arrays, schema=keys_schema)

    def convert(self, raw: pa.RecordBatch, schema: TableSchema | None = None) -> pa.RecordBatch:
        schema = schema or self.schema()
        key = jde.row_key(raw, list(self.key))
        arrays = []
        for col in schema.columns:
            if col.name == LAST_UPDATE_COLUMN:
                modified = raw.column(self.modified_column)
                arrays.append(pc.fill_null(modified, _NO_MODIFIED))
                continue
            src = raw.column(col.name)
            where = jde.Where(self.source_table, col.name, f"{self.table.table_name}.{col.name}", key)
            if col.kind == "decimal":
                arrays.append(_to_decimal(src, col.precision, col.scale, where))
            elif col.kind == "int":
                arr = jde.to_int64(src, where)
                if col.name in self.key and arr.null_count:
                    jde.reject_rows(where, pc.is_null(arr), arr, "a key value (it is NULL)")
                arrays.append(arr)
            elif col.kind == "string":
                arrays.append(jde.trim_trailing(src))
            else:
                arrays.append(src.cast(col.arrow_type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema())


def _to_decimal(arr: pa.Array, precision: int, scale: int, where: jde.Where) -> pa.Array:
    """FLOAT, DECIMAL or integer → decimal128(precision, scale); floats are rounded to ``scale`` first."""
    target = pa.decimal128(precision, scale)
    t = arr.type
    if pa.types.is_null(t):
        return pa.nulls(len(arr), target)
    if pa.types.is_floating(t):
        arr = pc.round(arr, scale)
    elif not (pa.types.is_integer(t) or pa.types.is_decimal(t)):
        raise SourceDataError(f"{where.table}.{where.column}: expected a number, the source delivers {t}")
    try:
        return arr.cast(target)
    except pa.ArrowInvalid:
        for i in range(len(arr)):  # error path only: name the row
            try:
                arr.slice(i, 1).cast(target)
            except pa.ArrowInvalid:
                raise SourceDataError(
                    f"{where.describe(i)}: {arr[i].as_py()!r} does not fit DECIMAL({precision}, {scale})"
                ) from None
        raise


__all__ = ["CmsMisDataFetcher"]
