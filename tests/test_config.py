"""Configuration: the seed's section loads unchanged; every error names file, table and field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, table_entry
from datasync.cli import app
from datasync.engine.configuration import config_problems, load_config, parse_config
from datasync.core.errors import ConfigError

SEED_APPSETTINGS = {
    "Logging": {"LogLevel": {"Default": "Information"}},
    "DataSync": {
        "CheckInterval": "00:01:00",
        "MaxDegreeOfParallelism": 8,
        "BatchSize": 1000000,
        "BulkCopyBatchSize": 10000,
        "LookbackMultiplier": 3,
        "PurgeRetentionDays": 30,
        "DataSources": [
            {
                "TableName": "WorkOrder_Curr",
                "SourceSystem": "JDE",
                "FetcherTypeName": "JdeWorkOrderFetcher",
                "PostProcessorTypeName": None,
                "IsEnabled": True,
                "MassConfig": {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True},
                "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
                "HourlyConfig": {"Enabled": True, "IntervalMinutes": 60},
            }
        ],
    },
}


def test_seed_appsettings_json_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text(json.dumps(SEED_APPSETTINGS))
    cfg = load_config(path)
    assert cfg.check_interval == timedelta(minutes=1)
    assert cfg.max_degree_of_parallelism == 8 and cfg.lookback_multiplier == 3
    ds = cfg.table("workorder_curr")
    assert ds.mass_config.prepurge_data and ds.mass_config.re_index_data
    assert ds.enabled_types() == ["Mass", "Daily", "Hourly"]
    assert cfg.source_system("JDE").conn_id == "datasync_jde"


def test_snake_case_yaml_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "data_sync:\n  check_interval: '1.02:03:04'\n  data_sources:\n"
        "    - table_name: Items\n      fetcher_type_name: JdeItemFetcher\n"
        "      daily_config: {enabled: true, interval_minutes: 1440}\n"
        "      mass_config: {enabled: false}\n      hourly_config: {enabled: false}\n"
    )
    cfg = load_config(path)
    assert cfg.check_interval == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert cfg.table("Items").enabled_types() == ["Daily"]


def test_shipped_example_config_is_valid() -> None:
    cfg = load_config(REPO / "include" / "datasync.yaml")
    assert len(cfg.data_sources) == 5


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (table_entry("A", "NoSuchFetcher"), "table A, field FetcherTypeName: unknown fetcher 'NoSuchFetcher'; known: "),
        (
            table_entry("A", "JdeItemFetcher", DailyConfig={"Enabled": True, "IntervalMinutes": 0}),
            "table A, field DailyConfig.IntervalMinutes: must be positive on an enabled schedule, got 0",
        ),
        (table_entry("x]; DROP TABLE y--", "JdeItemFetcher"), "field TableName: 'x]; DROP TABLE y--' is not a plain identifier"),
        (table_entry("A", "JdeItemFetcher", ColumnDecimals={"UO'RG": 2}), "table A, field ColumnDecimals: column \"UO'RG\" is not a plain identifier"),
        (table_entry("A", "JdeItemFetcher", Colour="red"), "table A, field Colour: Extra inputs are not permitted"),
        (table_entry("A", "JdeItemFetcher", MassConfig={"Enabled": "maybe"}), "table A, field MassConfig.Enabled: Input should be a valid boolean"),
    ],
)
def test_each_config_error_names_table_and_field(entry: dict, expected: str) -> None:
    problems = config_problems({"DataSources": [table_entry("Good", "JdeItemFetcher"), entry]})
    assert any(expected in p for p in problems), problems
    assert not any("Good" in p for p in problems)


def test_duplicate_table_and_bad_globals() -> None:
    problems = config_problems(
        {
            "CheckInterval": "every minute",
            "MaxDegreeOfParallelism": 0,
            "SourceSystems": {"JDE": {"ConnId": "j", "TimeZone": "Mars/Olympus"}},
            "DataSources": [table_entry("A", "JdeItemFetcher"), table_entry("a", "JdeItemFetcher")],
        }
    )
    text = "\n".join(problems)
    assert "field CheckInterval: 'every minute' is not a TimeSpan" in text
    assert "field MaxDegreeOfParallelism: Input should be greater than or equal to 1" in text
    assert "field SourceSystems.JDE.TimeZone: unknown time zone 'Mars/Olympus'" in text
    assert "duplicate TableName 'a'" in text


def test_check_config_cli_prints_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "DataSync:\n  DataSources:\n"
        "    - {TableName: A, FetcherTypeName: Nope}\n"
        "    - {TableName: B, FetcherTypeName: JdeItemFetcher, HourlyConfig: {Enabled: true, IntervalMinutes: -5}}\n"
    )
    result = CliRunner().invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 1
    assert f"configuration error in {bad}" in result.stderr
    assert "table A, field FetcherTypeName: unknown fetcher 'Nope'" in result.stderr
    assert "table B, field HourlyConfig.IntervalMinutes: must be positive" in result.stderr
    ok = CliRunner().invoke(app, ["check-config", str(REPO / "include" / "datasync.yaml")])
    assert ok.exit_code == 0, ok.stderr


def test_malformed_files_are_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"DataSync": {"DataSources": [}')
    with pytest.raises(ConfigError, match=r"broken.json: malformed JSON"):
        load_config(broken)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="unknown table 'Nope'; configured tables: A"):
        parse_config({"DataSources": [table_entry("A", "JdeItemFetcher")]}).table("Nope")
