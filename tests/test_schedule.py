"""Each rule of DESIGN §6 on its own: satisfied-by, due and slots, backoff, priority, MinimumDT."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from conftest import table_entry
from datasync.core.times import to_source_time
from datasync.engine.configuration import parse_config
from datasync.engine.schedule import (
    TableFacts,
    backoff,
    decide,
    due_at,
    due_syncs,
    is_due,
    minimum_dt,
    offset_fraction,
    priority_gate,
    retry_at,
    satisfied_at,
    slot_at_or_before,
)

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def cfg(**overrides):
    return parse_config({"LookbackMultiplier": 3, "DataSources": [table_entry("T", "JdeItemFetcher", **overrides)]})


def test_satisfied_by_the_same_type_or_a_higher_one():
    last = {"Mass": NOW - 3 * DAY, "Daily": NOW - 2 * HOUR, "Hourly": NOW - 5 * HOUR}
    assert satisfied_at("Mass", last) == NOW - 3 * DAY
    assert satisfied_at("Daily", last) == NOW - 2 * HOUR
    assert satisfied_at("Hourly", last) == NOW - 2 * HOUR  # the Daily is newer than the last Hourly
    assert satisfied_at("Hourly", {"Mass": NOW}) == NOW
    assert satisfied_at("Mass", {"Daily": NOW, "Hourly": NOW}) is None  # lower types never satisfy a Mass


def test_a_mass_makes_daily_and_hourly_current():
    t = cfg().table("T")
    after_mass = {"Mass": NOW - timedelta(minutes=5)}
    assert [s for s in t.enabled_types() if is_due(t, s, after_mass, NOW)] == []


def test_due_never_later_than_one_interval_nor_earlier_than_half():
    t = cfg().table("T")
    assert is_due(t, "Daily", {}, NOW)  # never synced: due now
    assert due_at(t, "Daily", {}) is None
    for minutes in range(0, 1440, 7):
        last = {"Daily": NOW - timedelta(minutes=minutes)}
        at = due_at(t, "Daily", last)
        assert last["Daily"] + DAY / 2 <= at <= last["Daily"] + DAY
    assert is_due(t, "Daily", {"Daily": NOW - DAY}, NOW)  # a whole interval: always due
    assert not is_due(t, "Daily", {"Daily": NOW - DAY / 2 + timedelta(seconds=1)}, NOW)
    disabled = cfg(HourlyConfig={"Enabled": False, "IntervalMinutes": 60}).table("T")
    assert not is_due(disabled, "Hourly", {}, NOW)


def test_a_type_settles_on_its_tables_slot():
    t = cfg().table("T")
    slot_fraction = offset_fraction("T")
    last = {"Daily": NOW}
    for _ in range(3):  # each run starts when due; from the second run on, on the slot
        last = {"Daily": due_at(t, "Daily", last)}
    start = last["Daily"]
    assert start == slot_at_or_before(start, DAY, slot_fraction)
    assert due_at(t, "Daily", last) == start + DAY  # and stays there


def test_offsets_are_stable_per_table_and_spread():
    assert offset_fraction("WorkOrder_Curr") == offset_fraction("workorder_curr") == offset_fraction("WorkOrder_Curr")
    fractions = [offset_fraction(f"Table_{i}") for i in range(200)]
    assert all(0 <= f < 1 for f in fractions)
    # 200 tables over 10 buckets of an interval: none empty, none holding more than twice its share
    buckets = [sum(1 for f in fractions if i / 10 <= f < (i + 1) / 10) for i in range(10)]
    assert min(buckets) > 0 and max(buckets) <= 40, buckets
    minutes = {int(f * 60) for f in fractions}
    assert len(minutes) > 40  # an hourly cadence starts on many different minutes


def test_backoff_doubles_from_check_interval_up_to_the_interval():
    minute = timedelta(minutes=1)
    assert [backoff(minute, HOUR, n) for n in range(1, 9)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)
    ]
    assert backoff(minute, HOUR, 0) == timedelta(0)
    assert backoff(minute, timedelta(seconds=20), 3) == minute  # never more often than CheckInterval
    assert backoff(minute, 7 * DAY, 100) == 7 * DAY  # capped, no overflow


def test_failed_type_waits_its_backoff_and_does_not_block_lower_types():
    c = cfg()
    t = c.table("T")
    facts = TableFacts(
        last_success={"Mass": NOW - 8 * DAY, "Daily": NOW - 2 * HOUR, "Hourly": NOW - 61 * timedelta(minutes=1)},
        failures={"Mass": [NOW - 30 * timedelta(minutes=1), NOW - timedelta(minutes=1)]},
    )
    assert retry_at(c, t, "Mass", facts) == NOW + timedelta(minutes=1)  # 2nd failure: 2 x CheckInterval
    d = decide(c, t, facts, NOW)
    assert d.sync_type == "Hourly", d.reason  # the failing Mass waits; Hourly keeps the table fresh
    assert "Mass failed 2x, retried at 2024-03-10 12:01:00 UTC" in d.reason
    assert decide(c, t, facts, NOW + timedelta(minutes=1)).sync_type == "Mass"  # its retry time
    # a Daily success does not reset the Mass's failures; only a Mass does
    facts.last_success["Mass"] = NOW
    assert retry_at(c, t, "Mass", facts) is None


def test_busy_table_runs_nothing_and_says_why():
    c = cfg()
    t = c.table("T")
    facts = TableFacts(last_success={"Mass": NOW - 8 * DAY}, running={"Daily": NOW - timedelta(minutes=3)})
    d = decide(c, t, facts, NOW)
    assert not d.run and d.busy
    assert d.reason == (
        "T: busy, Daily sync running since 2024-03-10 11:57:00 UTC; Mass, Hourly due, starts when it is done"
    )


def test_priority_gate():
    c = cfg()
    t = c.table("T")
    fresh = TableFacts(last_success={"Mass": NOW - HOUR, "Daily": NOW - HOUR, "Hourly": NOW - 2 * HOUR})
    assert priority_gate(c, t, "Hourly", fresh, NOW).run
    daily_due = TableFacts(last_success={"Mass": NOW - 3 * DAY, "Daily": NOW - 2 * DAY})
    gate = priority_gate(c, t, "Hourly", daily_due, NOW)
    assert not gate.run and gate.reason == "T: Daily sync is due; Hourly skipped"
    daily_due.failures["Daily"] = [NOW - timedelta(minutes=30), NOW - timedelta(minutes=20), NOW - timedelta(minutes=1)]
    assert priority_gate(c, t, "Hourly", daily_due, NOW).run  # a failing Daily waits, Hourly runs
    running = TableFacts(last_success=fresh.last_success, running={"Mass": NOW})
    gate = priority_gate(c, t, "Daily", running, NOW)
    assert not gate.run and "Mass sync is running" in gate.reason


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
        "Fresh": TableFacts(last_success={"Mass": recent, "Daily": recent, "Hourly": recent}),
        "Stale": TableFacts(last_success={"Mass": NOW - 3 * DAY, "Daily": NOW - 2 * HOUR, "Hourly": NOW - 2 * HOUR}),
    }
    assert [(t.table_name, s) for t, s in due_syncs(c, facts, NOW)] == [("New", "Mass"), ("Stale", "Hourly")]
    facts["Stale"].running = {"Hourly": recent}
    assert [(t.table_name, s) for t, s in due_syncs(c, facts, NOW)] == [("New", "Mass")]
