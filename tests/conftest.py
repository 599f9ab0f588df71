"""Shared fixtures: real SQLite files in tmp_path, configs built like the seed's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

REPO = Path(__file__).resolve().parents[1]


def table_entry(name: str, fetcher: str, **overrides: Any) -> dict[str, Any]:
    """A DataSources entry in the seed's PascalCase shape."""
    entry: dict[str, Any] = {
        "TableName": name,
        "SourceSystem": "JDE",
        "FetcherTypeName": fetcher,
        "IsEnabled": True,
        "MassConfig": {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True},
        "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
        "HourlyConfig": {"Enabled": True, "IntervalMinutes": 60},
    }
    entry.update(overrides)
    return entry


@pytest.fixture(autouse=True)
def _airflow_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Airflow's files out of the user's home."""
    if "AIRFLOW_HOME" not in os.environ:
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path_factory.getbasetemp() / "airflow_home"))
