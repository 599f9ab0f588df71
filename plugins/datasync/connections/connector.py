"""Connectors: how the engine gets its target and source connections.

The engine asks a ``Connector`` for a Target or a SourceReader by connection id
and never learns where the connection came from. ``DirectConnector`` resolves
``AIRFLOW_CONN_*`` variables itself and opens the drivers directly (the CLI's
fast path; a ``fallback`` lookup, e.g. Airflow's metadata DB, covers the
rest); the Airflow layer's ``HookConnector`` opens them through the
providers' hooks. Either way the dialect classes receive a DB-API connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from datasync.connections.info import ConnectionInfo, from_environment
from datasync.connections.open import open_source, open_target
from datasync.core.errors import ConfigError

if TYPE_CHECKING:
    from datasync.fetchers.base import SourceReader
    from datasync.targets.base import Target

Lookup = Callable[[str], ConnectionInfo]


class Connector(Protocol):
    def info(self, conn_id: str) -> ConnectionInfo:
        """The definition of connection ``conn_id`` (ConfigError if there is none)."""

    def target(self, conn_id: str, bulk_copy_batch_size: int = 10_000) -> Target:
        """A new Target on connection ``conn_id``; the caller closes it."""

    def source(self, conn_id: str, options: Mapping[str, Any] | None = None) -> SourceReader:
        """A new SourceReader on connection ``conn_id``; the caller closes it."""


def missing(conn_id: str, detail: str = "") -> ConfigError:
    return ConfigError(
        [f"Airflow connection {conn_id!r} is not defined{f' ({detail})' if detail else ''}; "
         f"set AIRFLOW_CONN_{conn_id.upper()} or add it"]
    )


class DirectConnector:
    """AIRFLOW_CONN_* variables (then ``fallback``), opened with datasync's own drivers."""

    def __init__(self, fallback: Lookup | None = None, environ: Mapping[str, str] | None = None):
        self.fallback = fallback
        self.environ = environ

    def info(self, conn_id: str) -> ConnectionInfo:
        found = from_environment(conn_id, self.environ)
        if found is not None:
            return found
        if self.fallback is not None:
            return self.fallback(conn_id)
        raise missing(conn_id)

    def target(self, conn_id: str, bulk_copy_batch_size: int = 10_000) -> Target:
        return open_target(self.info(conn_id), bulk_copy_batch_size)

    def source(self, conn_id: str, options: Mapping[str, Any] | None = None) -> SourceReader:
        return open_source(self.info(conn_id), options=options)
