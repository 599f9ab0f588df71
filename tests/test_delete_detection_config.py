"""DeleteDetection in the table config: off by default, one trigger, the guard's bound, check-config's line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import table_entry
from datasync.config.explain import delete_detection_summary
from datasync.core.errors import ConfigError
from datasync.engine.configuration import parse_config


def table(**detection):
    raw = {"DataSources": [table_entry("T", "JdeWorkOrderFetcher", **({"DeleteDetection": detection} if detection else {}))]}
    return parse_config(raw).data_sources[0]


def test_off_by_default():
    t = table()
    assert not t.delete_detection.enabled and not t.delete_detection.due("Daily", None)
    assert delete_detection_summary(t) == "DeleteDetection: off"


def test_with_a_sync_type_or_its_own_interval():
    daily = table(Enabled=True, RunWith="daily", MaxDeletePercent=2.5)
    assert daily.delete_detection.due("Daily", None) and not daily.delete_detection.due("Hourly", None)
    assert delete_detection_summary(daily) == "DeleteDetection: with each Daily, at most 2.5% of the table per run"
    own = table(Enabled=True, IntervalMinutes=360)
    assert own.delete_detection.due("Hourly", None)  # never detected yet
    assert not own.delete_detection.due("Hourly", timedelta(hours=5))
    assert own.delete_detection.due("Daily", timedelta(hours=6))
    assert delete_detection_summary(own) == "DeleteDetection: every 6 hours (360 min), at most 5% of the table per run"


@pytest.mark.parametrize(
    "detection, needle",
    [
        ({"Enabled": True}, "exactly one of RunWith"),
        ({"Enabled": True, "RunWith": "Daily", "IntervalMinutes": 60}, "exactly one of RunWith"),
        ({"Enabled": True, "RunWith": "Weekly"}, "RunWith"),
        ({"Enabled": True, "RunWith": "Daily", "MaxDeletePercent": 150}, "MaxDeletePercent"),
    ],
)
def test_bad_settings_name_the_field(detection, needle):
    with pytest.raises((ConfigError, ValueError), match=needle):
        table(**detection)
