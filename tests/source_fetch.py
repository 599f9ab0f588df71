"""Fetchers on a source reader, built from a seed-shaped config and drained, for the source tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from seed_config import table_entry

from datasync.engine.configuration import parse_config
from datasync.fetchers.base import Fetcher
from datasync.fetchers.registry import fetcher_class

FETCHERS = {
    "JdeWorkOrderFetcher": "F4801",
    "JdeLotUsageFetcher": "F4111",
    "JdeItemFetcher": "F4101",
    "JdeLotMasterFetcher": "F4108",
    "CmsMisDataFetcher": "MIS_DATA",
}
"""The seed fetchers and their source tables."""


def system_of(fetcher: str) -> str:
    return "CMS" if fetcher.startswith("Cms") else "JDE"


def build(reader: Any, fetcher: str, batch_size: int = 1000, schema: str | None = None, **settings: Any) -> Fetcher:
    """``fetcher`` for a table T on ``reader``; ``schema`` and ``settings`` (e.g. ReadUncommitted) for its source system."""
    name = system_of(fetcher)
    system = {"ConnId": f"datasync_{name.lower()}", **({"Schema": schema} if schema else {}), **settings}
    cfg = parse_config({"DataSources": [table_entry("T", fetcher, SourceSystem=name)], "SourceSystems": {name: system}})
    return fetcher_class(fetcher)(cfg.data_sources[0], cfg.source_system(name), reader, batch_size)


def rows_of(fetcher: Fetcher, minimum_dt: datetime | None = None) -> list[dict[str, Any]]:
    """Every row the fetcher delivers, sorted by key; each batch has the declared schema and fits the batch size."""
    expected = fetcher.schema().arrow_schema()
    rows: list[dict[str, Any]] = []
    for batch in fetcher.fetch(minimum_dt):
        assert batch.schema.equals(expected), f"{batch.schema} != {expected}"
        assert batch.num_rows <= fetcher.batch_size
        rows += batch.to_pylist()
    key = fetcher.schema().primary_key
    return sorted(rows, key=lambda r: tuple(r[k] for k in key))
