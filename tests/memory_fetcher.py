"""A fetcher whose source is a Python list, for engine tests that need exact control.

It is a real registered fetcher (the engine cannot tell it from a JDE one); the
target side of every test is a real database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from datasync.fetchers.base import Fetcher
from datasync.fetchers.registry import register
from datasync.core.schema import Column, TableSchema


class NullReader:
    dialect = "memory"

    def close(self) -> None:
        pass


@register
class MemoryFetcher(Fetcher):
    """Rows come from ``MemoryFetcher.sources[table]``; ``fail_after`` batches then raise."""

    sources: dict[str, list[dict[str, Any]]] = {}
    fail_after: dict[str, int] = {}

    def schema(self) -> TableSchema:
        return TableSchema(
            name=self.table.table_name,
            columns=(
                Column("Id", "int", nullable=False),
                Column("Site", "string", length=12, nullable=False),
                Column("Name", "string", length=30),
                Column("Qty", "decimal", precision=18, scale=2),
                Column("Day", "date"),
                Column("LastUpdateDT", "datetime", nullable=False),
            ),
            primary_key=("Id", "Site"),
            indexes=(("Name",),),
        )

    def fetch(self, minimum_dt: datetime | None) -> Iterator[pa.RecordBatch]:
        rows = [r for r in self.sources.get(self.table.table_name, []) if minimum_dt is None or r["LastUpdateDT"] >= minimum_dt]
        arrow_schema = self.schema().arrow_schema()
        fail_after = self.fail_after.get(self.table.table_name)
        for n, start in enumerate(range(0, len(rows), self.batch_size)):
            if fail_after is not None and n >= fail_after:
                raise RuntimeError(f"source connection lost after {n} batches")
            chunk = rows[start : start + self.batch_size]
            yield pa.RecordBatch.from_pylist(chunk, schema=arrow_schema)
