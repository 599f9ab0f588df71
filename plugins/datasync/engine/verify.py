"""``datasync verify``: proof that a cached table equals its source, or where it does not.

Both sides are brought to the same form before anything is compared: the source
through the fetcher (the JDE rules: trimming, business units, Julian dates,
implied decimals), the target read back and typed by the table's schema (SQLite
keeps dates as text and decimals as REAL; PostgreSQL and SQL Server return them
typed). Each row becomes one text of its converted values; the two sides are
joined on the full key in Arrow, which gives the row counts, the key set
(missing: in the source, not in the cache; extra: in the cache only) and the
rows whose values differ, each with sample keys. A checksum per key range
(``RANGE_ROWS`` consecutive keys of the union, in key order) on each side says
how many ranges differ, the figure a scheduled check watches.

Both sides are streamed into Arrow and compared here rather than checksummed in
SQL: the same comparison then holds for every source and target dialect, and a
difference is reported with its key and columns, not only as a bad range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datasync.core.schema import Column, TableSchema
from datasync.targets.base import Target

RANGE_ROWS = 10_000
READ_CHUNK_ROWS = 50_000
_NULL = "\x00"  # a NULL's text: no converted value is a lone NUL
_SEP = "\x1f"
_SOURCE, _TARGET = "__source_row", "__target_row"


@dataclass(frozen=True)
class Difference:
    key: tuple
    columns: tuple[str, ...] = ()  # for a changed row: the columns whose values differ

    def describe(self) -> str:
        key = ", ".join(f"{v!r}" for v in self.key)
        return f"({key})" + (f" [{', '.join(self.columns)}]" if self.columns else "")


@dataclass(frozen=True)
class VerifyReport:
    table: str
    key_columns: tuple[str, ...]
    source_rows: int
    target_rows: int
    missing: int  # keys in the source the cache lacks
    extra: int  # keys in the cache the source no longer has
    different: int  # same key, other values
    ranges: int
    ranges_different: int
    sample_missing: list[Difference] = field(default_factory=list)
    sample_extra: list[Difference] = field(default_factory=list)
    sample_different: list[Difference] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.different) and self.source_rows == self.target_rows

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "equal": self.equal,
            "source_rows": self.source_rows,
            "target_rows": self.target_rows,
            "missing": self.missing,
            "extra": self.extra,
            "different": self.different,
            "ranges": self.ranges,
            "ranges_different": self.ranges_different,
            "key_columns": list(self.key_columns),
            "sample_missing": [list(d.key) for d in self.sample_missing],
            "sample_extra": [list(d.key) for d in self.sample_extra],
            "sample_different": [{"key": list(d.key), "columns": list(d.columns)} for d in self.sample_different],
        }

    def lines(self) -> list[str]:
        head = "equal" if self.equal else "DIFFERENT"
        out = [
            f"{self.table}: {head}: source {self.source_rows:,} rows, cache {self.target_rows:,} rows; "
            f"{self.ranges_different} of {self.ranges} key range(s) differ",
        ]
        for label, count, sample in (
            ("missing in the cache", self.missing, self.sample_missing),
            ("extra in the cache (deleted in the source)", self.extra, self.sample_extra),
            ("different values", self.different, self.sample_different),
        ):
            if count:
                out.append(f"  {count:,} {label}: " + ", ".join(d.describe() for d in sample))
        return out


def verify(
    schema: TableSchema, source_batches: Iterable[pa.RecordBatch], target: Target, sample: int = 10
) -> VerifyReport:
    """Compare the fetcher's converted rows (named like ``schema``) with the target table ``schema.name``."""
    arrow_schema = schema.arrow_schema()
    source = pa.Table.from_batches([b.cast(arrow_schema) for b in source_batches if b.num_rows], schema=arrow_schema)
    cached = read_target(target, schema)
    keys = list(schema.primary_key)
    columns = schema.column_names
    # the join carries only the keys and each side's row number; the row texts are taken afterwards
    left = source.select(keys).append_column(_SOURCE, pa.array(range(source.num_rows), pa.int64()))
    right = cached.select(keys).append_column(_TARGET, pa.array(range(cached.num_rows), pa.int64()))
    joined = left.join(right, keys=keys, join_type="full outer", coalesce_keys=True)
    joined = joined.sort_by([(k, "ascending") for k in keys])
    s = _row_text(source, columns).take(joined[_SOURCE])
    t = _row_text(cached, columns).take(joined[_TARGET])
    missing = pc.and_(pc.is_valid(s), pc.is_null(t))
    extra = pc.and_(pc.is_null(s), pc.is_valid(t))
    changed = pc.fill_null(pc.and_(pc.and_(pc.is_valid(s), pc.is_valid(t)), pc.not_equal(s, t)), False)
    ranges, ranges_different = _range_checksums(s, t)
    return VerifyReport(
        table=schema.name,
        key_columns=tuple(keys),
        source_rows=source.num_rows,
        target_rows=cached.num_rows,
        missing=_count(missing),
        extra=_count(extra),
        different=_count(changed),
        ranges=ranges,
        ranges_different=ranges_different,
        sample_missing=_keys(joined, keys, missing, sample),
        sample_extra=_keys(joined, keys, extra, sample),
        sample_different=_changed(joined, keys, changed, sample, source, cached),
    )


def read_target(target: Target, schema: TableSchema, chunk_rows: int = READ_CHUNK_ROWS) -> pa.Table:
    """The cached table typed by ``schema`` (each dialect's stored form brought back to the value).

    The dialect's bulk way out when it has one (PostgreSQL: COPY to CSV), else the rows in chunks.
    """
    bulk = target.read_table(schema)
    if bulk is not None:
        return bulk
    arrow_schema = schema.arrow_schema()
    batches = []
    for rows in target.query_chunks(target.render("verify", "select_rows", s=schema), chunk_rows):
        columns = list(zip(*rows))
        arrays = [_typed_array(list(values), column) for values, column in zip(columns, schema.columns)]
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=arrow_schema))
    return pa.Table.from_batches(batches, schema=arrow_schema)


def _typed_array(values: list[Any], column: Column) -> pa.Array:
    """Values as delivered when the driver typed them (PostgreSQL, SQL Server), else converted one by one."""
    try:
        return pa.array(values, type=column.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([typed(v, column) for v in values], type=column.arrow_type)


def typed(value: Any, column: Column) -> Any:
    """One stored value as the Python value of its column's kind."""
    if value is None:
        return None
    kind = column.kind
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-column.scale))
    if kind == "float":
        return float(value)
    if kind == "date":
        if isinstance(value, str):
            return date.fromisoformat(value[:10])
        return value.date() if isinstance(value, datetime) else value
    if kind == "datetime":
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.replace(tzinfo=None)
    return value


def _row_text(table: pa.Table, columns: list[str]) -> pa.ChunkedArray:
    texts = [pc.fill_null(pc.cast(table[c], pa.string()), _NULL) for c in columns]
    return pc.binary_join_element_wise(*texts, _SEP)


def _range_checksums(s: pa.ChunkedArray, t: pa.ChunkedArray) -> tuple[int, int]:
    """(ranges, ranges whose checksums differ) over RANGE_ROWS consecutive keys of the union."""
    source_texts = pc.fill_null(s, "").to_pylist()
    target_texts = pc.fill_null(t, "").to_pylist()
    ranges = different = 0
    for start in range(0, len(source_texts), RANGE_ROWS):
        ranges += 1
        a = hashlib.blake2b("\n".join(source_texts[start : start + RANGE_ROWS]).encode(), digest_size=16).digest()
        b = hashlib.blake2b("\n".join(target_texts[start : start + RANGE_ROWS]).encode(), digest_size=16).digest()
        different += a != b
    return ranges, different


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _keys(joined: pa.Table, keys: list[str], mask: pa.ChunkedArray, limit: int) -> list[Difference]:
    rows = joined.filter(mask).slice(0, limit).select(keys).to_pylist()
    return [Difference(tuple(r[k] for k in keys)) for r in rows]


def _changed(
    joined: pa.Table, keys: list[str], mask: pa.ChunkedArray, limit: int, source: pa.Table, cached: pa.Table
) -> list[Difference]:
    """Sample changed rows, each with the columns whose values differ."""
    sample = _keys(joined, keys, mask, limit)
    if not sample:
        return []
    wanted = pa.table({k: [d.key[i] for d in sample] for i, k in enumerate(keys)}).cast(source.select(keys).schema)
    by_key = [
        {tuple(r[k] for k in keys): r for r in side.join(wanted, keys=keys, join_type="inner").to_pylist()}
        for side in (source, cached)
    ]
    out = []
    for d in sample:
        a, b = by_key[0].get(d.key, {}), by_key[1].get(d.key, {})
        out.append(Difference(d.key, tuple(c for c in source.column_names if a.get(c) != b.get(c))))
    return out
