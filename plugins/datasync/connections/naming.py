"""Where a table lives, as OpenLineage and Airflow assets name it: namespace, dataset name, URI.

One naming for both, so a cache table's Airflow asset and its OpenLineage
output dataset are the same thing: ``mssql://host:1433/db/dbo/WorkOrder_Curr``
is namespace ``mssql://host:1433`` plus name ``db.dbo.WorkOrder_Curr`` (the
OpenLineage naming spec for SQL Server and PostgreSQL; the postgres
provider's asset URI check wants exactly this path). SQLite files are named by
their path (``sqlite:/var/lib/cache.db/WorkOrder_Curr``, Airflow's normal form). A connection whose address is unknown (not in the environment at
parse time, or a type without a network address) is named by its id:
``datasync://conn_id``. Nothing here opens a connection or imports Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from datasync.connections.info import ConnectionInfo

FALLBACK_SCHEME = "datasync"
DEFAULT_PORTS = {"mssql": 1433, "postgres": 5432, "oracle": 1521, "mysql": 3306}
DEFAULT_SCHEMAS = {"mssql": "dbo", "postgres": "public"}
_SCHEMES = {"postgres": "postgres", "mssql": "mssql", "oracle": "oracle", "mysql": "mysql"}


@dataclass(frozen=True)
class DatasetName:
    """An OpenLineage dataset (namespace + name) and the Airflow asset URI of the same table."""

    namespace: str
    name: str

    @property
    def uri(self) -> str:
        if self.namespace.startswith("sqlite://"):  # as Airflow normalizes it: no empty authority
            return f"sqlite:{self.namespace[len('sqlite://'):]}/{self.name}"
        return f"{self.namespace.rstrip('/')}/{self.name.replace('.', '/')}"


def fallback_namespace(conn_id: str) -> str:
    return f"{FALLBACK_SCHEME}://{conn_id}"


def namespace(info: ConnectionInfo | None, conn_id: str) -> str:
    """``scheme://host:port`` of a server, ``sqlite:///path`` of a file, else ``datasync://conn_id``."""
    if info is None:
        return fallback_namespace(conn_id)
    if info.conn_type == "sqlite":
        path = info.sqlite_path
        return f"sqlite://{path if path.startswith('/') else '/' + path}"
    scheme = _SCHEMES.get(info.conn_type)
    host = (info.host or "").split("://")[-1]
    if scheme is None or not host:
        return fallback_namespace(conn_id)
    return f"{scheme}://{host}:{info.port or DEFAULT_PORTS[scheme]}"


def dataset(
    info: ConnectionInfo | None,
    conn_id: str,
    table: str,
    schema: str | None = None,
    prefix: str | None = None,
) -> DatasetName:
    """The dataset of ``table``: ``db.schema.table`` on a server, ``table`` in a SQLite file.

    ``schema`` defaults to the dialect's (dbo, public). ``prefix`` (the config's AssetNamespace,
    e.g. ``mssql://sql01:1433/Cache/dbo``) names the tables' place instead of the connection:
    the table's URI is ``prefix/table``; its namespace the prefix's scheme and address.
    """
    if prefix:
        return _from_prefix(prefix.rstrip("/"), table)
    ns = namespace(info, conn_id)
    if info is None or info.conn_type == "sqlite" or ns.startswith(f"{FALLBACK_SCHEME}:"):
        return DatasetName(ns, table)
    if info.conn_type == "oracle":  # schema.table (the service is the connection's, not the name's)
        return DatasetName(ns, f"{schema}.{table}" if schema else table)
    schema = schema or DEFAULT_SCHEMAS.get(info.conn_type)
    return DatasetName(ns, ".".join(p for p in (info.schema, schema, table) if p))


def _from_prefix(prefix: str, table: str) -> DatasetName:
    parts = urlsplit(prefix)
    if parts.scheme == "sqlite" or not parts.netloc:
        return DatasetName(prefix, table)
    path = [p for p in parts.path.split("/") if p]
    return DatasetName(f"{parts.scheme}://{parts.netloc}", ".".join([*path, table]))
