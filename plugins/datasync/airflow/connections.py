"""Airflow connections to datasync endpoints, resolved the Airflow way.

``AIRFLOW_CONN_DATASYNC_TARGET=sqlite:////tmp/cache.db`` works for the CLI as
for DAGs; connections in the metadata DB work too. The target class is picked
by the connection's type, so adding a dialect never touches the engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from datasync.core.errors import ConfigError

if TYPE_CHECKING:
    from datasync.targets.base import Target

TARGETS = {
    "sqlite": "datasync.targets.sqlite:SqliteTarget",
    "postgres": "datasync.targets.postgres:PostgresTarget",
    "postgresql": "datasync.targets.postgres:PostgresTarget",
    "mssql": "datasync.targets.mssql:MssqlTarget",
}


def get_connection(conn_id: str) -> Any:
    """The Airflow Connection ``conn_id`` (env var or metadata DB), or a ConfigError naming it."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises several types for "not found"
        raise ConfigError(
            [f"Airflow connection {conn_id!r} is not defined ({exc}); set AIRFLOW_CONN_{conn_id.upper()} or add it"]
        ) from None


def sqlite_path(conn: Any) -> str:
    """File path of a sqlite connection: ``sqlite:////abs/path.db`` puts it in schema, the UI in host."""
    return conn.host or conn.schema or ":memory:"


def target_class(conn_type: str) -> type[Target]:
    try:
        module, name = TARGETS[conn_type].split(":")
    except KeyError:
        raise ConfigError(
            [f"connection type {conn_type!r} is not a supported target; supported: {', '.join(sorted(TARGETS))}"]
        ) from None
    return getattr(import_module(module), name)


def open_target(conn_id: str, bulk_copy_batch_size: int = 10_000) -> Target:
    """A connected Target for Airflow connection ``conn_id``."""
    conn = get_connection(conn_id)
    return target_class(conn.conn_type).from_connection(conn, bulk_copy_batch_size)
