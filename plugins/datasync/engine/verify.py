"""``datasync verify``: proof that a cached table equals its source, or where it does not.

Both sides are brought to the same form before anything is compared: the source
through the fetcher (the JDE rules: trimming, business units, Julian dates,
implied decimals), the target read back and typed by the table's schema (SQLite
keeps dates as text and decimals as REAL; PostgreSQL and SQL Server return them
typed). Each row becomes one text of its converted values.

Both sides are streamed, never held: the memory is one batch of each plus a few
numbers per key range, whatever the table's size.

1. Every row's converted key is hashed into one of ``K`` key ranges (buckets;
   ``K`` = the cache's rows / ``RANGE_ROWS``). Per range and side: the row count
   and the sum of the rows' hashes, an order-free checksum. No order is needed
   from either database, so a key the fetcher trims or pads, or a collation that
   sorts differently from the other side, cannot misplace a row.
2. Only ranges whose counts or checksums differ are read again, both sides, and
   compared row by row: their keys and row hashes joined on the full key in
   Arrow (missing, extra, different), a few ranges at a time within
   ``GROUP_BYTES`` (a range larger than that is split by a finer hash). A range
   that one side lacks entirely is all missing (or extra) and is not joined.
3. When rows differ, the sample of them is read once more for the columns that
   differ.

A table that is equal is read once; one that differs is read two or three times.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datasync.core.schema import Column, TableSchema
from datasync.targets.base import Target

RANGE_ROWS = 10_000  # rows per key range, on average
SLICE_ROWS = 16_384  # rows texted and hashed at a time
GROUP_BYTES = 64 << 20  # pass 2: what the rows joined at once may take, both sides
JOIN_ROW_BYTES = 96  # per joined row beside its keys: row hash, Arrow hash table, join output (measured)
READ_CHUNK_ROWS = 10_000
BATCH_ROWS = 32_768  # the fetcher's batch size while verifying (its sync batch may be far larger)
_NULL = "\x00"  # a NULL's text: no converted value is a lone NUL
_SEP = "\x1f"
_SOURCE, _TARGET = "__source_row", "__target_row"

Batches = Iterable[pa.RecordBatch]


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


@dataclass
class _Tally:
    """One side's pass 1: rows and checksum per key range."""

    counts: np.ndarray
    sums: np.ndarray
    rows: int = 0
    key_bytes: int = 0


def verify(
    schema: TableSchema,
    source: Callable[[], Batches] | Batches,
    target: Target,
    sample: int = 10,
) -> VerifyReport:
    """Compare the fetcher's converted rows (named like ``schema``) with the target table ``schema.name``.

    ``source`` opens a fresh stream of the source's batches each time it is called (a
    table that differs is read again); a plain iterable is kept in memory to be replayed.
    """
    if callable(source):
        open_source = source
    else:
        kept = list(source)  # an already-opened stream (tests, small tables): replayed from memory

        def open_source() -> Batches:
            return kept

    keys, columns = list(schema.primary_key), schema.column_names
    side = {
        _SOURCE: lambda: _slices(open_source(), schema),
        _TARGET: lambda: _slices(read_target_batches(target, schema), schema),
    }
    ranges = max(1, math.ceil(target.count_rows(schema) / RANGE_ROWS))
    s, t = (_tally(side[name](), keys, columns, ranges) for name in (_SOURCE, _TARGET))
    differ = (s.counts != t.counts) | (s.sums != t.sums)
    only_source = np.flatnonzero(differ & (t.counts == 0))  # every row missing in the cache
    only_target = np.flatnonzero(differ & (s.counts == 0))  # every row extra
    both = np.flatnonzero(differ & (s.counts > 0) & (t.counts > 0))
    missing, extra = int(s.counts[only_source].sum()), int(t.counts[only_target].sum())
    different = 0
    samples: dict[str, pa.Table | None] = {"missing": None, "extra": None, "different": None}
    per_row = (s.key_bytes + t.key_bytes) / max(1, s.rows + t.rows) + JOIN_ROW_BYTES
    modulus, groups = _plan(both, (s.counts + t.counts)[both], ranges, max(1, int(GROUP_BYTES / per_row)))
    if not groups and (only_source.size or only_target.size):
        groups = [np.array([], np.uint64)]  # one more read, for the sample keys only
    key_fields = [schema.arrow_schema().field(k) for k in keys]
    for n, residues in enumerate(groups):
        first = n == 0
        left, left_sample = _collect(side[_SOURCE](), pa.schema([*key_fields, pa.field(_SOURCE, pa.uint64())]),
                                     columns, modulus, residues, ranges, only_source if first else None, sample)
        right, right_sample = _collect(side[_TARGET](), pa.schema([*key_fields, pa.field(_TARGET, pa.uint64())]),
                                       columns, modulus, residues, ranges, only_target if first else None, sample)
        samples["missing"] = _smallest([samples["missing"], left_sample], keys, sample)
        samples["extra"] = _smallest([samples["extra"], right_sample], keys, sample)
        if not residues.size:
            continue
        joined = left.join(right, keys=keys, join_type="full outer", coalesce_keys=True)
        a, b = joined[_SOURCE], joined[_TARGET]
        gone, new = pc.and_(pc.is_valid(a), pc.is_null(b)), pc.and_(pc.is_null(a), pc.is_valid(b))
        changed = pc.fill_null(pc.and_(pc.and_(pc.is_valid(a), pc.is_valid(b)), pc.not_equal(a, b)), False)
        missing, extra, different = missing + _count(gone), extra + _count(new), different + _count(changed)
        for kind, mask in (("missing", gone), ("extra", new), ("different", changed)):
            samples[kind] = _smallest([samples[kind], joined.filter(mask).select(keys)], keys, sample)
    return VerifyReport(
        table=schema.name,
        key_columns=tuple(keys),
        source_rows=s.rows,
        target_rows=t.rows,
        missing=missing,
        extra=extra,
        different=different,
        ranges=ranges,
        ranges_different=int(differ.sum()),
        sample_missing=_differences(samples["missing"], keys),
        sample_extra=_differences(samples["extra"], keys),
        sample_different=_changed(samples["different"], keys, columns, side),
    )


def read_target_batches(target: Target, schema: TableSchema, chunk_rows: int = READ_CHUNK_ROWS) -> Iterator[pa.RecordBatch]:
    """The cached table typed by ``schema`` (each dialect's stored form brought back to the value), streamed.

    The dialect's bulk way out when it has one (PostgreSQL: COPY to CSV), else the rows in chunks.
    """
    bulk = target.read_batches(schema)
    if bulk is not None:
        yield from bulk
        return
    arrow_schema = schema.arrow_schema()
    for rows in target.query_chunks(target.render("verify", "select_rows", s=schema), chunk_rows):
        columns = list(zip(*rows))
        arrays = [_typed_array(list(values), column) for values, column in zip(columns, schema.columns)]
        yield pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)


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


# --------------------------------------------------------------------------- the passes


def _slices(batches: Batches, schema: TableSchema) -> Iterator[pa.RecordBatch]:
    """Non-empty batches in ``schema``'s types, at most SLICE_ROWS rows each."""
    arrow_schema = schema.arrow_schema()
    for batch in batches:
        if not batch.num_rows:
            continue
        batch = batch.cast(arrow_schema) if batch.schema != arrow_schema else batch
        for start in range(0, batch.num_rows, SLICE_ROWS):
            yield batch.slice(start, SLICE_ROWS)


def _tally(slices: Iterator[pa.RecordBatch], keys: list[str], columns: list[str], ranges: int) -> _Tally:
    tally = _Tally(np.zeros(ranges, np.int64), np.zeros(ranges, np.uint64))
    for batch in slices:
        bucket = (_hash(_text(batch, keys)) % np.uint64(ranges)).astype(np.intp)
        tally.counts += np.bincount(bucket, minlength=ranges)
        np.add.at(tally.sums, bucket, _hash(_text(batch, columns)))  # wraps modulo 2**64: an order-free sum
        tally.rows += batch.num_rows
        tally.key_bytes += batch.select(keys).nbytes
    return tally


def _plan(buckets: np.ndarray, sizes: np.ndarray, ranges: int, budget_rows: int) -> tuple[int, list[np.ndarray]]:
    """Pass 2's reads: (modulus, residue sets), each set's rows (both sides) within ``budget_rows``.

    A range larger than the budget is split ``parts`` ways by a finer modulus (``ranges * parts``):
    key hash h is in range b when h % ranges == b, so in one of b + ranges * i (i < parts).
    """
    if not buckets.size:
        return ranges, []
    parts = max(1, math.ceil(int(sizes.max()) / budget_rows))
    groups: list[list[int]] = [[]]
    held = 0.0
    for bucket, size in zip(buckets.tolist(), sizes.tolist()):
        for i in range(parts):
            if groups[-1] and held + size / parts > budget_rows:
                groups.append([])
                held = 0.0
            groups[-1].append(bucket + ranges * i)
            held += size / parts
    return ranges * parts, [np.array(g, np.uint64) for g in groups]


def _collect(
    slices: Iterator[pa.RecordBatch],
    key_schema: pa.Schema,
    columns: list[str],
    modulus: int,
    residues: np.ndarray,
    ranges: int,
    one_sided: np.ndarray | None,
    sample: int,
) -> tuple[pa.Table, pa.Table | None]:
    """(keys + row hash of the rows whose key hash is in ``residues``, the smallest keys of the one-sided ranges).

    ``key_schema``: the key columns, then the row hash (named for the side).
    """
    keys = key_schema.names[:-1]
    parts: list[pa.RecordBatch] = []
    smallest = None
    for batch in slices:
        key_hash = _hash(_text(batch, keys))
        if residues.size:
            mask = np.isin(key_hash % np.uint64(modulus), residues)
            if mask.any():
                rows = batch.filter(pa.array(mask))
                hashes = pa.array(_hash(_text(rows, columns)), pa.uint64())
                parts.append(pa.RecordBatch.from_arrays([*rows.select(keys).columns, hashes], schema=key_schema))
        if one_sided is not None and one_sided.size and sample:
            mask = np.isin(key_hash % np.uint64(ranges), one_sided.astype(np.uint64))
            if mask.any():
                found = pa.Table.from_batches([batch.filter(pa.array(mask)).select(keys)])
                smallest = _smallest([smallest, found], keys, sample)
    return pa.Table.from_batches(parts, schema=key_schema), smallest


def _hash(texts: pa.Array) -> np.ndarray:
    """64-bit hash of each text (pandas' SipHash with its fixed key: the same on both sides, in every process)."""
    from pandas.util import hash_array  # imported when verifying, not when the CLI starts

    return hash_array(texts.to_numpy(zero_copy_only=False), categorize=False)


def _text(batch: pa.RecordBatch, columns: list[str]) -> pa.Array:
    texts = [pc.fill_null(pc.cast(batch.column(c), pa.string()), _NULL) for c in columns]
    return pc.binary_join_element_wise(*texts, _SEP)


def _smallest(tables: list[pa.Table | None], keys: list[str], limit: int) -> pa.Table | None:
    """The ``limit`` smallest keys of ``tables`` (in key order), for the sample."""
    present = [t for t in tables if t is not None and t.num_rows]
    if not present:
        return tables[0] if tables and tables[0] is not None else None
    merged = pa.concat_tables([t.select(keys) for t in present])
    return merged.sort_by([(k, "ascending") for k in keys]).slice(0, limit).combine_chunks()


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _differences(table: pa.Table | None, keys: list[str]) -> list[Difference]:
    if table is None:
        return []
    return [Difference(tuple(r[k] for k in keys)) for r in table.to_pylist()]


def _changed(
    table: pa.Table | None, keys: list[str], columns: list[str], side: dict[str, Callable[[], Iterator[pa.RecordBatch]]]
) -> list[Difference]:
    """The sample's changed rows, each with the columns whose values differ (one more read of both sides)."""
    sample = _differences(table, keys)
    if not sample:
        return []
    wanted = _text(table.combine_chunks().to_batches()[0], keys)
    rows = []
    for name in (_SOURCE, _TARGET):
        found: dict[tuple, dict[str, Any]] = {}
        for batch in side[name]():
            mask = pc.is_in(_text(batch, keys), value_set=wanted)
            for r in batch.filter(mask).to_pylist():
                found[tuple(r[k] for k in keys)] = r
        rows.append(found)
    out = []
    for d in sample:
        a, b = rows[0].get(d.key, {}), rows[1].get(d.key, {})
        out.append(Difference(d.key, tuple(c for c in columns if a.get(c) != b.get(c))))
    return out
