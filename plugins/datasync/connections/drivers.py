"""DB-API connections opened straight from a ConnectionInfo, with the drivers datasync ships.

This is the path of the CLI and of tools outside Airflow: the same arguments
the providers' hooks pass (PostgresHook → psycopg, MsSqlHook → pymssql,
OracleHook → python-oracledb, OdbcHook's connection string), without importing Airflow. Inside Airflow the
hooks open the connections (datasync.airflow.connections).
"""

from __future__ import annotations

import os
from typing import Any

from datasync.connections.info import ConnectionInfo
from datasync.core.errors import ConfigError, TransientSyncError

MSSQL_DEFAULT_PORT = 1433
ORACLE_DEFAULT_PORT = 1521
#: OracleHook extras passed to oracledb.connect as they are
_ORACLE_PASSED_EXTRAS = (
    "events", "expire_time", "wallet_location", "wallet_password", "ssl_server_cert_dn", "ssl_server_dn_match", "cclass",
)  # fmt: skip
#: pymssql extras defaulted when a connection leaves them out: TDS 7.4 returns DATE/DATETIME2
#: as date/datetime, use_datetime2 keeps microseconds in bound datetimes.
MSSQL_DEFAULT_EXTRAS = {"tds_version": "7.4", "use_datetime2": True, "appname": "datasync"}
_PG_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options", "application_name")
_ODBC_EXCLUDED_EXTRAS = {"driver", "dsn", "connect_kwargs", "sqlalchemy_scheme", "placeholder"}
ODBC_DRIVER_IN_EXTRA_ENV = "AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA"


def postgres_kwargs(info: ConnectionInfo) -> dict[str, Any]:
    """psycopg.connect arguments, as PostgresHook builds them."""
    kwargs: dict[str, Any] = {"host": info.host or "localhost", "dbname": info.schema or "postgres"}
    if info.port:
        kwargs["port"] = info.port
    if info.login:
        kwargs["user"] = info.login
    if info.password:
        kwargs["password"] = info.password
    for option in _PG_OPTIONS:
        if option in info.extra:
            kwargs[option] = info.extra[option]
    return kwargs


def connect_postgres(info: ConnectionInfo) -> Any:
    import psycopg

    try:
        return psycopg.connect(**postgres_kwargs(info))
    except psycopg.OperationalError as exc:
        raise TransientSyncError(f"cannot connect to PostgreSQL ({info.conn_id}): {exc}") from None


def mssql_extras(info: ConnectionInfo) -> dict[str, Any]:
    """The connection's pymssql extras with datasync's defaults filled in."""
    extras = {k: v for k, v in info.extra.items() if k != "sqlalchemy_scheme"}
    return {**MSSQL_DEFAULT_EXTRAS, **extras}


def mssql_kwargs(info: ConnectionInfo) -> dict[str, Any]:
    """pymssql.connect arguments, as MsSqlHook builds them (port always set)."""
    return {
        "server": info.host or "",
        "user": info.login,
        "password": info.password,
        "database": info.schema or "",
        "port": str(info.port or MSSQL_DEFAULT_PORT),
        **mssql_extras(info),
    }


def connect_mssql(info: ConnectionInfo) -> Any:
    import pymssql

    try:
        return pymssql.connect(**mssql_kwargs(info))
    except pymssql.OperationalError as exc:
        raise TransientSyncError(f"cannot connect to SQL Server ({info.conn_id}): {exc}") from None


def oracle_service(info: ConnectionInfo) -> tuple[str | None, str | None]:
    """(service name, SID) as OracleHook reads them: the extras, else the connection's schema as service name."""
    service, sid = info.extra.get("service_name"), info.extra.get("sid")
    if not service and not sid and info.schema:
        service = info.schema
    return service, sid


def oracle_kwargs(info: ConnectionInfo) -> dict[str, Any]:
    """oracledb.connect arguments, as OracleHook builds them (thin mode unless the extra says thick_mode).

    The connection's schema is the service name when the extras name none; with an explicit
    service name or SID it is the session's current schema. (OracleHook 4.7 also makes the
    service name the current schema in the first case, which fails with ORA-01435;
    datasync's hook path hands it the service name as an extra instead.)
    """
    import oracledb

    service, sid = oracle_service(info)
    port = info.port or ORACLE_DEFAULT_PORT
    kwargs: dict[str, Any] = {"user": info.login, "password": info.password}
    if info.host and sid and not service:
        kwargs["dsn"] = oracledb.makedsn(info.host, port, sid)
    elif info.host and service and not sid:
        kwargs["dsn"] = oracledb.makedsn(info.host, port, service_name=service)
    elif info.extra.get("dsn"):
        kwargs["dsn"] = info.extra["dsn"]  # a TNS alias or a full connect descriptor
    else:
        kwargs["dsn"] = (info.host or "") + (f":{info.port}" if info.port else "") + (f"/{service}" if service else "")
    if mode := info.extra.get("mode"):
        kwargs["mode"] = getattr(oracledb.AuthMode, str(mode).upper())
    if purity := info.extra.get("purity"):
        kwargs["purity"] = getattr(oracledb.Purity, str(purity).upper())
    kwargs.update({k: info.extra[k] for k in _ORACLE_PASSED_EXTRAS if info.extra.get(k) is not None})
    return kwargs


def connect_oracle(info: ConnectionInfo) -> Any:
    import oracledb

    if str(info.extra.get("thick_mode", "")).lower() in ("1", "true", "yes"):
        oracledb.init_oracle_client(
            lib_dir=info.extra.get("thick_mode_lib_dir"), config_dir=info.extra.get("thick_mode_config_dir")
        )
    try:
        conn = oracledb.connect(**oracle_kwargs(info))
    except oracledb.Error as exc:
        raise TransientSyncError(f"cannot connect to Oracle ({info.conn_id}): {exc}") from None
    if info.schema and (info.extra.get("service_name") or info.extra.get("sid")):
        conn.current_schema = info.schema  # the schema is not the service name here
    if module := info.extra.get("module"):
        conn.module = module
    return conn


def odbc_driver_in_extra_allowed() -> bool:
    """Airflow's ``[providers.odbc] allow_driver_in_extra``, read from its environment variable."""
    return os.environ.get(ODBC_DRIVER_IN_EXTRA_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def odbc_connection_string(
    info: ConnectionInfo, driver: str | None = None, driver_in_extra: bool | None = None
) -> tuple[str, str | None, str | None]:
    """(connection string without credentials, login, password), built as OdbcHook builds it.

    The driver is ``driver``, else the extra's ``driver`` when Airflow allows drivers in
    extras, else none (a DSN must then say it). Login and password are handed to the ODBC
    layer apart from the string, which escapes them (OdbcHook would not).
    """
    extra = {k.lower(): v for k, v in info.extra.items()}
    allowed = odbc_driver_in_extra_allowed() if driver_in_extra is None else driver_in_extra
    driver = driver or (extra.get("driver") if allowed else None)
    dsn = extra.get("dsn")
    if not driver and not dsn:
        raise ConfigError(
            [
                f"ODBC connection {info.conn_id!r} names neither a driver nor a DSN: put 'driver' in its extra "
                "and set [providers.odbc] allow_driver_in_extra = True, or a 'dsn' defined in odbc.ini"
            ]
        )
    text = ""
    if driver:
        text += f"DRIVER={{{driver.strip('{}')}}};"
    if dsn:
        text += f"DSN={dsn};"
    if info.host:
        text += f"SERVER={info.host};"
    if info.schema:
        text += f"DATABASE={info.schema};"
    if info.port:
        text += f"PORT={info.port};"
    for key, value in info.extra.items():
        if key.lower() not in _ODBC_EXCLUDED_EXTRAS:
            text += f"{key}={value};"
    for key, value in odbc_streaming_options(driver, extra).items():
        text += f"{key}={value};"
    return text, info.login, info.password


ODBC_FETCH_ROWS = 16_384  # the ODBC reader's transit buffer (datasync.sources.odbc.CHUNK_ROWS)

#: options that make a driver stream a result instead of holding all of it (peak RSS stays flat
#: whatever the table size), by a word in the driver's name; an option the extra sets wins
_ODBC_STREAMING = (
    ("postgres", {"UseDeclareFetch": "1", "Fetch": str(ODBC_FETCH_ROWS)}),  # psqlodbc: a cursor, N rows a fetch
    ("psqlodbc", {"UseDeclareFetch": "1", "Fetch": str(ODBC_FETCH_ROWS)}),
    ("sqlite", {"StepAPI": "1"}),  # the SQLite ODBC driver: step through the result, do not load it whole
)


def odbc_streaming_options(driver: str | None, extra: dict[str, Any]) -> dict[str, str]:
    """The streaming options for ``driver`` that the connection's extra (lower-cased keys) does not set."""
    name = (driver or "").lower()
    for word, options in _ODBC_STREAMING:
        if word in name:
            return {k: v for k, v in options.items() if k.lower() not in extra}
    return {}
