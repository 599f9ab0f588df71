"""Named errors: each one is turned into a clean message at the edge (CLI, operator).

Two families matter to Airflow: ``PermanentSyncError`` (bad config, bad data:
retrying cannot help, the operator fails without retry) and ``TransientSyncError``
(connection lost, lock busy: worth a retry).
"""

from __future__ import annotations


class DataSyncError(Exception):
    """Base of every error datasync raises on purpose."""


class PermanentSyncError(DataSyncError):
    """A failure that a retry cannot fix."""


class TransientSyncError(DataSyncError):
    """A failure that may pass on its own (network, lock, server restart)."""


class ConfigError(PermanentSyncError):
    """The configuration is invalid; ``problems`` lists every issue found."""

    def __init__(self, problems: list[str], path: str | None = None):
        self.problems = list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


class UnsafeIdentifier(PermanentSyncError):
    """A table or column name is not a plain identifier and never reaches SQL text."""


class UnknownFetcher(PermanentSyncError):
    """The configured FetcherTypeName is not registered."""


class SourceDataError(PermanentSyncError):
    """A source value cannot be converted; names table, column and row key."""


class SchemaDriftError(PermanentSyncError):
    """The source no longer has a column the fetcher needs."""


class TableLockTimeout(TransientSyncError):
    """Another sync of the same table holds the per-table lock."""


class SyncCancelled(DataSyncError):
    """The sync was cancelled (SIGTERM, Airflow on_kill)."""
