"""Shared fixtures: real SQLite files in tmp_path, configs built like the seed's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seed_config import table_entry  # noqa: F401 - re-exported for the test modules

os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _airflow_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep Airflow's files out of the user's home."""
    if "AIRFLOW_HOME" not in os.environ:
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path_factory.getbasetemp() / "airflow_home"))
