"""Telemetry settings of an Airflow worker: Airflow's own ``[metrics]`` and ``[traces]`` sections.

An operator calls ``configure_telemetry()`` before its sync: the engine then
exports over OTLP when the OTEL_* variables or ``[metrics]/[traces] otel_on``
say so, and over StatsD (tags kept) when ``[metrics] statsd_on`` is set, the
way the rest of the deployment is configured. ``flush_telemetry()`` exports
what is pending before the task process ends.
"""

from __future__ import annotations

import os

from datasync.engine import telemetry


def _airflow_setting(section: str, key: str) -> str | None:
    from airflow.configuration import conf

    value = conf.get(section, key, fallback=None)
    return None if value in (None, "") else str(value)


def configure_telemetry() -> None:
    telemetry.configure(telemetry.TelemetrySettings.from_lookup(_airflow_setting, os.environ))


def flush_telemetry() -> None:
    telemetry.flush()
