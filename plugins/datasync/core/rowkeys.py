"""How an error names a source or target row: ``DOCO=1234`` or ``LOTN='A1', ITM=7, MCU='M30'``.

One spelling for every layer (fetchers, readers, validation, loads), so the same
row is named the same way whichever step rejects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pyarrow as pa

RowKey = Callable[[int], str]


def show_value(value: Any) -> str:
    """A key value as an error shows it: text decoded and stripped of JDE padding, then repr."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        value = value.strip()
    return repr(value)


def format_key(pairs: Iterable[tuple[str, Any]]) -> str:
    return ", ".join(f"{name}={show_value(value)}" for name, value in pairs)


def batch_row_key(
    batch: pa.RecordBatch | pa.Table, columns: Sequence[str], labels: Sequence[str] | None = None
) -> RowKey:
    """Names rows of an Arrow batch by ``columns`` (shown as ``labels``); ``#i`` without key columns."""
    present = [(label, c) for label, c in zip(labels or columns, columns) if c in batch.schema.names]
    arrays = [(label, batch.column(c)) for label, c in present]

    def name(i: int) -> str:
        return format_key((label, arr[i].as_py()) for label, arr in arrays) or f"#{i}"

    return name


def tuple_row_key(rows: Sequence[tuple], names: Sequence[str], key_columns: Sequence[str]) -> RowKey:
    """Names driver rows (tuples in ``names`` order) by ``key_columns``; ``#i`` without key columns."""
    positions = [(names[p], p) for p in (names.index(k) for k in key_columns if k in names)]

    def name(i: int) -> str:
        return format_key((label, rows[i][p]) for label, p in positions) or f"#{i}"

    return name
