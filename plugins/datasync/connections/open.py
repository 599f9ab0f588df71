"""Which dialect class serves which connection type, and how it is opened without a hook.

One table per side: adding a target or a source type is one entry here plus its
module; the engine never branches on connection types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any

from datasync.connections import drivers
from datasync.connections.info import ConnectionInfo
from datasync.core.errors import ConfigError

if TYPE_CHECKING:
    from datasync.fetchers.base import SourceReader
    from datasync.targets.base import Target

#: connection type -> Target class ("module:Class", imported on use)
TARGETS = {
    "sqlite": "datasync.targets.sqlite:SqliteTarget",
    "postgres": "datasync.targets.postgres:PostgresTarget",
    "mssql": "datasync.targets.mssql:MssqlTarget",
}


def _sqlite_db(info: ConnectionInfo) -> Any:
    from datasync.targets.sqlite import connect_sqlite

    return connect_sqlite(info.sqlite_path)


#: connection type -> DB-API connection opened from the definition (no hook)
_TARGET_DRIVERS: dict[str, Callable[[ConnectionInfo], Any]] = {
    "sqlite": _sqlite_db,
    "postgres": drivers.connect_postgres,
    "mssql": drivers.connect_mssql,
}


def _sqlite_source(info: ConnectionInfo, conn: Any, options: Mapping[str, Any]) -> SourceReader:
    from datasync.sources.sqlite import SqliteSourceReader

    return SqliteSourceReader(info.sqlite_path)


def _postgres_source(info: ConnectionInfo, conn: Any, options: Mapping[str, Any]) -> SourceReader:
    from datasync.sources.postgres import PostgresSourceReader

    return PostgresSourceReader(conn if conn is not None else drivers.connect_postgres(info))


def _odbc_source(info: ConnectionInfo, conn: Any, options: Mapping[str, Any]) -> SourceReader:
    from datasync.sources.odbc import OdbcSourceReader

    text, login, password = drivers.odbc_connection_string(info, options.get("driver"), options.get("driver_in_extra"))
    return OdbcSourceReader(text, login, password)


#: connection type -> SourceReader built from the definition and, where a hook opened one, its connection
SOURCES: dict[str, Callable[[ConnectionInfo, Any, Mapping[str, Any]], SourceReader]] = {
    "sqlite": _sqlite_source,
    "postgres": _postgres_source,
    "odbc": _odbc_source,
}


def target_class(conn_type: str) -> type[Target]:
    try:
        module, name = TARGETS[conn_type].split(":")
    except KeyError:
        raise ConfigError(
            [f"connection type {conn_type!r} is not a supported target; supported: {', '.join(sorted(TARGETS))}"]
        ) from None
    return getattr(import_module(module), name)


def open_target(info: ConnectionInfo, bulk_copy_batch_size: int = 10_000, conn: Any = None) -> Target:
    """The dialect Target for ``info``'s type on ``conn`` (opened from ``info`` when None)."""
    cls = target_class(info.conn_type)  # the type is checked before any connection attempt
    return cls(conn if conn is not None else _TARGET_DRIVERS[info.conn_type](info), bulk_copy_batch_size)


def open_source(info: ConnectionInfo, conn: Any = None, options: Mapping[str, Any] | None = None) -> SourceReader:
    """The SourceReader for ``info``'s type; ``conn``: a DB-API connection a hook already opened."""
    try:
        factory = SOURCES[info.conn_type]
    except KeyError:
        raise ConfigError(
            [
                f"connection {info.conn_id!r} has type {info.conn_type!r}, which is not a supported source; "
                f"supported: {', '.join(sorted(SOURCES))}"
            ]
        ) from None
    return factory(info, conn, options or {})
