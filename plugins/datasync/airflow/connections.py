"""Connections inside Airflow: definitions from Airflow, DB-API connections from the providers' hooks.

The hook owns the connection, the dialect owns the SQL (as common-sql has it):
``HookConnector`` looks a connection up the Airflow way (secrets backends,
AIRFLOW_CONN_* variables, the metadata DB), opens it through its provider's
hook (PostgresHook, MsSqlHook, OracleHook; a SQLite file and ODBC are opened directly) and hands the
DB-API connection to the dialect class from datasync.connections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from datasync.connections import SOURCES, ConnectionInfo, open_source, open_target, target_class
from datasync.connections.connector import missing
from datasync.connections.drivers import MSSQL_DEFAULT_PORT, mssql_extras, postgres_kwargs

if TYPE_CHECKING:
    from datasync.fetchers.base import SourceReader
    from datasync.targets.base import Target


def get_connection(conn_id: str) -> Any:
    """The Airflow Connection ``conn_id`` (secrets backend, env var or metadata DB), or a ConfigError."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # noqa: BLE001 - Airflow raises several types for "not found"
        raise missing(conn_id, str(exc)) from None


def lookup(conn_id: str) -> ConnectionInfo:
    """The definition of ``conn_id`` as Airflow resolves it (the CLI's fallback after AIRFLOW_CONN_*)."""
    return ConnectionInfo.from_attributes(get_connection(conn_id))


def _postgres(conn: Any) -> Any:
    """psycopg 3 from PostgresHook; a hook that speaks only psycopg2 gets its parameters reused."""
    import psycopg
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    raw = PostgresHook(postgres_conn_id=conn.conn_id, connection=conn).get_conn()
    if isinstance(raw, psycopg.Connection):
        return raw
    raw.close()  # COPY from a stream needs psycopg 3
    return psycopg.connect(**postgres_kwargs(ConnectionInfo.from_attributes(conn)))


def _mssql(conn: Any) -> Any:
    """pymssql from MsSqlHook, with the port and the extras datasync relies on defaulted."""
    import copy
    import json

    from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

    defaulted = copy.copy(conn)
    defaulted.port = conn.port or MSSQL_DEFAULT_PORT
    defaulted.extra = json.dumps(mssql_extras(ConnectionInfo.from_attributes(conn)))
    return MsSqlHook(mssql_conn_id=conn.conn_id, connection=defaulted).get_conn()


def _oracle(conn: Any) -> Any:
    """python-oracledb from OracleHook (thin mode unless the extra says thick_mode).

    A connection whose schema stands for the service name (no service_name or sid extra)
    reaches the hook with the service name as an extra and no schema: OracleHook 4.7 would
    also make the service name the session's current schema, which fails (ORA-01435)
    unless a user of that name exists.
    """
    import copy
    import json

    from airflow.providers.oracle.hooks.oracle import OracleHook

    info = ConnectionInfo.from_attributes(conn)
    if info.schema and not info.extra.get("service_name") and not info.extra.get("sid"):
        conn = copy.copy(conn)
        conn.extra = json.dumps({**info.extra, "service_name": info.schema})
        conn.schema = None

    class GivenConnectionHook(OracleHook):
        """OracleHook on this Connection object (its get_conn looks the id up again otherwise)."""

        def get_connection(self, conn_id: str) -> Any:  # type: ignore[override]
            return conn

    return GivenConnectionHook(oracle_conn_id=conn.conn_id).get_conn()


#: connection types opened through their provider's hook (a SQLite file needs none)
_HOOKS = {"postgres": _postgres, "mssql": _mssql}
#: sources opened through their provider's hook (SQLite files and ODBC are opened directly)
_SOURCE_HOOKS = {"postgres": _postgres, "mssql": _mssql, "oracle": _oracle}


class HookConnector:
    """Connections for tasks: Airflow's lookup, the providers' hooks for the DB-API connections."""

    def info(self, conn_id: str) -> ConnectionInfo:
        return lookup(conn_id)

    def target(self, conn_id: str, bulk_copy_batch_size: int = 10_000) -> Target:
        conn = get_connection(conn_id)
        info = ConnectionInfo.from_attributes(conn)
        target_class(info.conn_type)  # an unsupported type fails before the hook connects
        opener = _HOOKS.get(info.conn_type)
        return open_target(info, bulk_copy_batch_size, opener(conn) if opener else None)

    def source(self, conn_id: str, options: Mapping[str, Any] | None = None) -> SourceReader:
        conn = get_connection(conn_id)
        info = ConnectionInfo.from_attributes(conn)
        options = dict(options or {})
        if info.conn_type == "odbc":
            options.setdefault("driver_in_extra", _odbc_driver_in_extra())
        if info.conn_type not in SOURCES:
            return open_source(info, None, options)  # the unsupported-type error, before any hook connects
        opener = _SOURCE_HOOKS.get(info.conn_type)
        return open_source(info, opener(conn) if opener else None, options)


def _odbc_driver_in_extra() -> bool:
    from airflow.configuration import conf

    return conf.getboolean("providers.odbc", "allow_driver_in_extra", fallback=False)
