"""PostgreSQL target: COPY into session temp staging, guarded upsert, advisory locks.

The target needs a psycopg 3 connection (for ``cursor.copy()``): PostgresHook
hands one out with our pins (datasync.airflow.connections), the CLI opens one
with datasync.connections.drivers.

The connection runs in autocommit mode; the sync's transactions are explicit
(``transaction()``, nestable through savepoints). The session time zone is UTC,
so the ledger's TIMESTAMP columns hold UTC.

Bulk loading uses COPY ... FROM STDIN in binary form encoded from the Arrow
batch by pgpq, or CSV written by Arrow where a cache table's column types are
not datasync's own (datasync.targets.postgres_copy). psycopg's binary COPY fed
row by row from Python was 3x slower than either (tests/test_postgres_target.py
checks the round trips of NULL, empty strings, quotes, newlines, unicode and
decimals both ways).
"""

from __future__ import annotations

import hashlib
import io
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.rows import tuple_row

from datasync.core.errors import TableLockTimeout
from datasync.core.identifiers import quote_ansi
from datasync.core.schema import Column, TableSchema
from datasync.targets import postgres_copy
from datasync.targets.base import Target, lock_name
from datasync.targets.catalog import Rules

_TYPES = {"int": "BIGINT", "float": "DOUBLE PRECISION", "date": "DATE", "datetime": "TIMESTAMP"}
_CSV_BLOCK_BYTES = 1 << 20  # verify's COPY out: Arrow parses this much at a time (4 MB blocks: +35 MB RSS)

#: SQLSTATEs worth a retry: connection exceptions (class 08), serialization failure,
#: deadlock, lock not available, operator intervention (shutdown, restart, crash),
#: too many connections.
_TRANSIENT_SQLSTATES = ("40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300")



def advisory_key(kind: str, name: str) -> int:
    """A stable signed 64-bit advisory-lock key (the same in every process and release)."""
    digest = hashlib.blake2b(lock_name(kind, name).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresTarget(Target):
    dialect = "postgres"
    max_identifier_length = 63
    catalog_rules = Rules(case_sensitive_names=True)  # quoted names: "DOCO" is not "doco"

    def __init__(self, conn: psycopg.Connection, bulk_copy_batch_size: int = 10_000):
        conn.autocommit = True
        conn.row_factory = tuple_row
        super().__init__(conn, bulk_copy_batch_size)
        self._binary_tables: dict[str, bool] = {}  # cache table -> its columns take binary COPY
        self.fetch("lock", "utc_session")

    @classmethod
    def connect(cls, conninfo: str, bulk_copy_batch_size: int = 10_000) -> PostgresTarget:
        """Open from a libpq connection string or URI (tests, tools outside Airflow)."""
        return cls(psycopg.connect(conninfo), bulk_copy_batch_size)

    # ------------------------------------------------------------------ identifiers and values
    quote = staticmethod(quote_ansi)

    @staticmethod
    def placeholder(name: str) -> str:
        return f"%({name})s"

    def column_type(self, column: Column) -> str:
        if column.kind == "string":
            return f"VARCHAR({column.length})" if column.length else "TEXT"
        if column.kind == "decimal":
            return f"NUMERIC({column.precision},{column.scale})"
        return _TYPES[column.kind]

    # ------------------------------------------------------------------ execution
    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        try:
            with super()._cursor() as cur:
                yield cur
        except psycopg.Error:
            raise
        except BaseException:
            self._interrupted()
            raise

    def _interrupted(self, timeout_s: float = 10.0) -> None:
        """A non-driver exception (SIGTERM's SyncCancelled) stopped a call while the server was busy.

        psycopg cancels the running statement only for KeyboardInterrupt/SystemExit; otherwise the
        session stays "busy" and neither ROLLBACK nor the ledger's failure row could be sent. Cancel
        the statement and read the server's answers, so the transaction rolls back normally and the
        run is recorded as cancelled. If the server does not answer, close the session (the server
        then rolls back on its own and the next run closes the ledger row).
        """
        pg = self.conn.pgconn
        if self.conn.closed or pg.transaction_status != TransactionStatus.ACTIVE:
            return
        try:
            self.conn.cancel_safe(timeout=timeout_s)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                pg.consume_input()
                if pg.is_busy():
                    select.select([pg.socket], [], [], 0.1)
                    continue
                result = pg.get_result()
                if result is None:
                    return
                if result.status == ExecStatus.COPY_IN:
                    pg.put_copy_end(b"sync cancelled")
                    pg.flush()
        except Exception:  # noqa: BLE001 - the original exception is what matters
            pass
        self.conn.close()

    # ------------------------------------------------------------------ transactions and locks
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN … COMMIT, or a savepoint when nested; any exception rolls back."""
        with self.conn.transaction():
            yield

    @contextmanager
    def table_lock(self, table: str, timeout_s: float) -> Iterator[None]:
        """Session-level advisory lock on the table's key; the server frees it if the session dies."""
        key = advisory_key("table", table)
        if timeout_s <= 0:
            granted = self.fetch("lock", "try_lock", {"key": key})[0][0]
        else:
            granted = self._wait_for_lock(key, timeout_s)
        if not granted:
            raise TableLockTimeout(f"table {table}: another sync holds its lock")
        try:
            yield
        finally:
            self._unlock(key)

    def _wait_for_lock(self, key: int, timeout_s: float) -> bool:
        """Queue for the lock (woken the moment it is free) for at most ``timeout_s`` seconds."""
        ms = f"{max(1, int(timeout_s * 1000))}ms"
        self.fetch("lock", "set_lock_timeout", {"ms": ms})
        try:
            self.fetch("lock", "lock", {"key": key})
            return True
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            self.fetch("lock", "set_lock_timeout", {"ms": "0"})

    def _unlock(self, key: int) -> None:
        if self.conn.closed or self.conn.broken:
            return  # the server released it with the session
        try:
            self.fetch("lock", "unlock", {"key": key})
        except psycopg.Error:
            pass  # a dead session holds no locks; never mask the sync's own error

    # ------------------------------------------------------------------ DDL
    def _ddl_lock(self) -> None:
        """Serialises concurrent CREATE ... IF NOT EXISTS (which can still race on the catalog) until commit."""
        self.run("ddl", "ddl_lock", {"key": advisory_key("ddl", "schema")})

    # ------------------------------------------------------------------ loading
    def bulk_load(self, table: str, schema: TableSchema, batch: pa.RecordBatch, temp: bool) -> None:
        """COPY ``batch`` in one statement, BulkCopyBatchSize rows per write: binary where the types fit, else CSV.

        Staging tables are created with datasync's types; a cache table is looked up once per connection.
        """
        binary = temp or self._binary_fits(table, schema)
        sql = self.render("merge", "copy_binary" if binary else "copy_csv", table=table, cols=schema.column_names)
        step = max(1, self.bulk_copy_batch_size)
        with self.conn.cursor() as cur, cur.copy(sql) as copy:
            if binary:
                postgres_copy.write_binary(copy, schema, batch, step)
            else:
                postgres_copy.write_csv(copy, batch, step)

    def begin_mass(self, schema: TableSchema) -> None:
        """Also give the table its fill factor if it has none (include/sql/postgres/ddl.sql: HOT updates)."""
        if not self.fetch("mass", "fill_factor", {"table": self.quote(schema.name)}, s=schema):
            self.run("mass", "keep_page_room", s=schema)
        super().begin_mass(schema)

    def merged_counts(self, schema: TableSchema, staging: str, dedup: str) -> list[tuple]:
        """One statement: the latest staged row per key upserted with the newer-row guard (no de-dup table)."""
        return self.fetch("merge", "merge", s=schema, staging=staging)

    def _binary_fits(self, table: str, schema: TableSchema) -> bool:
        if table not in self._binary_tables:
            self._binary_tables[table] = postgres_copy.binary_fits(self.describe_table(table), schema)
        return self._binary_tables[table]

    def read_batches(self, schema: TableSchema) -> Iterator[pa.RecordBatch]:
        """COPY … TO STDOUT as CSV, parsed by Arrow's streaming CSV reader into ``schema``'s types (verify).

        Every value is quoted (FORCE_QUOTE), so an unquoted empty field is NULL and ``""`` an empty string.
        The COPY's data is read as Arrow asks for it: one block in memory, not the table.
        """
        arrow_schema = schema.arrow_schema()
        with self.conn.cursor() as cur, cur.copy(self.render("merge", "copy_out_csv", s=schema)) as copy:
            stream = _CopyReader(iter(copy))
            if not stream.peek():
                return
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    column_names=schema.column_names, block_size=_CSV_BLOCK_BYTES, use_threads=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={f.name: f.type for f in arrow_schema},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                    null_values=[""],
                ),
            )
            for batch in reader:
                yield batch.cast(arrow_schema)

    # ------------------------------------------------------------------ errors
    def is_duplicate_key(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.errors.UniqueViolation)

    def is_transient(self, exc: BaseException) -> bool:
        if not isinstance(exc, psycopg.Error):
            return False
        state = exc.sqlstate or ""
        if state.startswith("08") or state in _TRANSIENT_SQLSTATES:
            return True
        # A lost connection has no SQLSTATE: psycopg raises OperationalError and marks it broken.
        return isinstance(exc, psycopg.OperationalError) and not state


class _CopyReader(io.RawIOBase):
    """A COPY TO STDOUT's chunks as a readable file (what Arrow's CSV reader reads from)."""

    def __init__(self, chunks: Iterator[Any]):
        self._chunks = chunks
        self._held = memoryview(b"")

    def readable(self) -> bool:
        return True

    def peek(self) -> bytes:
        """The first data without consuming it (b"" when the table is empty)."""
        if not self._held:
            self._held = memoryview(bytes(next(self._chunks, b"")))
        return bytes(self._held[:1])

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from as many chunks as it holds (a COPY chunk is one row: Arrow wants blocks)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._held:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._held = memoryview(bytes(chunk))
            n = min(len(view) - filled, len(self._held))
            view[filled : filled + n] = self._held[:n]
            self._held = self._held[n:]
            filled += n
        return filled
