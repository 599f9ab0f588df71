"""Every datasync DAG, built from the config.

Per enabled table and enabled schedule a DAG ``datasync__{table}__{mass|daily|hourly}``:

- schedule: none of their own: ``datasync__dispatcher`` triggers a run when the
  schedule (DESIGN §6, datasync.engine.schedule) says the type is due; the
  timetable (DispatchedTimetable) only gives backfills their IntervalMinutes
  intervals. Catchup off, one active run at a time, unpaused when created;
- tasks: Daily and Hourly start with the gate (skipped, reason in the log: a
  dispatched run whose table became busy or current meanwhile; a manual run
  without parameters while a higher type is due or running; manual runs with a
  parameter and backfills pass), then the sync task in the pool
  ``PoolName`` (slots = MaxDegreeOfParallelism), on the source system's
  ``Queue`` when one is set (CeleryExecutor: only workers serving that queue
  take it). A sync that finds its table's lock held is skipped, not failed.
  Mass has only the sync task;
- params (Daily, Hourly): ``full_refresh`` and ``minimum_dt`` in the trigger form; with
  DeleteDetection also ``allow_mass_delete`` (every type);
- alerts: a Deadline Alert and failure e-mails when recipients are configured;
- asset: a ``publish`` task after the sync (after ``post_process`` when the table has
  a post-processor, so a failed one emits nothing), whose outlet is the cache table's
  asset (datasync.airflow.assets): an event after a Mass or a sync that changed rows.

Plus ``datasync__dispatcher`` (one run at a time, about an hour, looping every CheckInterval;
``[datasync] dispatcher_queue`` puts its task on a queue of its own),
``datasync__recovery`` (every CheckInterval; also right after a deploy),
``datasync__purge`` (daily), ``datasync__health`` (every CheckInterval, at
least every 15 minutes) and ``datasync__verify`` (weekly: cache = source).

Bad entries: each table is validated and built on its own. A bad entry is left
out, the others' DAGs load, and ``config_problems_for_dags`` names the file,
table and field of every problem (dags/datasync_config_check.py raises it as an
Airflow import error: an import error on the file that holds the DAGs would
make Airflow mark all of them stale). DATASYNC_STRICT_CONFIG=1 fails the whole
DAG file on any problem (CI).

Parsing opens no database or network connection; a task's process builds only
its own DAG (Airflow's parsing context).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from datasync.config import DEFAULT_CONFIG_PATH, DataSourceConfig, DataSyncConfig, SourceSystemConfig, read_layers
from datasync.engine.configuration import config_problems, parse_config
from datasync.core.errors import ConfigError

log = logging.getLogger(__name__)

DAG_PREFIX = "datasync"
START_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
HEALTH_MIN_INTERVAL = timedelta(minutes=15)
RECOVERY_MIN_INTERVAL = timedelta(hours=1)  # not 1,440 runs a day in the history (it also runs after a deploy)
PURGE_INTERVAL = timedelta(days=1)
STRICT_ENV = "DATASYNC_STRICT_CONFIG"
CONFIG_ENV = "DATASYNC_CONFIG"
OWNER = "datasync"


class ConfigProblemWarning(UserWarning):
    """A config entry was left out of the DAGs; the message names file, table and field."""


def sync_dag_id(table: str, sync_type: str) -> str:
    return f"{DAG_PREFIX}__{table}__{sync_type.lower()}"


DISPATCHER_DAG_ID = f"{DAG_PREFIX}__dispatcher"
RECOVERY_DAG_ID = f"{DAG_PREFIX}__recovery"
PURGE_DAG_ID = f"{DAG_PREFIX}__purge"
HEALTH_DAG_ID = f"{DAG_PREFIX}__health"
VERIFY_DAG_ID = f"{DAG_PREFIX}__verify"
VERIFY_CRON = "0 3 * * 0"  # weekly at a quiet time, not at boot while every table's first Mass runs
VERIFY_WHEN = "weekly, Sundays 03:00 UTC"


def is_strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def resolve_config_path(dag_file: str | Path | None = None) -> Path:
    """$DATASYNC_CONFIG, else include/datasync.yaml of the repo holding ``dag_file`` (dags/<file>).

    A relative $DATASYNC_CONFIG is taken from the working directory when it exists
    there, else from the repo root (the scheduler's working directory is arbitrary).
    """
    root = Path(dag_file).resolve().parents[1] if dag_file else Path.cwd()
    value = os.environ.get(CONFIG_ENV, "").strip()
    if not value:
        return root / DEFAULT_CONFIG_PATH
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    return root / path


# --------------------------------------------------------------------------- tolerant loading


@dataclass
class LoadedConfig:
    """The config reduced to its valid entries, and what was left out and why."""

    config: DataSyncConfig
    path: str
    problems: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _entries_key(raw: dict[str, Any]) -> str | None:
    for key in ("DataSources", "data_sources"):
        if key in raw:
            return key
    return None


def _table_label(entry: Any, index: int) -> str:
    name = entry.get("TableName", entry.get("table_name")) if isinstance(entry, dict) else None
    return str(name) if isinstance(name, str) and name else f"DataSources[{index}]"


def load_tolerant(path: str | Path) -> LoadedConfig:
    """Validate the config entry by entry: good entries are kept, bad ones reported.

    Raises ConfigError when the file cannot be read or a setting outside
    DataSources is wrong (then no DAG can be built correctly).
    """
    path = str(path)
    layered = read_layers(path)  # the file, its environment overlay and DataSync__ variables
    raw = layered.raw
    problems = config_problems(layered, path)
    if not problems:
        return LoadedConfig(DataSyncConfig.model_validate(raw), path)
    key = _entries_key(raw)
    entries = raw.get(key) if key else []
    base = {k: v for k, v in raw.items() if k != key}
    if not isinstance(entries, list) or config_problems(base):
        raise ConfigError(problems, path)
    counts: dict[str, int] = {}
    for entry in entries:
        name = entry.get("TableName", entry.get("table_name")) if isinstance(entry, dict) else None
        if isinstance(name, str):
            counts[name.lower()] = counts.get(name.lower(), 0) + 1
    good, rejected = [], []
    for index, entry in enumerate(entries):
        label = _table_label(entry, index)
        duplicate = counts.get(label.lower(), 0) > 1
        bad = duplicate or not isinstance(entry, dict) or bool(config_problems({**base, "DataSources": [entry]}))
        (rejected if bad else good).append(label if bad else entry)
    if not rejected:  # a problem no single entry explains: do not guess
        raise ConfigError(problems, path)
    return LoadedConfig(parse_config({**base, "DataSources": good}, path), path, problems, rejected)


def load_for_dags(path: str | Path, strict: bool | None = None) -> LoadedConfig:
    """Strict: any problem raises ConfigError. Else tolerant (see ``load_tolerant``)."""
    if strict if strict is not None else is_strict():
        return LoadedConfig(parse_config(read_layers(path), str(path)), str(path))
    return load_tolerant(path)


# --------------------------------------------------------------------------- per-table facts


@dataclass(frozen=True)
class TableFacts:
    """What a sync DAG's documentation shows about its table."""

    key: tuple[str, ...]
    columns: int
    last_update_column: str


def table_facts(config: DataSyncConfig, table: DataSourceConfig, classes: dict[str, type] | None = None) -> TableFacts:
    """From the fetcher's declared target schema (no connection is opened).

    ``classes`` caches fetcher classes by name across the tables of one build.
    """
    from datasync.fetchers.registry import fetcher_class

    classes = {} if classes is None else classes
    cls = classes.get(table.fetcher_type_name)
    if cls is None:
        cls = classes[table.fetcher_type_name] = fetcher_class(table.fetcher_type_name)
    schema = cls(table, config.source_system(table.source_system), None, config.batch_size).schema()
    return TableFacts(tuple(schema.primary_key), len(schema.columns), schema.last_update_column)


def _every(minutes: float) -> str:
    if minutes % 10080 == 0:
        n, unit = minutes // 10080, "week"
    elif minutes % 1440 == 0:
        n, unit = minutes // 1440, "day"
    elif minutes % 60 == 0:
        n, unit = minutes // 60, "hour"
    else:
        n, unit = minutes, "minute"
    return f"every {int(n)} {unit}{'s' if n != 1 else ''}"


def source_reader_doc(source: SourceSystemConfig) -> str:
    """Which reader the source's connection gets, read from its AIRFLOW_CONN_* variable.

    Parsing looks at no metadata DB or secrets backend: a connection defined only there
    is named by type when its task runs.
    """
    from datasync.connections import SOURCES, from_environment

    try:
        info = from_environment(source.conn_id)
    except ConfigError as exc:
        return f"unknown: the connection's definition cannot be read ({'; '.join(exc.problems)})"
    if info is None:
        return f"picked by the connection's type when the task runs ({', '.join(sorted(SOURCES))})"
    kind = SOURCES.get(info.conn_type)
    if kind is None:
        return f"none: type {info.conn_type!r} is not a supported source ({', '.join(sorted(SOURCES))})"
    nolock = ", WITH (NOLOCK)" if source.read_uncommitted else ""
    return f"{kind.description} for the {info.conn_type} connection{nolock}"


def sync_doc_md(config: DataSyncConfig, table: DataSourceConfig, sync_type: str, facts: TableFacts, operator: str) -> str:
    from datasync.airflow import alerts

    sched = table.schedule(sync_type)
    source = config.source_system(table.source_system)
    to = alerts.recipients(config, table)
    others = [t for t in table.enabled_types() if t != sync_type]
    lines = [
        f"### {table.table_name}: {sync_type} sync",
        "",
        "| | |",
        "|---|---|",
        f"| target table | `{table.table_name}` on connection `{config.target_conn_id}` ({operator}) |",
        f"| source | {table.source_system} on connection `{source.conn_id}`"
        f"{f', schema `{source.schema_name}`' if source.schema_name else ''}, time zone {source.time_zone} |",
        f"| source reader | {source_reader_doc(source)} |",
        f"| fetcher | `{table.fetcher_type_name}` ({facts.columns} columns) |",
        f"| key | {', '.join(f'`{k}`' for k in facts.key)} |",
        f"| change column | `{facts.last_update_column}` |",
        f"| schedule | {_every(sched.interval_minutes)} ({sched.interval_minutes} min), started by "
        f"`{DISPATCHER_DAG_ID}` when due; other schedules: "
        f"{', '.join(others) or 'none'} |",
        f"| pool | `{config.pool_name}` ({config.max_degree_of_parallelism} slots) |",
        f"| queue | {f'`{source.queue}`' if source.queue else 'the default queue'} |",
    ]
    if sync_type == "Mass":
        lines.append(
            f"| mass | full fetch; PrepurgeData {sched.prepurge_data} (empty and reload in one transaction), "
            f"ReIndexData {sched.re_index_data} |"
        )
    else:
        lines.append(
            f"| window | rows changed since the last Daily/Mass start minus {config.lookback_multiplier:g} x "
            f"{table.daily_config.interval_minutes or sched.interval_minutes} min |"
        )
    if to:
        lines.append(
            f"| alerts | deadline {alerts.deadline_minutes(config, table, sync_type)} min after queued; "
            f"to {', '.join(to)} |"
        )
    if table.post_processor_type_name:
        lines.append(f"| post-processor | `{table.post_processor_type_name}` |")
    if sync_type != "Mass":
        lines += [
            "",
            "**Trigger with config**: `full_refresh: true` fetches everything; `minimum_dt` "
            "(ISO date-time, UTC unless it has an offset) syncs rows changed since then. Both pass the "
            "priority gate. A backfill syncs from each run's data interval start.",
        ]
    else:
        lines += ["", "A Mass never yields to another schedule; it always fetches the whole table."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- DAG builders


#: JSON Schema dialect of the trigger forms' params. Airflow checks every param's schema against its
#: dialect's meta-schema for every DAG it parses; draft 7's is 3x cheaper to check than 2020-12's
#: (the default), 0.5 s of parsing 600 DAGs. The forms use only keywords both dialects share.
PARAM_DIALECT = {"$schema": "http://json-schema.org/draft-07/schema#"}


def form_param(default: Any, **schema: Any) -> Any:
    """An ``airflow.sdk.Param`` of the trigger form, in PARAM_DIALECT."""
    from airflow.sdk import Param

    return Param(default, **PARAM_DIALECT, **schema)


def sync_params(sync_type: str, detects_deletes: bool = False) -> dict[str, Any]:
    """The trigger form of a sync DAG; ``detects_deletes``: the table's DeleteDetection is on."""
    guard = {
        "allow_mass_delete": form_param(
            False,
            type="boolean",
            title="Allow mass delete",
            description="This run only: delete detection may delete more than MaxDeletePercent of the table "
            "(or all of it, when the source is empty). Use only when the source really lost those rows.",
        ),
    } if detects_deletes else {}
    if sync_type == "Mass":
        return guard
    return {
        **guard,
        "full_refresh": form_param(
            False,
            type="boolean",
            title="Full refresh",
            description="Fetch every row of the source table (and merge), ignoring the schedule's window.",
        ),
        "minimum_dt": form_param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Minimum DT",
            description="Sync rows changed at or after this moment (UTC unless it has an offset). "
            "Empty: the schedule's window.",
        ),
    }


def operator_class(config: DataSyncConfig) -> type:
    from datasync.airflow.operators import DataSyncOperator, MssqlMergeOperator

    return MssqlMergeOperator if config.target_type == "mssql" else DataSyncOperator


def build_sync_dag(
    config: DataSyncConfig, table: DataSourceConfig, sync_type: str, facts: TableFacts | None = None
) -> Any:
    from airflow.sdk import DAG

    from datasync.airflow import alerts
    from datasync.airflow.operators import PostProcessOperator, PriorityGateOperator
    from datasync.airflow.timetables import DispatchedTimetable

    dag_id = sync_dag_id(table.table_name, sync_type)
    facts = facts or table_facts(config, table)
    op_cls = operator_class(config)
    interval = table.schedule(sync_type).interval
    what = f"{table.table_name} {sync_type} sync"
    on_failure = alerts.once_per_failing_streak(alerts.failure_callback(config, table, what))
    dag = DAG(
        dag_id=dag_id,
        description=(
            f"{sync_type} sync of {table.table_name} from {table.source_system} ({table.fetcher_type_name}), "
            f"{_every(table.schedule(sync_type).interval_minutes)}"
        ),
        # no scheduled runs: datasync__dispatcher triggers them when due; backfills get [start, end) intervals
        schedule=DispatchedTimetable(interval),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=[DAG_PREFIX, sync_type.lower(), table.table_name, table.source_system],
        doc_md=sync_doc_md(config, table, sync_type, facts, op_cls.__name__),
        params=sync_params(sync_type, table.delete_detection.enabled),
        deadline=alerts.deadline_alert(config, table, sync_type, dag_id),
        default_args={"owner": OWNER},
    )
    queue = config.source_system(table.source_system).queue
    with dag:
        sync = op_cls(
            task_id="sync",
            config=config,
            table=table.table_name,
            sync_type=sync_type,
            on_failure_callback=on_failure,
            # only workers serving the source system's queue (its driver, its network route) run it
            **({"queue": queue} if queue else {}),
            doc_md=f"{what}: fetch, stage, guarded merge, ledger row in DataUpdate. XCom: rows, inserted, "
            "updated, minimum_dt.",
        )
        last = sync  # what publish waits for: downstream DAGs see post-processed data
        if table.post_processor_type_name:
            last = sync >> PostProcessOperator(
                task_id="post_process",
                config=config,
                table=table.table_name,
                sync_type=sync_type,
                on_failure_callback=on_failure,
                doc_md=f"{table.post_processor_type_name} after the committed sync (own retries and log).",
            )
        if sync_type != "Mass":
            gate = PriorityGateOperator(
                task_id="priority_gate",
                config=config,
                table=table.table_name,
                sync_type=sync_type,
                on_failure_callback=on_failure,
                doc_md=f"Skips this {sync_type} run while a higher sync type of {table.table_name} is due or running.",
            )
            gate >> sync
        last >> publish_task(config, table)  # a failed post-processor emits no event
    return dag


def publish_task(config: DataSyncConfig, table: DataSourceConfig) -> Any:
    """The task that announces a committed sync with changes as an event of the table's asset."""
    from datasync.airflow.assets import PUBLISH_TASK_ID, PublishCacheTableOperator, cache_table_asset

    asset = cache_table_asset(config, table)
    return PublishCacheTableOperator(
        task_id=PUBLISH_TASK_ID,
        table=table.table_name,
        asset=asset,
        doc_md=f"Emits an event of asset `{asset.name}` ({asset.uri}) after a Mass or a sync that changed rows "
        "(extra: sync_type, rows, inserted, updated, deleted, operation_id, minimum_dt); skipped otherwise.",
    )


def _housekeeping_dag(
    dag_id: str,
    schedule: timedelta | Any,
    description: str,
    doc_md: str,
    params: dict[str, Any] | None = None,
    when: str | None = None,
) -> Any:
    """A housekeeping DAG: every ``schedule`` (a timedelta, first run at once) or a timetable; ``when`` describes it."""
    from airflow.sdk import DAG, DeltaDataIntervalTimetable

    start = START_DATE
    if isinstance(schedule, timedelta):
        schedule, when = DeltaDataIntervalTimetable(schedule), when or _every(schedule.total_seconds() / 60)
    else:
        start = None  # a cron trigger without start_date waits for its next tick instead of running the last one
    return DAG(
        dag_id=dag_id,
        description=f"{description}, {when}",
        schedule=schedule,
        start_date=start,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=[DAG_PREFIX, "housekeeping"],
        doc_md=doc_md,
        params=params or {},
        default_args={"owner": OWNER},
    )


def dispatcher_queue() -> str | None:
    """``[datasync] dispatcher_queue``: the Celery queue of the dispatcher's task (None: the default queue)."""
    from airflow.configuration import conf

    return conf.get("datasync", "dispatcher_queue", fallback="").strip() or None


def build_dispatcher_dag(config: DataSyncConfig, config_path: str | Path | None = None) -> Any:
    """Fires every CheckInterval with one active run: a run loops about an hour; after it ends, the next starts."""
    from datasync.airflow import alerts
    from datasync.airflow.dispatcher import DispatcherOperator

    dag = _housekeeping_dag(
        DISPATCHER_DAG_ID,
        config.check_interval,  # with max_active_runs=1: a new run once the last one ends (its hour, or a SIGTERM)
        "Starts every table's due sync, highest type first (the seed's loop)",
        "### datasync dispatcher\n\nOne run at a time, about an hour long; its task loops every CheckInterval "
        f"({config.check_interval}): it re-reads the config file and the DataUpdate ledger and, for each table, "
        "triggers a run of the highest due type's DAG (DESIGN §6: satisfied-by, slots, backoff after failures, busy "
        "tables wait). A run that ends early (SIGTERM: a scheduler or worker shutting down) is followed by the next "
        "within a CheckInterval. The sync DAGs have no schedule of their own. The reason of each decision is in this "
        "task's log and in the triggered run's conf. Param `cycles`: run that many cycles and stop (0: about an hour).",
        params={"cycles": form_param(0, type="integer", minimum=0, title="Cycles", description="0: loop for the hour")},
        when="one run at a time, each looping about an hour",
    )
    queue = dispatcher_queue()
    with dag:
        DispatcherOperator(
            task_id="dispatch",
            config=config,
            config_path=str(config_path) if config_path else None,
            retries=3,
            retry_delay=config.check_interval,
            on_failure_callback=alerts.housekeeping_failure_callback(config, "datasync dispatcher"),
            **({"queue": queue} if queue else {}),
        )
    return dag


def build_recovery_dag(config: DataSyncConfig) -> Any:
    from datasync.airflow import alerts
    from datasync.airflow.operators import RecoveryOperator

    every = recovery_interval(config)
    dag = _housekeeping_dag(
        RECOVERY_DAG_ID,
        every,
        "Close DataUpdate rows of syncs that died",
        "### datasync recovery\n\nEvery CheckInterval, at least 1 hour (and right after a deploy): every in-progress "
        "DataUpdate row (NumberRecords = -2) of a table whose sync lock is free is closed as failed "
        "(its sync died). Rows of running syncs are left alone. XCom: `{table: rows closed}`.",
    )
    with dag:
        RecoveryOperator(
            task_id="recover",
            config=config,
            on_failure_callback=alerts.housekeeping_failure_callback(config, "datasync recovery"),
        )
    return dag


def build_purge_dag(config: DataSyncConfig) -> Any:
    from datasync.airflow import alerts
    from datasync.airflow.operators import PurgeOperator

    dag = _housekeeping_dag(
        PURGE_DAG_ID,
        PURGE_INTERVAL,
        f"Delete DataUpdate rows older than {config.purge_retention_days} days",
        f"### datasync purge\n\nDaily: deletes DataUpdate rows older than PurgeRetentionDays "
        f"({config.purge_retention_days}), keeping each table's latest success per type. XCom: rows deleted.",
    )
    with dag:
        PurgeOperator(
            task_id="purge",
            config=config,
            on_failure_callback=alerts.housekeeping_failure_callback(config, "datasync purge"),
        )
    return dag


def build_verify_dag(config: DataSyncConfig) -> Any:
    """Weekly ``datasync verify`` of every enabled table, one task each in the datasync pool."""
    from datasync.airflow import alerts
    from datasync.airflow.operators import VerifyOperator

    from airflow.sdk import CronTriggerTimetable

    dag = _housekeeping_dag(
        VERIFY_DAG_ID,
        CronTriggerTimetable(VERIFY_CRON, timezone="UTC"),
        "Weekly proof that every cached table equals its source",
        f"### datasync verify\n\n{VERIFY_WHEN.capitalize()}, one task per enabled table (skipped while the table has never synced): row counts, the key set and a checksum "
        "per key range of the converted values, source against cache (`datasync verify TABLE` does the same "
        "from the CLI). A task fails, not retried, when its table differs; its XCom and log name the counts "
        "and sample keys (missing, extra, different).",
        when=VERIFY_WHEN,
    )
    with dag:
        for table in config.enabled_tables():
            VerifyOperator(
                task_id=f"verify__{table.table_name}",
                config=config,
                table=table.table_name,
                pool=config.pool_name,
                on_failure_callback=alerts.failure_callback(config, table, f"{table.table_name} verify"),
            )
    return dag


def recovery_interval(config: DataSyncConfig) -> timedelta:
    return max(config.check_interval, RECOVERY_MIN_INTERVAL)


def health_interval(config: DataSyncConfig) -> timedelta:
    return max(config.check_interval, HEALTH_MIN_INTERVAL)


def build_health_dag(config: DataSyncConfig) -> Any:
    from datasync.airflow import alerts
    from datasync.airflow.operators import HealthOperator

    to = alerts.recipients(config)
    dag = _housekeeping_dag(
        HEALTH_DAG_ID,
        health_interval(config),
        "Healthy / Degraded / Unhealthy per table, mailed when not Healthy",
        "### datasync health\n\nUnhealthy (the run fails): a table's latest sync of some type failed (last 24 h). "
        "Degraded (a warning in the log): a schedule is overdue (interval x 1.5) or never succeeded; "
        "a Mass counts for Daily and Hourly, a Daily for Hourly. Healthy otherwise. "
        "XCom: `status`, `{Table}_LastSync`, `{Table}_Status`, `{Table}_Problems`. "
        f"Mails {', '.join(to) if to else '(no recipients configured)'} when the result is not Healthy "
        "and differs from the last mail's.",
    )
    with dag:
        HealthOperator(
            task_id="health", config=config, on_failure_callback=alerts.health_failure_callback(config)
        )
    return dag


# --------------------------------------------------------------------------- the whole set


@dataclass
class DagSet:
    """The DAGs built from one config, and the problems of the entries left out."""

    dags: dict[str, Any]
    problems: list[str]
    config_path: str


def _wanted(dag_id: str, only: str | None) -> bool:
    return only is None or only == dag_id


def build_dags(dag_file: str | Path | None = None, config_path: str | Path | None = None) -> DagSet:
    """Build every DAG; bad entries are left out and listed in ``problems`` (strict mode raises)."""
    from airflow.sdk import get_parsing_context

    path = Path(config_path) if config_path else resolve_config_path(dag_file)
    loaded = load_for_dags(path)
    config = loaded.config
    only = get_parsing_context().dag_id
    problems = list(loaded.problems)
    dags: dict[str, Any] = {}
    classes: dict[str, type] = {}
    for table in config.enabled_tables():
        wanted = [t for t in table.enabled_types() if _wanted(sync_dag_id(table.table_name, t), only)]
        if not wanted:
            continue
        try:
            facts = table_facts(config, table, classes)
            for sync_type in wanted:
                dags[sync_dag_id(table.table_name, sync_type)] = build_sync_dag(config, table, sync_type, facts)
        except Exception as exc:  # noqa: BLE001 - one table must not hide the others
            problems.append(f"table {table.table_name}: cannot build its DAGs: {type(exc).__name__}: {exc}")
    for dag_id, builder in (
        (DISPATCHER_DAG_ID, lambda c: build_dispatcher_dag(c, path)),
        (RECOVERY_DAG_ID, build_recovery_dag),
        (PURGE_DAG_ID, build_purge_dag),
        (HEALTH_DAG_ID, build_health_dag),
        (VERIFY_DAG_ID, build_verify_dag),
    ):
        if _wanted(dag_id, only):
            dags[dag_id] = builder(config)
    if problems:
        if is_strict():
            raise ConfigError(problems, str(path))
        message = f"{path}: entries left out of the DAGs: " + "; ".join(problems)
        log.error(message)
        warnings.warn(message, ConfigProblemWarning, stacklevel=2)
    return DagSet(dags, problems, str(path))


def config_problems_for_dags(dag_file: str | Path | None = None, config_path: str | Path | None = None) -> list[str]:
    """Every problem that keeps an entry out of the DAGs (file-level problems raise ConfigError).

    Validation and the per-table fetcher schema are checked; no DAG is built.
    """
    path = Path(config_path) if config_path else resolve_config_path(dag_file)
    loaded = load_tolerant(path)
    problems = list(loaded.problems)
    classes: dict[str, type] = {}
    for table in loaded.config.enabled_tables():
        try:
            table_facts(loaded.config, table, classes)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"table {table.table_name}: cannot build its DAGs: {type(exc).__name__}: {exc}")
    return problems


def raise_config_problems(dag_file: str | Path | None = None, config_path: str | Path | None = None) -> None:
    """Raise ConfigError naming file, table and field of every bad entry (nothing if all are good)."""
    path = Path(config_path) if config_path else resolve_config_path(dag_file)
    problems = config_problems_for_dags(config_path=path)
    if problems:
        raise ConfigError(
            [*problems, "the DAGs of every other table are loaded from datasync_dags.py"], str(path)
        )
