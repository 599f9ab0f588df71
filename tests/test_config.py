"""Configuration: the seed's section loads unchanged; every error names file, table and field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

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


# ------------------------------------------------------------------ issue 11: read the way .NET reads it

DOTNET_APPSETTINGS = """\
{
  // the .NET JdeScoping.DataSync service's settings, as its team wrote them
  "Logging": { "LogLevel": { "Default": "Information", } },
  "dataSync": {
    "checkInterval": "00:00:30.5",   /* .NET TimeSpan with a fraction */
    "maxDegreeOfParallelism": 8,
    "batchSize": 500000,
    "sourceSystems": { "jde": { "connId": "datasync_jde", "timeZone": "America/Chicago", }, },
    "dataSources": [
      {
        "tableName": "WorkOrder_Curr",
        "sourceSystem": "jde",
        "fetcherTypeName": "JdeWorkOrderFetcher",
        "massConfig": { "intervalMinutes": 10080, "prepurgeData": true, },
        "dailyConfig": { "intervalMinutes": 1440 },
        "hourlyConfig": { "enabled": false, },
      },
      {
        "TableName": "Item_Curr",
        "FetcherTypeName": "JdeItemFetcher",
        "MassConfig": { "IntervalMinutes": 10080 },
        "DailyConfig": { "IntervalMinutes": 1440 },
        "HourlyConfig": { "IntervalMinutes": 60 },
      },
    ],
  },
}
"""

STAGING_OVERLAY = """\
{
  // appsettings.Staging.json: only what differs
  "DataSync": {
    "BatchSize": 5000,
    "DataSources": [ { "DailyConfig": { "IntervalMinutes": 720, }, }, ],
  },
}
"""

OVERRIDES = {
    "DOTNET_ENVIRONMENT": "Staging",
    "DataSync__MaxDegreeOfParallelism": "4",
    "DATASYNC__DATASOURCES__1__ISENABLED": "false",  # .NET matches variable names case-insensitively too
    "DataSync__DataSources__0__MassConfig__ReIndexData": "true",
    "DataSync__BatchSize": "2000",  # the environment wins over the overlay
    "UNRELATED__BatchSize": "1",
}


def write_dotnet_files(tmp_path: Path) -> Path:
    path = tmp_path / "appsettings.json"
    path.write_text(DOTNET_APPSETTINGS)
    (tmp_path / "appsettings.Staging.json").write_text(STAGING_OVERLAY)
    (tmp_path / "appsettings.Production.json").write_text('{"DataSync": {"BatchSize": 1}}')
    return path


def test_dotnet_appsettings_with_comments_camel_case_overlay_and_environment(tmp_path: Path) -> None:
    path = write_dotnet_files(tmp_path)
    cfg = load_config(path, environ=OVERRIDES)
    assert cfg.check_interval == timedelta(seconds=30, milliseconds=500)
    assert cfg.max_degree_of_parallelism == 4  # environment variable over the file's 8
    assert cfg.batch_size == 2000  # file 500000 < overlay 5000 < environment 2000
    assert cfg.source_system("JDE").time_zone == "America/Chicago"
    orders, items = cfg.data_sources
    assert orders.table_name == "WorkOrder_Curr" and orders.source_system == "JDE"
    assert orders.mass_config.interval_minutes == 10080 and orders.mass_config.prepurge_data
    assert orders.mass_config.re_index_data  # from the variable
    assert orders.daily_config.interval_minutes == 720  # the overlay changed the first table only
    assert orders.enabled_types() == ["Mass", "Daily"]
    assert items.daily_config.interval_minutes == 1440 and not items.is_enabled
    assert cfg.enabled_tables() == [orders]


def test_without_an_environment_name_the_production_overlay_is_read(tmp_path: Path) -> None:
    path = write_dotnet_files(tmp_path)
    assert load_config(path, environ={}).batch_size == 1  # appsettings.Production.json
    assert load_config(path, environ={"ASPNETCORE_ENVIRONMENT": "Staging"}).batch_size == 5000
    # .NET 7+ hosts: DOTNET_ENVIRONMENT wins over ASPNETCORE_ENVIRONMENT
    both = {"ASPNETCORE_ENVIRONMENT": "Staging", "DOTNET_ENVIRONMENT": "Development"}
    assert load_config(path, environ=both).batch_size == 500000  # no appsettings.Development.json


def test_an_overlay_without_a_datasync_section_changes_nothing(tmp_path: Path) -> None:
    path = write_dotnet_files(tmp_path)
    (tmp_path / "appsettings.Production.json").write_text('{"Logging": {"LogLevel": {"Default": "Warning"}}}')
    assert load_config(path, environ={}).batch_size == 500000


def test_environment_variables_can_add_a_table_but_not_leave_a_gap(tmp_path: Path) -> None:
    path = write_dotnet_files(tmp_path)
    added = {
        "DataSync__DataSources__2__TableName": "LotMaster_Curr",
        "DataSync__DataSources__2__FetcherTypeName": "JdeLotMasterFetcher",
        "DataSync__DataSources__2__MassConfig__IntervalMinutes": "10080",
        "DataSync__DataSources__2__DailyConfig__Enabled": "false",
        "DataSync__DataSources__2__HourlyConfig__IntervalMinutes": "60",
    }
    cfg = load_config(path, environ=added)
    assert cfg.table("LotMaster_Curr").enabled_types() == ["Mass", "Hourly"]
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"DataSync__DataSources__7__IsEnabled": "false"})
    assert "index 7 leaves a gap after the 2 item(s) configured (environment variable DataSync__DataSources__7__IsEnabled)" in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:01:00", timedelta(minutes=1)),
        ("1.00:00:00", timedelta(days=1)),
        ("00:00:30.5", timedelta(seconds=30.5)),
        ("1.02:03:04.0000001", timedelta(days=1, hours=2, minutes=3, seconds=4)),  # one tick rounds to 0 us
        ("00:00:00.1234567", timedelta(microseconds=123457)),
        ("01:30", timedelta(hours=1, minutes=30)),
        ("2", timedelta(days=2)),
        ("-00:05:00", timedelta(minutes=-5)),
    ],
)
def test_timespan_forms_of_dotnet(text: str, expected: timedelta) -> None:
    assert parse_config({"CheckInterval": text}).check_interval == expected


@pytest.mark.parametrize("text", ["24:00:00", "00:60:00", "1 day", "00:01:00:00"])
def test_timespans_dotnet_refuses_are_errors(text: str) -> None:
    problems = config_problems({"CheckInterval": text})
    assert len(problems) == 1 and problems[0].startswith("field CheckInterval:") and "TimeSpan" in problems[0]


def test_keys_given_twice_in_two_spellings_are_an_error() -> None:
    problems = config_problems({"BatchSize": 5, "batchSize": 6, "SourceSystems": {"JDE": {"ConnId": "a"}, "jde": {"ConnId": "b"}}})
    assert "field BatchSize: given twice (BatchSize, batchSize)" in problems
    assert "field SourceSystems: JDE and jde are the same key (keys are case-insensitive)" in problems


def test_snake_case_file_and_pascal_case_variable_set_the_same_field(tmp_path: Path) -> None:
    path = tmp_path / "datasync.yaml"
    path.write_text(
        "data_sync:\n  max_degree_of_parallelism: 2\n  data_sources:\n"
        "    - table_name: Items\n      fetcher_type_name: JdeItemFetcher\n"
        "      mass_config: {interval_minutes: 10080}\n      daily_config: {enabled: false}\n"
        "      hourly_config: {enabled: false}\n"
    )
    overlay = tmp_path / "datasync.Test.yaml"
    overlay.write_text("DataSync:\n  DataSources:\n    - DailyConfig: {Enabled: true, IntervalMinutes: 1440}\n")
    cfg = load_config(path, environ={"DataSync__MaxDegreeOfParallelism": "6", "DOTNET_ENVIRONMENT": "Test"})
    assert cfg.max_degree_of_parallelism == 6
    assert cfg.table("Items").enabled_types() == ["Mass", "Daily"]


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "appsettings.json"
    path.write_text('{\n  // ok so far\n  "DataSync": { "BatchSize": 5,, }\n}\n')
    with pytest.raises(ConfigError, match=r"appsettings.json: malformed JSON at line 3, column 33"):
        load_config(path, environ={})


def test_a_bad_value_from_the_overlay_or_a_variable_names_its_source(tmp_path: Path) -> None:
    path = write_dotnet_files(tmp_path)
    (tmp_path / "appsettings.Staging.json").write_text('{"DataSync": {"DataSources": [{"DailyConfig": {"IntervalMinutes": 0}}]}}')
    env = {"DOTNET_ENVIRONMENT": "Staging", "DataSync__DataSources__1__FetcherTypeName": "Nope"}
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=env)
    assert info.value.path == str(path)
    problems = info.value.problems
    overlay = tmp_path / "appsettings.Staging.json"
    assert (
        "table WorkOrder_Curr, field DailyConfig.IntervalMinutes: must be positive on an enabled schedule, got 0; "
        f"Enabled defaults to true: write Enabled: false to turn the schedule off (set by overlay {overlay})"
    ) in problems
    assert any(
        p.startswith("table Item_Curr, field FetcherTypeName: unknown fetcher 'Nope'")
        and p.endswith("(set by environment variable DataSync__DataSources__1__FetcherTypeName)")
        for p in problems
    ), problems


# ------------------------------------------------------------------ issue 11: the seed's defaults, as defaults

MINIMAL_TABLE = {"TableName": "T", "FetcherTypeName": "JdeItemFetcher", "MassConfig": {"IntervalMinutes": 10080},
                 "DailyConfig": {"IntervalMinutes": 1440}, "HourlyConfig": {"IntervalMinutes": 60}}


def test_seed_defaults_of_the_section() -> None:
    cfg = parse_config({"DataSources": [MINIMAL_TABLE]})
    assert cfg.check_interval == timedelta(minutes=1)
    assert cfg.max_degree_of_parallelism == 8
    assert cfg.batch_size == 1_000_000
    assert cfg.bulk_copy_batch_size == 10_000
    assert cfg.lookback_multiplier == 3
    assert cfg.purge_retention_days == 30
    assert cfg.ledger_time_zone is None and cfg.ledger_zone.key == "UTC"  # the JDE source's zone


def test_seed_defaults_of_a_table_and_its_schedules() -> None:
    table = parse_config({"DataSources": [MINIMAL_TABLE]}).table("T")
    assert table.is_enabled is True
    assert table.source_system == "JDE"
    for sync_type in ("Mass", "Daily", "Hourly"):
        sched = table.schedule(sync_type)
        assert sched.enabled is True, sync_type  # a schedule written without Enabled is on
        assert (sched.prepurge_data, sched.re_index_data) == (False, False)
    assert table.enabled_types() == ["Mass", "Daily", "Hourly"]
    assert table.columns == {} and table.column_decimals == {}


def test_ledger_time_zone_defaults_to_the_jde_source_zone() -> None:
    raw = {"SourceSystems": {"JDE": {"ConnId": "j", "TimeZone": "America/Chicago"}}, "DataSources": [MINIMAL_TABLE]}
    assert parse_config(raw).ledger_zone.key == "America/Chicago"
    assert parse_config({**raw, "LedgerTimeZone": "Europe/Berlin"}).ledger_zone.key == "Europe/Berlin"
    assert config_problems({**raw, "LedgerTimeZone": "Mars/Olympus"}) == ["field LedgerTimeZone: unknown time zone 'Mars/Olympus'"]


@pytest.mark.parametrize("spelling", ["JDE", "jde", "Jde", " jDe "])
def test_source_system_any_case(spelling: str) -> None:
    cfg = parse_config({"DataSources": [{**MINIMAL_TABLE, "SourceSystem": spelling}], "SourceSystems": {spelling.strip().lower(): {"ConnId": "mine"}}})
    assert cfg.table("T").source_system == "JDE"
    assert cfg.source_system("JDE").conn_id == "mine"
    assert cfg.source_system("jde").conn_id == "mine"


@pytest.mark.parametrize(
    ("schedules", "expected"),
    [
        ({"HourlyConfig": {"IntervalMinutes": 0}}, "table T, field HourlyConfig.IntervalMinutes: must be positive on an enabled schedule, got 0"),
        ({"HourlyConfig": {"Enabled": True}}, "table T, field HourlyConfig.IntervalMinutes: must be positive on an enabled schedule, missing"),
        ({"HourlyConfig": {}}, "table T, field HourlyConfig.IntervalMinutes: must be positive on an enabled schedule, missing"),
        ({"HourlyConfig": None}, "table T, field HourlyConfig"),
        # not written at all: the seed's default schedule, which is enabled
        ({}, "table T, field HourlyConfig.IntervalMinutes: must be positive on an enabled schedule, missing"),
    ],
)
def test_an_enabled_schedule_without_a_positive_interval_is_an_error(tmp_path: Path, schedules: dict, expected: str) -> None:
    entry = {k: v for k, v in MINIMAL_TABLE.items() if k != "HourlyConfig"} | schedules
    path = tmp_path / "appsettings.json"
    path.write_text(json.dumps({"DataSync": {"DataSources": [entry]}}))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_a_disabled_schedule_needs_no_interval() -> None:
    entry = {**MINIMAL_TABLE, "HourlyConfig": {"Enabled": False}}
    assert parse_config({"DataSources": [entry]}).table("T").enabled_types() == ["Mass", "Daily"]


# ------------------------------------------------------------------ issue 11: check-config shows what it read


def test_check_config_shows_each_value_and_where_it_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_dotnet_files(tmp_path)
    for name, value in OVERRIDES.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["check-config", str(path)])
    assert result.exit_code == 0, result.stderr
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    overlay = tmp_path / "appsettings.Staging.json"
    assert f"environment Staging: read file {path}, overlay {overlay}" in lines
    expected = [
        f"CheckInterval 00:00:30.5 file {path}",
        "MaxDegreeOfParallelism 4 environment variable DataSync__MaxDegreeOfParallelism",
        "BatchSize 2000 environment variable DataSync__BatchSize",
        "BulkCopyBatchSize 10000 default",
        "LookbackMultiplier 3 default",
        "PurgeRetentionDays 30 default",
        f"SourceSystems.JDE.TimeZone America/Chicago file {path}",
        "LedgerTimeZone America/Chicago (the JDE source's TimeZone) default",
        "table WorkOrder_Curr (JDE, JdeWorkOrderFetcher):",
        "Mass: every 7 days (10080 min), PrepurgeData, ReIndexData",
        "Daily: every 12 hours (720 min)",
        "Hourly: off (Enabled: false)",
        "MassConfig.Enabled true default",
        f"MassConfig.IntervalMinutes 10080 file {path}",
        "MassConfig.ReIndexData true environment variable DataSync__DataSources__0__MassConfig__ReIndexData",
        f"DailyConfig.IntervalMinutes 720 overlay {overlay}",
        f"HourlyConfig.Enabled false file {path}",
        "table Item_Curr (JDE, JdeItemFetcher):",
        "Mass: off (IsEnabled: false)",
        "IsEnabled false environment variable DATASYNC__DATASOURCES__1__ISENABLED",
        "SourceSystem JDE default",
    ]
    missing = [e for e in expected if e not in lines]
    assert not missing, "\n".join(lines)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"NOPE": "X"}, "table W, field Columns: NOPE is not a column of JdeWorkOrderFetcher; its columns: DOCO, "),
        ({"DOCO": "WADOCO", "dcto": "wadoco"}, "table W, field Columns: DOCO and dcto both map to column wadoco"),
        ({"DOCO": "DCTO"}, "table W, field Columns: DCTO would then name two columns; map it too"),
        ({"DOCO": "WA DOCO"}, "table W, field Columns: column 'WA DOCO' is not a plain identifier"),
    ],
)
def test_columns_map_errors_name_file_table_and_field(tmp_path: Path, columns: dict, expected: str) -> None:
    entry = {**MINIMAL_TABLE, "TableName": "W", "FetcherTypeName": "JdeWorkOrderFetcher", "Columns": columns}
    path = tmp_path / "appsettings.json"
    path.write_text(json.dumps({"DataSync": {"DataSources": [entry]}}))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(path) in str(info.value)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_columns_map_aliases_match_any_case() -> None:
    entry = {**MINIMAL_TABLE, "TableName": "W", "FetcherTypeName": "JdeWorkOrderFetcher", "Columns": {"doco": "WADOCO"}}
    assert parse_config({"DataSources": [entry]}).table("W").columns == {"doco": "WADOCO"}
