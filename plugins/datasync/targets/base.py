"""The target dialect interface: everything the sync operation needs from a database.

The sync algorithm (datasync.engine.sync) is written once against this class; each
dialect module (sqlite, postgres, mssql) overrides the small hooks that differ:
quoting, placeholders, bulk loading, locks, and its SQL templates in
include/sql/<dialect>/. A Target wraps one open DB-API connection: parallel
syncs never share one.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar

import pyarrow as pa

from datasync.core.identifiers import short_name, validate_identifier
from datasync.core.schema import TableSchema
from datasync.core.sqltemplates import SqlTemplates
from datasync.core.times import utc_naive
from datasync.targets.catalog import ExistingColumn, ExistingTable, Rules

log = logging.getLogger(__name__)

LEDGER_TABLE = "DataUpdate"
LOCK_NAMESPACE = "datasync"


def lock_name(kind: str, name: str) -> str:
    """The name of a datasync lock (``datasync:table:workorder_curr``): table names compare case-blind."""
    return f"{LOCK_NAMESPACE}:{kind}:{name.lower()}"


@dataclass(frozen=True)
class MergeCounts:
    inserted: int
    updated: int
    #: rows delete detection removed; None when the run did not detect deletes
    deleted: int | None = None


class Target(ABC):
    """One connection to the target database, with the dialect's SQL and loading hooks."""

    dialect: ClassVar[str]
    #: the longest identifier the database keeps whole; longer generated names are shortened
    max_identifier_length: ClassVar[int] = 128
    #: the longest name of a session temp table (SQL Server appends a suffix to #names)
    max_temp_name_length: ClassVar[int] = 128
    #: what the database enforces when an existing table is compared with a schema
    catalog_rules: ClassVar[Rules] = Rules()
    #: DataUpdate was found ready on this connection (created, or upgraded from the .NET shape)
    ledger_ready: bool = False

    def __init__(self, conn: Any, bulk_copy_batch_size: int = 10_000):
        """``conn``: an open DB-API connection (from the provider's hook or datasync.connections)."""
        self.conn = conn
        self.bulk_copy_batch_size = bulk_copy_batch_size
        self._depth = 0  # nesting of transaction() blocks
        self.templates = SqlTemplates(self.dialect, self._checked_quote, self.placeholder)

    def _checked_quote(self, name: str) -> str:
        """The templates' ``q`` filter: only a validated plain identifier ever reaches SQL text."""
        return self.quote(validate_identifier(name))

    # ------------------------------------------------------------------ identifiers and SQL
    @staticmethod
    @abstractmethod
    def quote(name: str) -> str:
        """Quote an identifier, doubling the quote character."""

    @staticmethod
    @abstractmethod
    def placeholder(name: str) -> str:
        """The driver's named placeholder for a bound value."""

    def ident(self, name: str, what: str = "identifier") -> str:
        return self.quote(validate_identifier(name, what, self.max_identifier_length))

    def render(self, family: str, statement: str, **params: Any) -> str:
        return self.templates.render(family, statement, **params)

    # ------------------------------------------------------------------ execution
    def adapt(self, value: Any) -> Any:
        """Convert a Python value into what the driver stores (datetimes are UTC-naive)."""
        if isinstance(value, datetime) and value.tzinfo is not None:
            return utc_naive(value)
        return value

    def to_datetime(self, value: Any) -> datetime | None:
        """Read a stored UTC timestamp back as an aware datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run one statement; return the driver's rowcount."""
        with self._cursor() as cur:
            self._send(cur, sql, params)
            return cur.rowcount

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        with self._cursor() as cur:
            self._send(cur, sql, params)
            return [tuple(r) for r in cur.fetchall()]

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor for one statement, closed afterwards (dialects add their interrupt handling)."""
        cur = self.conn.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _send(self, cur: Any, sql: str, params: dict[str, Any] | None) -> None:
        # Without parameters the text goes as it is (pymssql would run a %-formatting pass).
        if params:
            cur.execute(sql, {k: self.adapt(v) for k, v in params.items()})
        else:
            cur.execute(sql)

    def query_chunks(self, sql: str, size: int, params: dict[str, Any] | None = None) -> Iterator[list[tuple]]:
        """A query's rows, ``size`` at a time (the driver's fetchmany): a big read never holds every row as tuples."""
        with self._cursor() as cur:
            self._send(cur, sql, params)
            while True:
                rows = cur.fetchmany(size)
                if not rows:
                    return
                yield [tuple(r) for r in rows]

    def read_batches(self, schema: TableSchema) -> Iterator[pa.RecordBatch] | None:
        """The whole table streamed as Arrow batches in ``schema``'s types, where the dialect has a bulk way out.

        None when it has none (verify then reads the rows in chunks).
        """
        return None

    def execute_many(self, sql: str, rows: Sequence[dict[str, Any]]) -> None:
        """Run one statement once per parameter set (the driver's executemany)."""
        if not rows:
            return
        with self._cursor() as cur:
            cur.executemany(sql, [{k: self.adapt(v) for k, v in r.items()} for r in rows])

    def run(self, family: str, statement: str, params: dict[str, Any] | None = None, **kw: Any) -> int:
        return self.execute(self.render(family, statement, **kw), params)

    def fetch(self, family: str, statement: str, params: dict[str, Any] | None = None, **kw: Any) -> list[tuple]:
        return self.query(self.render(family, statement, **kw), params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit: commit on success, roll back on any exception (cancellation included).

        A nested block joins the outer transaction. Dialects supply ``_begin``, ``_commit``
        and ``_rollback`` (or override this with the driver's own transaction block).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            # BEGIN inside the try: a signal raised the moment BEGIN returns must still roll back
            self._begin()
            yield
        except BaseException:
            self._depth = 0
            self._rollback()
            raise
        self._depth = 0
        self._commit()

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must not mask the real error
            pass

    # ------------------------------------------------------------------ locks
    @contextmanager
    @abstractmethod
    def table_lock(self, table: str, timeout_s: float) -> Iterator[None]:
        """Hold the per-table sync lock; raise TableLockTimeout if not granted in time."""

    def try_table_lock(self, table: str) -> Any:
        """Context manager that holds the lock if free right now, else raises TableLockTimeout."""
        return self.table_lock(table, 0)

    # ------------------------------------------------------------------ DDL
    def table_exists(self, name: str) -> bool:
        return bool(self.fetch("ddl", "table_exists", {"name": name}, name=name))

    def _ddl_lock(self) -> None:
        """Inside the creating transaction: keep concurrent "create if missing" of tables apart.

        A no-op where the transaction itself serialises writers (SQLite's BEGIN IMMEDIATE).
        """

    @contextmanager
    def ddl_transaction(self) -> Iterator[None]:
        """One transaction holding the DDL lock: concurrent creators and upgraders take turns."""
        with self.transaction():
            self._ddl_lock()
            yield

    @contextmanager
    def _creating(self, name: str) -> Iterator[bool]:
        """A DDL transaction under the DDL lock, yielding whether ``name`` still has to be created."""
        if self.table_exists(name):
            yield False
            return
        with self.ddl_transaction():
            yield not self.table_exists(name)

    def describe_table(self, name: str) -> ExistingTable | None:
        """The columns and primary key of an existing table as the catalog has them; None if missing."""
        params = {"name": self._catalog_name(name)}
        rows = self.fetch("catalog", "columns", params)
        if not rows:
            return None
        key = tuple(str(r[0]) for r in self.fetch("catalog", "primary_key", params))
        return ExistingTable(name, tuple(self._existing_column(r) for r in rows), key)

    def index_names(self, name: str) -> set[str]:
        """The names of an existing table's indexes as the catalog has them."""
        return {str(r[0]) for r in self.fetch("catalog", "indexes", {"name": self._catalog_name(name)})}

    def _catalog_name(self, name: str) -> str:
        """How the catalog queries take a table name (SQL Server: bracket-quoted, for OBJECT_ID)."""
        return validate_identifier(name, "table")

    def _existing_column(self, row: tuple) -> ExistingColumn:
        """A catalog row (name, type, length, precision, scale, nullable, has_default) as a column."""
        name, type_name, length, precision, scale, nullable, has_default = row[:7]
        return ExistingColumn(
            str(name),
            str(type_name).lower(),
            None if length is None else int(length),
            None if precision is None else int(precision),
            None if scale is None else int(scale),
            bool(nullable),
            bool(has_default),
        )

    def ensure_table(self, schema: TableSchema) -> None:
        """Create the target table and its indexes if missing."""
        types = self.column_types(schema)  # a type the dialect cannot index fails before any DDL
        with self._creating(schema.name) as missing:
            if missing:
                self.run("ddl", "create_table", s=schema, types=types, pk_name=self.pk_name(schema))
                for ix in schema.indexes:
                    self.run("ddl", "create_index", s=schema, index=self.index_name(schema, ix), cols=ix)

    def ensure_ledger(self) -> bool:
        """Create DataUpdate if missing; True if this call created it."""
        with self._creating(LEDGER_TABLE) as missing:
            if missing:
                self.run_statements("ledger", "create")
        return bool(missing)

    def run_statements(self, family: str, statement: str, **kw: Any) -> None:
        """Run a macro that renders several statements separated by ";\n", one by one."""
        for stmt in self.render(family, statement, **kw).split(";\n"):
            if stmt.strip():
                self.execute(stmt)

    def fit(self, name: str, limit: int | None = None) -> str:
        """A generated name (index, constraint, staging table) shortened to what the dialect keeps whole."""
        return short_name(name, limit or self.max_identifier_length)

    def pk_name(self, schema: TableSchema) -> str:
        return self.fit(f"PK_{schema.name}")

    def index_name(self, schema: TableSchema, columns: tuple[str, ...]) -> str:
        return self.fit(schema.index_name(columns))

    def column_types(self, schema: TableSchema) -> dict[str, str]:
        return {c.name: self.column_type(c) for c in schema.columns}

    @abstractmethod
    def column_type(self, column: Any) -> str:
        """DDL type of a schema Column."""

    # ------------------------------------------------------------------ loading
    def staging_names(self, table: str, operation_id: str) -> tuple[str, str]:
        """(#Staging{Table}_{OperationId}, #{Table}_{OperationId}) without the dialect's temp prefix."""
        limit = self.max_temp_name_length
        return self.fit(f"Staging{table}_{operation_id}", limit), self.fit(f"{table}_{operation_id}", limit)

    def create_staging(self, schema: TableSchema, staging: str) -> None:
        log.debug("creating staging table %s for %s", staging, schema.name)
        self.run("merge", "create_staging", s=schema, staging=staging, types=self.column_types(schema))

    @abstractmethod
    def bulk_load(self, table: str, schema: TableSchema, batch: pa.RecordBatch, temp: bool) -> None:
        """Append ``batch`` to ``table`` (a staging temp table when ``temp``) in bulk."""

    @contextmanager
    def preloaded(self, schema: TableSchema, batches: Iterable[pa.RecordBatch]) -> Iterator[int | None]:
        """Around a Mass's transaction: the rows the target loaded beforehand, or None to stream them inside it.

        A dialect whose bulk path cannot join the transaction (SQLite's ADBC ingest needs its own
        connection) loads every batch into a place of its own first and copies it in
        ``load_preloaded``; the others stream the batches into the emptied table.
        """
        yield None

    def load_preloaded(self, schema: TableSchema) -> None:
        """Inside the Mass's transaction: copy what ``preloaded`` loaded into the emptied table."""
        raise NotImplementedError

    def merge(self, schema: TableSchema, staging: str, dedup: str) -> MergeCounts:
        """De-duplicate staging (latest LastUpdateDT wins) and upsert with the newer-row guard."""
        rows = self.merged_counts(schema, staging, dedup)
        inserted, updated = rows[-1] if rows else (0, 0)
        counts = MergeCounts(int(inserted or 0), int(updated or 0))
        log.debug("merged %s into %s: %d inserted, %d updated", dedup, schema.name, counts.inserted, counts.updated)
        return counts

    def merged_counts(self, schema: TableSchema, staging: str, dedup: str) -> list[tuple]:
        """Run the merge; its result rows, the last one (inserted, updated)."""
        self.run("merge", "dedupe", s=schema, staging=staging, dedup=dedup)
        return self.fetch("merge", "merge", s=schema, dedup=dedup)

    def drop_staging(self, names: Sequence[str]) -> None:
        for name in names:
            self.run("merge", "drop_temp", name=name)

    def begin_mass(self, schema: TableSchema) -> None:
        """Inside the mass transaction: drop the non-PK indexes (loading without them is faster), empty the table."""
        log.debug("mass load of %s: dropping %d index(es), emptying the table", schema.name, len(schema.indexes))
        for ix in schema.indexes:
            self.run("mass", "drop_index", index=self.index_name(schema, ix))
        self.run("mass", "truncate", s=schema)

    def end_mass(self, schema: TableSchema, reindex: bool) -> None:
        """Inside the mass transaction: build the indexes over the loaded rows, refresh statistics."""
        for ix in schema.indexes:
            self.run("ddl", "create_index", s=schema, index=self.index_name(schema, ix), cols=ix)
        self.run("mass", "analyze", s=schema)

    # ------------------------------------------------------------------ delete detection
    #: rows per DELETE statement where the dialect deletes in batches (SQL Server)
    delete_batch_size: ClassVar[int] = 5_000

    def key_staging_name(self, table: str, operation_id: str) -> str:
        """#Keys{Table}_{OperationId} without the dialect's temp prefix: the source's keys."""
        return self.fit(f"Keys{table}_{operation_id}", self.max_temp_name_length)

    def create_key_staging(self, keys_schema: TableSchema, keys: str) -> None:
        """The session temp table the key scan fills (``keys_schema``: TableSchema.keys_only())."""
        self.run("deletes", "create_keys", s=keys_schema, keys=keys, types=self.column_types(keys_schema))

    def load_key_batch(self, keys_schema: TableSchema, keys: str, batch: pa.RecordBatch) -> None:
        """Append a batch of the key scan to the key table (the dialect's bulk load)."""
        self.bulk_load(keys, keys_schema, batch, temp=True)

    def index_key_staging(self, keys_schema: TableSchema, keys: str) -> None:
        """Index the loaded keys (after the load: one sort instead of index maintenance per row)."""
        self.run_statements("deletes", "index_keys", s=keys_schema, keys=keys)

    def count_rows(self, schema: TableSchema) -> int:
        return int(self.fetch("deletes", "count_rows", s=schema)[0][0])

    def count_missing(self, schema: TableSchema, keys: str) -> int:
        """Rows of the target whose key the source no longer has."""
        return int(self.fetch("deletes", "count_missing", s=schema, keys=keys)[0][0])

    def sample_missing(self, schema: TableSchema, keys: str, limit: int = 5) -> list[tuple]:
        return self.fetch("deletes", "sample_missing", s=schema, keys=keys, limit=limit)

    def delete_missing(self, schema: TableSchema, keys: str, limit: int | None = None) -> int:
        """Delete the rows whose key the source no longer has, inside the caller's transaction; the count.

        ``limit``: the guard's bound; a dialect that deletes in batches may stop once past it
        (the caller then refuses and rolls back). One set-based statement here.
        """
        return self.run("deletes", "delete_missing", s=schema, keys=keys)

    # ------------------------------------------------------------------ errors
    def is_transient(self, exc: BaseException) -> bool:
        """True when a driver error may pass on a retry (lost connection, deadlock, lock timeout)."""
        return False

    def is_duplicate_key(self, exc: BaseException) -> bool:
        """True when a driver error is a primary-key violation (a Mass load of duplicate keys)."""
        return False
