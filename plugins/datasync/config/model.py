"""The ``DataSync`` section as typed models: the seed service's fields, defaults and checks.

PascalCase (the seed's names) and snake_case are both accepted; unknown keys are
rejected. Keys are matched case-insensitively before they reach the models
(datasync.config.layers), as .NET's configuration does. Reading files and
collecting every problem is datasync.config.loading.

The defaults are the seed's: a schedule is enabled unless it says
``Enabled: false`` (also when it is not written at all), so an enabled schedule
without a positive IntervalMinutes is an error here, never a schedule that is
silently off.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
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


#: .NET's TimeSpan.Parse forms: [-][d.]hh:mm[:ss[.fffffff]], or a whole number of days ("1" = 1 day)
_TIMESPAN = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?")


def parse_timespan(value: Any) -> timedelta:
    """Parse a .NET TimeSpan ("00:01:00", "1.00:00:00", "00:00:30.5", "2" days), seconds, or a timedelta.

    A number (YAML/JSON 60) is seconds; a string is read as .NET's TimeSpan.Parse reads it
    (hours 0-23, minutes and seconds 0-59, up to 7 fraction digits).
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a TimeSpan like '00:01:00'")
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    text = str(value).strip()
    if text.isdigit():
        return timedelta(days=int(text))
    m = _TIMESPAN.fullmatch(text)
    if not m:
        raise ValueError(f"{value!r} is not a TimeSpan like '00:01:00' (d.hh:mm:ss.fffffff)")
    sign, days, hours, minutes, seconds, frac = m.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise ValueError(f"{value!r} is not a TimeSpan: hours 0-23, minutes and seconds 0-59 (days go before a '.')")
    span = timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds or 0),
        microseconds=round(int((frac or "0").ljust(7, "0")) / 10),  # 7 digits: 100 ns ticks
    )
    return -span if sign else span


class ScheduleConfig(_Model):
    """One schedule (MassConfig, DailyConfig, HourlyConfig): on by default, as in the seed."""

    enabled: bool = True
    #: None: not written (an error while the schedule is enabled)
    interval_minutes: int | None = Field(None, validate_default=True)
    prepurge_data: bool = False
    re_index_data: bool = Field(False, validation_alias=AliasChoices("ReIndexData", "re_index_data", "reindex_data"))

    @field_validator("interval_minutes")
    @classmethod
    def _positive_when_enabled(cls, v: int | None, info: ValidationInfo) -> int | None:
        """An enabled schedule needs a positive interval (``enabled`` is validated first)."""
        if info.data.get("enabled") and (v is None or v <= 0):
            got = "missing" if v is None else f"got {v}"
            raise ValueError(
                f"must be positive on an enabled schedule, {got}; "
                "Enabled defaults to true: write Enabled: false to turn the schedule off"
            )
        return v

    @property
    def interval(self) -> timedelta:
        return timedelta(minutes=self.interval_minutes or 0)


_URI_PREFIX = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def _asset_namespace(v: str | None) -> str | None:
    """An AssetNamespace is a URI prefix: ``scheme://address[/path]`` (the table name is appended)."""
    if v is None:
        return None
    v = v.strip().rstrip("/")
    if not _URI_PREFIX.fullmatch(v):
        raise ValueError(f"{v!r} is not a URI prefix like mssql://sql01:1433/Cache/dbo")
    if v.lower().startswith("airflow://"):
        raise ValueError("the airflow:// scheme is Airflow's own; use the database's (mssql://, postgres://)")
    return v


class DeleteDetectionConfig(_Model):
    """Finding rows deleted in the source (off by default): a key-only scan, guarded.

    ``RunWith``: the sync type whose runs also detect deletes (after their merge, in the
    same transaction and ledger row). ``IntervalMinutes`` instead: detect with the first
    sync of the table (any type) once that long has passed since the last detection.
    ``MaxDeletePercent``: above this share of the table, nothing is deleted and the run
    fails (a source outage must never empty the cache); a manual run with
    ``allow_mass_delete`` lets one through.
    """

    enabled: bool = False
    run_with: Literal["Mass", "Daily", "Hourly"] | None = None
    interval_minutes: int | None = Field(None, gt=0)
    max_delete_percent: float = Field(5.0, ge=0, le=100)

    @field_validator("run_with", mode="before")
    @classmethod
    def _type_any_case(cls, v: Any) -> Any:
        if isinstance(v, str):
            for name in SYNC_TYPES:
                if v.strip().lower() == str(name).lower():
                    return str(name)
        return v

    @model_validator(mode="after")
    def _one_trigger(self) -> DeleteDetectionConfig:
        if self.enabled and (self.run_with is None) == (self.interval_minutes is None):
            raise ValueError(
                "an enabled DeleteDetection needs exactly one of RunWith (Mass, Daily or Hourly) "
                "or IntervalMinutes (its own interval)"
            )
        return self

    def due(self, sync_type: str, last_detection_age: timedelta | None) -> bool:
        """Whether a sync of ``sync_type`` also detects deletes (age: since the last detection, None: never)."""
        if not self.enabled:
            return False
        if self.run_with is not None:
            return str(sync_type) == self.run_with
        return last_detection_age is None or last_detection_age >= timedelta(minutes=self.interval_minutes or 0)


def _known_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}") from None
    return v


class SourceSystemConfig(_Model):
    """Where a source system lives: Airflow connection id, schema prefix, local time zone, worker queue.

    ``ReadUncommitted`` (SQL Server sources only, off by default) reads WITH (NOLOCK):
    the reads take no shared locks, so they never wait for JDE's writers nor block
    them, at the price of dirty reads (see docs/sources.md).
    """

    conn_id: str
    time_zone: str = "UTC"
    schema_name: str | None = Field(None, validation_alias=AliasChoices("Schema", "schema", "SchemaName", "schema_name"))
    read_uncommitted: bool = False
    #: the executor queue of this system's sync tasks (CeleryExecutor: only workers started with
    #: ``--queues`` naming it run them, e.g. those that have its ODBC driver or network route);
    #: None: Airflow's [operators] default_queue
    queue: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return _known_zone(v)

    @field_validator("schema_name")
    @classmethod
    def _plain_schema(cls, v: str | None) -> str | None:
        if v is not None and not is_plain_identifier(v):
            raise ValueError(f"{v!r} is not a plain identifier")
        return v

    @field_validator("queue")
    @classmethod
    def _queue_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,200}", v):
            raise ValueError(f"{v!r} is not a queue name (letters, digits and _ . : @ - only; one queue)")
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


SOURCE_SYSTEMS = ("JDE", "CMS")


def _schedule() -> Any:
    """A schedule field: when not written it is the seed's default schedule (enabled), validated like one."""
    return Field({}, validate_default=True)


class DataSourceConfig(_Model):
    table_name: str
    source_system: Literal["JDE", "CMS"] = "JDE"
    fetcher_type_name: str
    post_processor_type_name: str | None = None
    is_enabled: bool = True
    mass_config: ScheduleConfig = _schedule()
    daily_config: ScheduleConfig = _schedule()
    hourly_config: ScheduleConfig = _schedule()
    column_decimals: dict[str, int] = {}
    #: existing cache tables: fetcher alias -> the table's own column name (DDL, staging, MERGE, reads)
    columns: dict[str, str] = {}
    deadline_minutes: int | None = None
    alert_emails: list[str] = []
    delete_detection: DeleteDetectionConfig = DeleteDetectionConfig()
    #: the Airflow asset's name (downstream DAGs schedule on it); None: the TableName
    asset_name: str | None = None
    #: where the cache tables live, as a URI prefix (``mssql://sql01:1433/Cache/dbo``); None: the
    #: DataSync section's AssetNamespace, else read from the target connection (docs/assets.md)
    asset_namespace: str | None = None

    @field_validator("asset_namespace")
    @classmethod
    def _namespace(cls, v: str | None) -> str | None:
        return _asset_namespace(v)

    @field_validator("asset_name")
    @classmethod
    def _asset_name(cls, v: str | None) -> str | None:
        if v is not None and not v.strip():
            raise ValueError("must not be empty (leave it out to use the TableName)")
        return v.strip() if v is not None else None

    @field_validator("source_system", mode="before")
    @classmethod
    def _source_system_any_case(cls, v: Any) -> Any:
        """'jde', 'Jde' and 'JDE' name the same source system."""
        if isinstance(v, str):
            for name in SOURCE_SYSTEMS:
                if v.strip().upper() == name:
                    return name
        return v

    @field_validator("columns")
    @classmethod
    def _column_map(cls, v: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for alias, existing in v.items():
            for name in (alias, existing):
                if not is_plain_identifier(name):
                    raise ValueError(f"column {name!r} is not a plain identifier")
            other = seen.get(existing.lower())
            if other is not None:
                raise ValueError(f"{other} and {alias} both map to column {existing}")
            seen[existing.lower()] = alias
        return v

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
    #: the zone of the local times a .NET DataUpdate ledger holds (GETDATE()); None: the JDE source's zone
    ledger_time_zone: str | None = None
    alerts: AlertConfig = AlertConfig()
    #: the URI prefix of every cache table's Airflow asset (a table's AssetNamespace wins); None:
    #: read from the target connection when the DAGs are parsed
    asset_namespace: str | None = None
    data_sources: list[DataSourceConfig] = []

    @field_validator("asset_namespace")
    @classmethod
    def _namespace(cls, v: str | None) -> str | None:
        return _asset_namespace(v)

    @field_validator("check_interval", mode="before")
    @classmethod
    def _timespan(cls, v: Any) -> timedelta:
        return parse_timespan(v)

    @field_validator("ledger_time_zone")
    @classmethod
    def _ledger_zone(cls, v: str | None) -> str | None:
        return None if v is None else _known_zone(v)

    @field_validator("source_systems", mode="before")
    @classmethod
    def _source_system_names(cls, v: Any) -> Any:
        """SourceSystems keys in any case ('jde') name the seed's systems (JDE)."""
        if isinstance(v, dict):
            return {next((n for n in SOURCE_SYSTEMS if str(k).upper() == n), k): s for k, s in v.items()}
        return v

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
        if name in self.source_systems:
            return self.source_systems[name]
        for key, system in self.source_systems.items():
            if key.lower() == name.lower():
                return system
        raise KeyError(name)

    @property
    def ledger_zone(self) -> ZoneInfo:
        """The zone of the .NET ledger's local times: LedgerTimeZone, else the JDE source's."""
        return ZoneInfo(self.ledger_time_zone or self.source_system("JDE").time_zone)

    def enabled_tables(self) -> list[DataSourceConfig]:
        return [ds for ds in self.data_sources if ds.is_enabled]
