"""SQL Server target: the production reporting cache.

The connection comes from the Airflow connection through MsSqlHook (pymssql),
in autocommit mode with explicit ``BEGIN TRANSACTION``/``COMMIT`` and
``XACT_ABORT ON``, so any error inside a transaction rolls all of it back.

- Per-table lock: ``sp_getapplock`` owned by the session (freed by the server
  when the session dies, a killed worker included); its return code is
  checked, a timeout raises TableLockTimeout.
- Staging: session temp tables ``#Staging{Table}_{OperationId}`` and
  ``#{Table}_{OperationId}``, filled with pymssql's native ``bulk_copy`` on the
  same session (a #temp table is visible to its own session only), then
  ROW_NUMBER() de-duplication and ``MERGE … WITH (HOLDLOCK)`` guarded by
  ``source.LastUpdateDT > target.LastUpdateDT``, counted through OUTPUT $action.
- Mass with PrepurgeData, in one transaction: disable the non-clustered,
  non-PK, non-unique indexes found in sys.indexes, TRUNCATE, bulk copy WITH
  TABLOCK straight into the table, rebuild, UPDATE STATISTICS.

Bulk copy values: datasync.targets.mssql.bulk; driver errors: .errors.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from datasync.core.errors import DataSyncError, PermanentSyncError, TableLockTimeout, TransientSyncError, UnsafeIdentifier
from datasync.core.identifiers import MAX_IDENTIFIER_LENGTH, is_plain_identifier, quote_brackets, validate_identifier
from datasync.core.schema import Column, TableSchema
from datasync.targets.base import Target, lock_name
from datasync.targets.mssql import errors
from datasync.targets.mssql.bulk import bulk_rows

log = logging.getLogger(__name__)

#: SQL Server caps the name of a #local temp table at 116 characters (it appends a suffix).
MAX_TEMP_NAME_LENGTH = 116
#: Widest NVARCHAR(n); longer strings are NVARCHAR(MAX).
MAX_NVARCHAR = 4000
DDL_LOCK_TIMEOUT_MS = 60_000

_TYPES = {"int": "BIGINT", "float": "FLOAT", "date": "DATE", "datetime": "DATETIME2"}


_OPERATION_ID = re.compile(r"[A-Za-z0-9_]{1,64}")

#: sp_getapplock return codes below zero.
_APPLOCK_FAILURES = {-1: "timed out", -2: "was cancelled", -3: "was chosen as deadlock victim", -999: "failed"}


def quote_temp(name: str) -> str:
    """``[#name]`` for a session temp table; ``name`` must fit SQL Server's 116-character cap."""
    full = "#" + name
    if len(full) > MAX_TEMP_NAME_LENGTH:
        raise UnsafeIdentifier(f"temp table name {full!r} is longer than {MAX_TEMP_NAME_LENGTH} characters")
    return quote_brackets(full)


def lock_resource(kind: str, name: str) -> str:
    """Applock resource for ``name`` (resources compare binary, so the name is lower-cased)."""
    return lock_name(kind, name)


class MssqlTarget(Target):
    dialect = "mssql"
    max_identifier_length = MAX_IDENTIFIER_LENGTH
    max_temp_name_length = MAX_TEMP_NAME_LENGTH - 1  # the templates add the '#'

    def __init__(self, conn: Any, bulk_copy_batch_size: int = 10_000):
        super().__init__(conn, bulk_copy_batch_size)
        self.templates.env.filters["temp"] = quote_temp
        self._disabled: dict[str, list[str]] = {}
        self._column_ids: dict[str, dict[str, int]] = {}
        conn.autocommit(True)
        self.run("ddl", "session_setup")

    # ------------------------------------------------------------------ identifiers and SQL
    quote = staticmethod(quote_brackets)

    @staticmethod
    def placeholder(name: str) -> str:
        return f"%({name})s"

    def column_type(self, column: Column) -> str:
        if column.kind == "string":
            return f"NVARCHAR({column.length})" if column.length and column.length <= MAX_NVARCHAR else "NVARCHAR(MAX)"
        if column.kind == "decimal":
            if not 1 <= column.precision <= 38 or not 0 <= column.scale <= column.precision:
                raise PermanentSyncError(
                    f"column {column.name}: DECIMAL({column.precision},{column.scale}) is not a SQL Server decimal "
                    "(precision 1-38, scale 0-precision)"
                )
            return f"DECIMAL({column.precision},{column.scale})"
        return _TYPES[column.kind]

    def column_types(self, schema: TableSchema) -> dict[str, str]:
        """DDL types; key and index columns must be indexable (no NVARCHAR(MAX))."""
        types = super().column_types(schema)
        indexed = {*schema.primary_key, *(c for ix in schema.indexes for c in ix)}
        for name in indexed:
            if types[name] == "NVARCHAR(MAX)":
                raise PermanentSyncError(
                    f"table {schema.name}, column {name}: a key or indexed string column needs a length of at most "
                    f"{MAX_NVARCHAR} (SQL Server cannot index NVARCHAR(MAX))"
                )
        return types

    # transaction(): the base class's; a nested block joins the outer transaction (XACT_ABORT
    # dooms the whole transaction on error, so there is nothing a savepoint could keep)
    def _begin(self) -> None:
        self.run("ddl", "begin")

    def _commit(self) -> None:
        self.run("ddl", "commit")

    def _rollback(self) -> None:
        try:
            self.run("ddl", "rollback")
        except Exception:  # noqa: BLE001 - a dead session has rolled back already; keep the real error
            log.debug("rollback failed (the session is gone, so the server rolled back)", exc_info=True)

    # ------------------------------------------------------------------ locks
    @contextmanager
    def table_lock(self, table: str, timeout_s: float) -> Iterator[None]:
        resource = lock_resource("table", validate_identifier(table, "table"))
        code = self._applock("table_applock", resource, timeout_s)
        if code < 0:
            reason = _APPLOCK_FAILURES.get(code, f"returned {code}")
            if code == -1:
                raise TableLockTimeout(f"table {table}: another sync holds its lock (sp_getapplock {reason})")
            if code in (-2, -3):
                raise TransientSyncError(f"table {table}: the lock request {reason} (sp_getapplock {code})")
            raise DataSyncError(f"table {table}: sp_getapplock {reason} ({code})")
        try:
            yield
        finally:
            self._release(resource)

    def _applock(self, macro: str, resource: str, timeout_s: float) -> int:
        timeout_ms = max(0, int(timeout_s * 1000))
        rows = self.fetch("ddl", macro, {"resource": resource, "timeout_ms": timeout_ms})
        return int(rows[0][0])

    def _release(self, resource: str) -> None:
        try:
            rows = self.fetch("ddl", "release_table_applock", {"resource": resource})
            if rows and int(rows[0][0]) < 0:
                log.warning("sp_releaseapplock %s returned %s", resource, rows[0][0])
        except Exception:  # noqa: BLE001 - a dead session holds no locks; never mask the sync's error
            log.debug("could not release %s (the session is gone, so the server did)", resource, exc_info=True)

    def _ddl_lock(self) -> None:
        """Inside a transaction: serialise table creation across syncs until commit."""
        code = self._applock("ddl_applock", lock_resource("ddl", "schema"), DDL_LOCK_TIMEOUT_MS / 1000)
        if code < 0:
            raise TransientSyncError(f"could not take the DDL lock: sp_getapplock {_APPLOCK_FAILURES.get(code, code)}")

    # ------------------------------------------------------------------ DDL
    def table_exists(self, name: str) -> bool:
        return bool(self.fetch("ddl", "table_exists", {"name": self._catalog_name(name)}))

    def _catalog_name(self, name: str) -> str:
        """Bracket-quoted, bound as a value: OBJECT_ID parses it."""
        return self.ident(name, "table")

    # ------------------------------------------------------------------ loading
    def staging_names(self, table: str, operation_id: str) -> tuple[str, str]:
        """(Staging{Table}_{OperationId}, {Table}_{OperationId}); the templates add the '#'."""
        validate_identifier(table, "table")
        if not isinstance(operation_id, str) or not _OPERATION_ID.fullmatch(operation_id):
            raise UnsafeIdentifier(f"operation id {operation_id!r} is not 1-64 letters, digits or _")
        return super().staging_names(table, operation_id)

    def key_staging_name(self, table: str, operation_id: str) -> str:
        self.staging_names(table, operation_id)  # the same checks of table and operation id
        return super().key_staging_name(table, operation_id)

    def delete_missing(self, schema: TableSchema, keys: str, limit: int | None = None) -> int:
        """DELETE TOP (n) batches in one T-SQL batch, stopping once past ``limit``; the count is its result."""
        params = {"batch_size": self.delete_batch_size, "limit": -1 if limit is None else limit}
        rows = self.fetch("deletes", "delete_missing", params, s=schema, keys=keys)
        return int(rows[-1][0]) if rows else 0

    def bulk_load(self, table: str, schema: TableSchema, batch: pa.RecordBatch, temp: bool) -> None:
        """pymssql ``bulk_copy`` on this session, BulkCopyBatchSize rows per round trip.

        Staging (``temp``): our own temp table, columns 1..n in schema order (the trailing
        IDENTITY column is filled by the server). Target table (mass): columns mapped by name,
        WITH (TABLOCK) for a minimally logged load into the emptied table.
        """
        if batch.num_rows == 0:
            return
        if temp:
            name = "#" + table
            quote_temp(table)  # the length check; pymssql wants the bare #name to find it in tempdb
            column_ids = list(range(1, batch.num_columns + 1))
        else:
            name = self.ident(table, "table")
            column_ids = self._target_column_ids(schema)
        self.conn.bulk_copy(
            name,
            bulk_rows(batch, self.bulk_copy_batch_size),
            column_ids=column_ids,
            batch_size=self.bulk_copy_batch_size,
            tablock=not temp,
        )

    def _target_column_ids(self, schema: TableSchema) -> list[int]:
        ids = self._column_ids.get(schema.name)
        if ids is None:
            rows = self.fetch("ddl", "column_ids", {"name": self.ident(schema.name, "table")})
            ids = {str(name).lower(): int(column_id) for name, column_id in rows}
            self._column_ids[schema.name] = ids
        missing = [c for c in schema.column_names if c.lower() not in ids]
        if missing:
            raise PermanentSyncError(f"table {schema.name} has no column(s) {', '.join(missing)}; fix the table or the fetcher")
        return [ids[c.lower()] for c in schema.column_names]

    def begin_mass(self, schema: TableSchema) -> None:
        """Inside the mass transaction: disable the disposable indexes, empty the table."""
        rows = self.fetch("mass", "disposable_indexes", {"table": self.ident(schema.name, "table")})
        disabled = []
        for (name,) in rows:
            if is_plain_identifier(name):
                disabled.append(name)
            else:  # only validated names reach SQL text; the load then maintains this index
                log.warning("%s: index %r is not a plain identifier; it stays enabled during the mass load", schema.name, name)
        for index in disabled:
            self.run("mass", "disable_index", s=schema, index=index)
        self._disabled[schema.name] = disabled
        self.run("mass", "truncate", s=schema)

    def end_mass(self, schema: TableSchema, reindex: bool) -> None:
        """Inside the mass transaction: rebuild (ReIndexData: all indexes, else the disabled ones)."""
        disabled = self._disabled.pop(schema.name, [])
        if reindex:
            self.run("mass", "rebuild_all", s=schema)
        else:
            for index in disabled:
                self.run("mass", "rebuild_index", s=schema, index=index)
        self.run("mass", "update_statistics", s=schema)

    # ------------------------------------------------------------------ errors
    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, TableLockTimeout | TransientSyncError) or errors.is_transient(exc)

    def is_duplicate_key(self, exc: BaseException) -> bool:
        return errors.is_duplicate_key(exc)
