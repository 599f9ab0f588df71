"""What ``datasync check-config`` shows: every effective value and where it came from.

An operator switching from the .NET service needs to see what datasync read: the
value each setting ended up with, and whether the file, the environment
overlay, an environment variable or the seed's default gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from datasync.config.layers import DEFAULT, Layered, Origin, Path_, spellings_by_field_name
from datasync.config.model import DataSourceConfig, DataSyncConfig
from datasync.core.types import SYNC_TYPES


@dataclass(frozen=True)
class Setting:
    name: str  # 'MaxDegreeOfParallelism', 'MassConfig.IntervalMinutes', 'SourceSystems.JDE.TimeZone'
    value: str
    origin: Origin


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}" if value else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def format_timespan(span: timedelta) -> str:
    """A .NET TimeSpan's text: [d.]hh:mm:ss[.fffffff]."""
    seconds = int(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02}:{rest // 60:02}:{rest % 60:02}"
    if span.microseconds:
        text += f".{span.microseconds * 10:07}".rstrip("0")
    return f"{days}.{text}" if days else text


def _every(minutes: int | None) -> str:
    minutes = minutes or 0
    for unit, size in (("day", 1440), ("hour", 60)):
        if minutes % size == 0 and minutes >= size:
            n = minutes // size
            return f"every {n} {unit}{'s' if n != 1 else ''}"
    return f"every {minutes} min"


def schedule_summary(table: DataSourceConfig) -> list[str]:
    """One line per schedule: 'Mass: every 7 days (10080 min), PrepurgeData, ReIndexData' or 'Hourly: off'."""
    lines = []
    for sync_type in SYNC_TYPES:
        sched = table.schedule(sync_type)
        if not (table.is_enabled and sched.enabled):
            reason = "off (IsEnabled: false)" if not table.is_enabled else "off (Enabled: false)"
            lines.append(f"{sync_type}: {reason}")
            continue
        flags = [f for f, on in (("PrepurgeData", sched.prepurge_data), ("ReIndexData", sched.re_index_data)) if on]
        extra = ", " + ", ".join(flags) if sync_type == "Mass" and flags else ""
        lines.append(f"{sync_type}: {_every(sched.interval_minutes)} ({sched.interval_minutes} min){extra}")
    lines.append(delete_detection_summary(table))
    return lines


def delete_detection_summary(table: DataSourceConfig) -> str:
    """'DeleteDetection: with each Daily, at most 5% of the table' or 'DeleteDetection: off'."""
    dd = table.delete_detection
    if not dd.enabled:
        return "DeleteDetection: off"
    when = f"with each {dd.run_with}" if dd.run_with else f"{_every(dd.interval_minutes)} ({dd.interval_minutes} min)"
    return f"DeleteDetection: {when}, at most {dd.max_delete_percent:g}% of the table per run"


def _settings(
    model: BaseModel, path: Path_, layered: Layered, label: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> list[Setting]:
    """The leaves of ``model`` (at ``path`` in the section), named by their keys below ``label``."""
    spelled = spellings_by_field_name(type(model))
    out = []
    for name in type(model).model_fields:
        key = spelled[name]
        if key in skip:
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out += _settings(value, path + (key,), layered, label + (key,))
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
            for k, v in value.items():
                out += _settings(v, path + (key, k), layered, label + (key, k))
        else:
            origin = layered.origin(path + (key,)) or DEFAULT
            out.append(Setting(".".join(label + (key,)), format_value(value), origin))
    return out


def global_settings(config: DataSyncConfig, layered: Layered) -> list[Setting]:
    """Every setting outside DataSources; LedgerTimeZone shows the zone it falls back to."""
    out = []
    for s in _settings(config, (), layered, skip=("DataSources",)):
        if s.name == "LedgerTimeZone" and s.origin.kind == "default":
            s = Setting(s.name, f"{config.ledger_zone.key} (the JDE source's TimeZone)", s.origin)
        out.append(s)
    return out


def table_settings(config: DataSyncConfig, layered: Layered, index: int) -> list[Setting]:
    """Every setting of DataSources[index], named without the DataSources prefix."""
    return _settings(config.data_sources[index], ("DataSources", index), layered)
