"""Which dialect class serves which connection type, and how it is opened without a hook.

One table per side: adding a target or a source type is one entry here plus its
module; the engine never branches on connection types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


def _sqlite_reader(cls: type, info: ConnectionInfo, conn: Any, options: Mapping[str, Any]) -> SourceReader:
    return cls(info.sqlite_path)


def _odbc_reader(cls: type, info: ConnectionInfo, conn: Any, options: Mapping[str, Any]) -> SourceReader:
    text, login, password = drivers.odbc_connection_string(info, options.get("driver"), options.get("driver_in_extra"))
    return cls(text, login, password)


@dataclass(frozen=True)
class SourceKind:
    """How one connection type is read: its reader class and how the reader is opened.

    Readers on a DB-API connection take the one a hook opened, else ``connect`` opens it
    from the definition; the others are built by ``build``.
    """

    reader: str  # "module:Class", imported on use
    driver: str  # what the reader reads through, for people (DAG docs)
    connect: Callable[[ConnectionInfo], Any] | None = None
    build: Callable[[type, ConnectionInfo, Any, Mapping[str, Any]], SourceReader] | None = None

    @property
    def description(self) -> str:
        return f"{self.reader.split(':')[1]} ({self.driver})"

    def open(self, info: ConnectionInfo, conn: Any, options: Mapping[str, Any]) -> SourceReader:
        module, name = self.reader.split(":")
        cls = getattr(import_module(module), name)
        if self.build is not None:
            return self.build(cls, info, conn, options)
        assert self.connect is not None
        return cls(conn if conn is not None else self.connect(info))


#: connection type -> its reader; a hook's DB-API connection is used where the hook opened one
SOURCES: dict[str, SourceKind] = {
    "sqlite": SourceKind("datasync.sources.sqlite:SqliteSourceReader", "ADBC SQLite, sqlite3", build=_sqlite_reader),
    "postgres": SourceKind(
        "datasync.sources.postgres:PostgresSourceReader", "psycopg server-side cursor", connect=drivers.connect_postgres
    ),
    "odbc": SourceKind("datasync.sources.odbc:OdbcSourceReader", "arrow-odbc", build=_odbc_reader),
    "mssql": SourceKind("datasync.sources.mssql:MssqlSourceReader", "pymssql", connect=drivers.connect_mssql),
    "oracle": SourceKind(
        "datasync.sources.oracle:OracleSourceReader", "python-oracledb data frames", connect=drivers.connect_oracle
    ),
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
        kind = SOURCES[info.conn_type]
    except KeyError:
        raise ConfigError(
            [
                f"connection {info.conn_id!r} has type {info.conn_type!r}, which is not a supported source; "
                f"supported: {', '.join(sorted(SOURCES))}"
            ]
        ) from None
    return kind.open(info, conn, options or {})
