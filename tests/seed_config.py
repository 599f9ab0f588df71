"""Config entries in the seed service's PascalCase shape, shared by every test module."""

from __future__ import annotations

from typing import Any


def table_entry(name: str, fetcher: str, source: str = "JDE", **overrides: Any) -> dict[str, Any]:
    """A DataSources entry with all three schedules enabled (Mass with PrepurgeData and ReIndexData)."""
    entry: dict[str, Any] = {
        "TableName": name,
        "SourceSystem": source,
        "FetcherTypeName": fetcher,
        "IsEnabled": True,
        "MassConfig": {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True},
        "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
        "HourlyConfig": {"Enabled": True, "IntervalMinutes": 60},
    }
    entry.update(overrides)
    return entry
