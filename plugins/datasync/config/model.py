"""The ``DataSync`` section as typed models: the seed service's fields, defaults and checks.

PascalCase (the seed's names) and snake_case are both accepted; unknown keys are
rejected. Reading files and collecting every problem is datasync.config.loading.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, AliasGenerator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_pascal

from datasync.core.errors import ConfigError
from datasync.core.identifiers import is_plain_identifier
from datasync.core.types import SYNC_TYPES, SyncType


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
    """Where a source system lives: Airflow connection id, schema prefix, local time zone.

    ``ReadUncommitted`` (SQL Server sources only, off by default) reads WITH (NOLOCK):
    the reads take no shared locks, so they never wait for JDE's writers nor block
    them, at the price of dirty reads (see docs/sources.md).
    """

    conn_id: str
    time_zone: str = "UTC"
    schema_name: str | None = Field(None, validation_alias=AliasChoices("Schema", "schema", "SchemaName", "schema_name"))
    read_uncommitted: bool = False

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
        by_type = {SyncType.MASS: self.mass_config, SyncType.DAILY: self.daily_config, SyncType.HOURLY: self.hourly_config}
        return by_type[SyncType(sync_type)]

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
