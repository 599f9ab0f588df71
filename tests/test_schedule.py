"""Schedule rules of the seed service: due, priority, MinimumDT with lookback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from conftest import table_entry
from datasync.engine.configuration import parse_config
from datasync.core.times import to_source_time
from datasync.engine.schedule import due_syncs, is_due, minimum_dt, priority_gate

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)


def cfg(**overrides):
    return parse_config({"LookbackMultiplier": 3, "DataSources": [table_entry("T", "JdeItemFetcher", **overrides)]})


def test_due_rules():
    t = cfg().table("T")
    assert is_due(t, "Daily", {}, NOW)  # never synced
    assert not is_due(t, "Daily", {"Daily": NOW - timedelta(minutes=1439)}, NOW)
    assert is_due(t, "Daily", {"Daily": NOW - timedelta(minutes=1440)}, NOW)  # exactly the interval
    disabled = cfg(HourlyConfig={"Enabled": False, "IntervalMinutes": 60}).table("T")
    assert not is_due(disabled, "Hourly", {}, NOW)


def test_priority_gate():
    t = cfg().table("T")
    fresh = {"Mass": NOW - timedelta(hours=1), "Daily": NOW - timedelta(hours=1)}
    assert priority_gate(t, "Hourly", fresh, set(), NOW).run
    daily_due = {"Mass": NOW - timedelta(hours=1), "Daily": NOW - timedelta(days=2)}
    gate = priority_gate(t, "Hourly", daily_due, set(), NOW)
    assert not gate.run and gate.reason == "T: Daily sync is due; Hourly skipped"
    gate = priority_gate(t, "Daily", fresh, {"Mass"}, NOW)
    assert not gate.run and "Mass sync is running" in gate.reason
    assert priority_gate(t, "Mass", {}, {"Daily"}, NOW).run  # Mass never skips


def test_minimum_dt_is_last_daily_or_mass_minus_lookback():
    c = cfg()
    t = c.table("T")
    assert minimum_dt(c, t, "Daily", {}) is None  # none yet: full fetch
    assert minimum_dt(c, t, "Hourly", {"Hourly": NOW}) is None  # hourly successes do not anchor
    last = {"Mass": NOW - timedelta(days=5), "Daily": NOW - timedelta(hours=2)}
    assert minimum_dt(c, t, "Hourly", last) == NOW - timedelta(hours=2) - timedelta(minutes=3 * 1440)
    assert minimum_dt(c, t, "Daily", {"Mass": NOW}) == NOW - timedelta(days=3)
    assert minimum_dt(c, t, "Mass", last) is None


def test_source_time_zone_conversion():
    chicago = ZoneInfo("America/Chicago")
    assert to_source_time(datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc), chicago) == datetime(2024, 7, 1, 7, 0)
    assert to_source_time(datetime(2024, 1, 1, 12, 0, tzinfo=timezone.utc), chicago) == datetime(2024, 1, 1, 6, 0)
    assert to_source_time(None, chicago) is None


def test_due_syncs_by_priority_one_per_table():
    c = parse_config(
        {
            "DataSources": [
                table_entry("Fresh", "JdeItemFetcher"),
                table_entry("New", "JdeItemFetcher"),
                table_entry("Stale", "JdeItemFetcher"),
            ]
        }
    )
    recent = NOW - timedelta(minutes=5)
    facts = {
        "Fresh": ({"Mass": recent, "Daily": recent, "Hourly": recent}, set()),
        "Stale": ({"Mass": recent, "Daily": recent, "Hourly": NOW - timedelta(hours=2)}, set()),
    }
    assert [(t.table_name, s) for t, s in due_syncs(c, facts, NOW)] == [("New", "Mass"), ("Stale", "Hourly")]
    facts["Stale"] = ({"Mass": recent, "Daily": recent, "Hourly": NOW - timedelta(hours=2)}, {"Hourly"})
    assert [(t.table_name, s) for t, s in due_syncs(c, facts, NOW)] == [("New", "Mass")]
