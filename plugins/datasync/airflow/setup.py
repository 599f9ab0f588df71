"""``datasync init-airflow``: what Airflow needs before the DAGs can run, idempotently.

- the pool ``PoolName`` (default ``datasync``) with MaxDegreeOfParallelism slots:
  created, or updated when the slots differ. Airflow 3 task code cannot create
  pools, and a task in a missing pool is never scheduled, so this runs from the
  CLI with access to the metadata database (``airflow db migrate`` first);
- the target connection and the source connections of the enabled tables must
  resolve (environment variables or the metadata DB) and have a supported type.
  Nothing is connected to: the check is about configuration, not reachability.
"""

from __future__ import annotations

from collections.abc import Iterable

from datasync.airflow.connections import lookup
from datasync.config import DataSyncConfig
from datasync.connections import SOURCES, TARGETS
from datasync.core.errors import ConfigError

POOL_DESCRIPTION = "datasync sync tasks: at most MaxDegreeOfParallelism syncs at once"


def ensure_pool(name: str, slots: int) -> str:
    """Create or update pool ``name``; return what was done."""
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session

    with create_session() as session:
        existing = Pool.get_pool(name, session=session)
        if existing is not None and existing.slots == slots and existing.description == POOL_DESCRIPTION:
            return f"pool {name}: {slots} slots (unchanged)"
        before = None if existing is None else existing.slots
        Pool.create_or_update_pool(name, slots, POOL_DESCRIPTION, include_deferred=False, session=session)
    if before is None:
        return f"pool {name}: created with {slots} slots"
    return f"pool {name}: {slots} slots (was {before})"


def _connection_line(role: str, conn_id: str, supported: Iterable[str]) -> tuple[str, str | None]:
    """(line, problem or None) for one connection."""
    try:
        info = lookup(conn_id)
    except ConfigError as exc:
        return f"connection {conn_id} ({role}): MISSING", "; ".join(exc.problems)
    if info.conn_type not in supported:
        problem = f"connection {conn_id!r} ({role}) has type {info.conn_type!r}; supported: {', '.join(sorted(supported))}"
        return f"connection {conn_id} ({role}): type {info.conn_type} not supported", problem
    return f"connection {conn_id} ({role}): {info.conn_type}{f' {info.where}' if info.where else ''}", None


def check_connections(config: DataSyncConfig) -> tuple[list[str], list[str]]:
    """(lines, problems) for the target and every source system an enabled table uses."""
    lines, problems = [], []
    line, problem = _connection_line("target", config.target_conn_id, TARGETS)
    lines.append(line)
    if problem:
        problems.append(problem)
    used = sorted({t.source_system for t in config.enabled_tables()})
    for system in used:
        conn_id = config.source_system(system).conn_id
        line, problem = _connection_line(f"{system} source", conn_id, SOURCES)
        lines.append(line)
        if problem:
            problems.append(problem)
    if config.target_type:
        try:
            actual = lookup(config.target_conn_id).conn_type
        except ConfigError:
            actual = None
        if actual and actual != config.target_type:
            problems.append(
                f"TargetType is {config.target_type!r} but connection {config.target_conn_id!r} has type {actual!r}"
            )
    return lines, problems


def init_airflow(config: DataSyncConfig) -> list[str]:
    """Create/update the pool, check the connections; return one line per thing done or checked.

    Raises ConfigError listing every connection problem (after the pool is set,
    so fixing the connections and running it again is enough).
    """
    lines = [ensure_pool(config.pool_name, config.max_degree_of_parallelism)]
    conn_lines, problems = check_connections(config)
    lines += conn_lines
    if problems:
        raise ConfigError([*problems, "done before the problem: " + "; ".join(lines)])
    return lines
