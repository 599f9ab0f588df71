"""The ``DataSync`` configuration: the seed service's section, typed and validated.

An appsettings.json with a ``DataSync`` section works unchanged; YAML works too;
PascalCase (the seed's names) and snake_case are both accepted. ``load_config``
collects every problem with file, table and field before raising ConfigError,
so an operator fixes a config in one pass.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_pascal, to_snake

from datasync.core.errors import ConfigError
from datasync.core.identifiers import is_plain_identifier

SyncType = Literal["Mass", "Daily", "Hourly"]
SYNC_TYPES: tuple[SyncType, ...] = ("Mass", "Daily", "Hourly")
DEFAULT_CONFIG_PATH = "include/datasync.yaml"


def _aliases(name: str) -> AliasChoices:
    return AliasChoices(to_pascal(name), name)


class _Model(BaseModel):
    """Accepts the seed's PascalCase names and snake_case; rejects unknown keys."""

    model_config = ConfigDict(
        alias_generator=AliasGenerator(validation_alias=_aliases, serialization_alias=to_pascal),
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def parse_timespan(value: Any) -> timedelta:
    """Parse a .NET TimeSpan ("00:01:00", "1.02:00:00"), seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    m = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?", str(value).strip())
    if not m:
        raise ValueError(f"{value!r} is not a TimeSpan like '00:01:00'")
    days, hours, minutes, seconds, frac = m.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds) + float(f"0.{frac}" if frac else 0),
    )


class ScheduleConfig(_Model):
    enabled: bool = False
    interval_minutes: int = 0
    prepurge_data: bool = False
    re_index_data: bool = Field(False, validation_alias=AliasChoices("ReIndexData", "re_index_data", "reindex_data"))

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_minutes)


class SourceSystemConfig(_Model):
    """Where a source system lives: Airflow connection id, schema prefix, local time zone."""

    conn_id: str
    time_zone: str = "UTC"
    schema_name: str | None = Field(None, validation_alias=AliasChoices("Schema", "schema", "SchemaName", "schema_name"))

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("schema_name")
    @classmethod
    def _plain_schema(cls, v: str | None) -> str | None:
        if v is not None and not is_plain_identifier(v):
            raise ValueError(f"{v!r} is not a plain identifier")
        return v

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class AlertConfig(_Model):
    emails: list[str] = []
    smtp_conn_id: str = "smtp_default"
    from_email: str = "datasync@localhost"
    deadline_minutes: int | None = None  # default: derived from each schedule's interval
    email_on_failure: bool = True


class DataSourceConfig(_Model):
    table_name: str
    source_system: Literal["JDE", "CMS"] = "JDE"
    fetcher_type_name: str
    post_processor_type_name: str | None = None
    is_enabled: bool = True
    mass_config: ScheduleConfig = ScheduleConfig()
    daily_config: ScheduleConfig = ScheduleConfig()
    hourly_config: ScheduleConfig = ScheduleConfig()
    column_decimals: dict[str, int] = {}
    deadline_minutes: int | None = None
    alert_emails: list[str] = []

    @field_validator("table_name")
    @classmethod
    def _plain_table(cls, v: str) -> str:
        if not is_plain_identifier(v):
            raise ValueError(f"{v!r} is not a plain identifier (letters, digits and _ only)")
        return v

    @field_validator("column_decimals")
    @classmethod
    def _decimals(cls, v: dict[str, int]) -> dict[str, int]:
        for column, places in v.items():
            if not is_plain_identifier(column):
                raise ValueError(f"column {column!r} is not a plain identifier")
            if not 0 <= places <= 18:
                raise ValueError(f"column {column}: {places} decimals is outside 0..18")
        return v

    @model_validator(mode="after")
    def _positive_intervals(self) -> DataSourceConfig:
        for sync_type in SYNC_TYPES:
            sched = self.schedule(sync_type)
            if sched.enabled and sched.interval_minutes <= 0:
                raise ValueError(
                    f"{sync_type}Config.IntervalMinutes must be positive on an enabled schedule, "
                    f"got {sched.interval_minutes}"
                )
        return self

    def schedule(self, sync_type: str) -> ScheduleConfig:
        return {"Mass": self.mass_config, "Daily": self.daily_config, "Hourly": self.hourly_config}[sync_type]

    def enabled_types(self) -> list[SyncType]:
        return [t for t in SYNC_TYPES if self.is_enabled and self.schedule(t).enabled]


def _default_source_systems() -> dict[str, SourceSystemConfig]:
    return {
        "JDE": SourceSystemConfig(conn_id="datasync_jde"),
        "CMS": SourceSystemConfig(conn_id="datasync_cms"),
    }


class DataSyncConfig(_Model):
    check_interval: timedelta = timedelta(minutes=1)
    max_degree_of_parallelism: int = Field(8, ge=1)
    batch_size: int = Field(1_000_000, ge=1)
    bulk_copy_batch_size: int = Field(10_000, ge=1)
    lookback_multiplier: float = Field(3, ge=0)
    purge_retention_days: int = Field(30, ge=1)
    lock_timeout_seconds: float = Field(0, ge=0)
    target_conn_id: str = "datasync_target"
    #: the target's dialect when known ahead (DAG parsing cannot look the connection up):
    #: mssql makes every sync task a MssqlMergeOperator; None picks the dialect from the
    #: connection's type when the task runs
    target_type: Literal["mssql", "postgres", "sqlite"] | None = None
    #: the target's dialect when known ahead (DAG parsing cannot look the connection up):
    #: mssql makes every sync task a MssqlMergeOperator; None picks the dialect from the
    #: connection's type when the task runs
    target_type: Literal["mssql", "postgres", "sqlite"] | None = None
    pool_name: str = "datasync"
    source_systems: dict[str, SourceSystemConfig] = Field(default_factory=_default_source_systems)
    alerts: AlertConfig = AlertConfig()
    data_sources: list[DataSourceConfig] = []

    @field_validator("check_interval", mode="before")
    @classmethod
    def _timespan(cls, v: Any) -> timedelta:
        return parse_timespan(v)

    @model_validator(mode="after")
    def _unique_tables(self) -> DataSyncConfig:
        seen: set[str] = set()
        for ds in self.data_sources:
            key = ds.table_name.lower()
            if key in seen:
                raise ValueError(f"DataSources: duplicate TableName {ds.table_name!r}")
            seen.add(key)
        for name in ("JDE", "CMS"):
            if name not in self.source_systems:
                self.source_systems[name] = _default_source_systems()[name]
        return self

    def table(self, name: str) -> DataSourceConfig:
        for ds in self.data_sources:
            if ds.table_name.lower() == name.lower():
                return ds
        known = ", ".join(ds.table_name for ds in self.data_sources) or "(none)"
        raise ConfigError([f"unknown table {name!r}; configured tables: {known}"])

    def source_system(self, name: str) -> SourceSystemConfig:
        return self.source_systems[name]

    def enabled_tables(self) -> list[DataSourceConfig]:
        return [ds for ds in self.data_sources if ds.is_enabled]


# --------------------------------------------------------------------------- loading


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster, same safe subset


def read_section(path: str | Path) -> dict[str, Any]:
    """Read the ``DataSync`` section of a JSON or YAML file (the whole file if it has none)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError([f"cannot read config: {exc.strerror or exc}"], str(p)) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError([f"malformed {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {exc}"], str(p)) from None
    if not isinstance(data, dict):
        raise ConfigError(["top level must be a mapping with a DataSync section"], str(p))
    section = data.get("DataSync", data.get("data_sync", data))
    if not isinstance(section, dict):
        raise ConfigError(["DataSync section must be a mapping"], str(p))
    return section


def _location(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic error location into 'table WorkOrder_Curr, field MassConfig.IntervalMinutes'."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] in ("DataSources", "data_sources") and isinstance(parts[1], int):
        entries = raw.get("DataSources", raw.get("data_sources")) or []
        entry = entries[parts[1]] if parts[1] < len(entries) else {}
        name = entry.get("TableName", entry.get("table_name")) if isinstance(entry, dict) else None
        table = f"table {name}" if name else f"DataSources[{parts[1]}]"
        field = ".".join(str(p) for p in parts[2:])
        return f"{table}, field {field}" if field else table
    return "field " + ".".join(str(p) for p in parts) if parts else "DataSync"


def config_problems(raw: dict[str, Any]) -> list[str]:
    """Every problem in a raw section, each naming table and field; empty if valid."""
    problems: list[str] = []
    try:
        DataSyncConfig.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_location(tuple(err['loc']), raw)}: {msg}")
    # checks on the raw entries, so that one bad field does not hide the others
    for problem in _duplicate_problems(raw) + _fetcher_problems(raw) + _post_processor_problems(raw):
        if problem not in problems:
            problems.append(problem)
    return problems


def _entries(raw: dict[str, Any]) -> list[dict[str, Any]]:
    entries = raw.get("DataSources", raw.get("data_sources")) or []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _duplicate_problems(raw: dict[str, Any]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for entry in _entries(raw):
        name = entry.get("TableName", entry.get("table_name"))
        if isinstance(name, str):
            if name.lower() in seen:
                problems.append(f"DataSync: DataSources: duplicate TableName {name!r}")
            seen.add(name.lower())
    return problems


def _registry_problems(raw: dict[str, Any], field: str, what: str, known: list[str]) -> list[str]:
    """Entries whose ``field`` (PascalCase) names nothing registered in ``known``."""
    problems = []
    for entry in _entries(raw):
        name = entry.get(field, entry.get(to_snake(field)))
        if isinstance(name, str) and name not in known:
            table = entry.get("TableName", entry.get("table_name"))
            problems.append(
                f"table {table}, field {field}: unknown {what} {name!r}; known: {', '.join(known) or '(none registered)'}"
            )
    return problems


def _fetcher_problems(raw: dict[str, Any]) -> list[str]:
    from datasync.fetchers.registry import known_fetchers

    return _registry_problems(raw, "FetcherTypeName", "fetcher", known_fetchers())


def _post_processor_problems(raw: dict[str, Any]) -> list[str]:
    from datasync.postprocessors import known_post_processors

    return _registry_problems(raw, "PostProcessorTypeName", "post-processor", known_post_processors())


def parse_config(raw: dict[str, Any], path: str | None = None) -> DataSyncConfig:
    problems = config_problems(raw)
    if problems:
        raise ConfigError(problems, path)
    return DataSyncConfig.model_validate(raw)


def load_config(path: str | Path | None = None) -> DataSyncConfig:
    """Load and validate; ``path`` defaults to $DATASYNC_CONFIG, then include/datasync.yaml."""
    import os

    resolved = Path(path or os.environ.get("DATASYNC_CONFIG") or DEFAULT_CONFIG_PATH)
    return parse_config(read_section(resolved), str(resolved))


__all__ = [
    "SYNC_TYPES",
    "DataSourceConfig",
    "DataSyncConfig",
    "ScheduleConfig",
    "SyncType",
    "load_config",
    "parse_config",
    "to_snake",
]
