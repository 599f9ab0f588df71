"""SQLite target: the embedded default (demo, tests, small installs).

WAL mode lets readers keep seeing the last committed contents while a sync
writes; the per-table lock is an fcntl lock on a file beside the database,
released by the kernel when a killed process dies. Staging tables are TEMP
tables, so loading them does not hold the database's write lock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datasync.core.errors import TableLockTimeout
from datasync.core.identifiers import quote_ansi
from datasync.core.schema import Column, TableSchema
from datasync.targets.base import MergeCounts, Target
from datasync.targets.catalog import ExistingColumn, Rules, parse_declared_type
from datasync.targets.errors import duplicate_key_error

_TYPES = {"string": "TEXT", "int": "INTEGER", "float": "REAL", "date": "TEXT", "datetime": "TEXT"}
BUSY_TIMEOUT_MS = 60_000


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A connection the target can use from the sync's threads (session settings: SqliteTarget)."""
    return sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)


def database_path(conn: sqlite3.Connection) -> str:
    """The file of the connection's main database ('' for an in-memory one)."""
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or ""
    return ""


def to_sqlite_rows(batch: pa.RecordBatch) -> Iterator[tuple]:
    """Rows of ``batch`` as tuples of SQLite-storable values, converted column-wise in Arrow."""
    columns = []
    for col in batch.columns:
        t = col.type
        if pa.types.is_timestamp(t):
            col = pc.strftime(col, format="%Y-%m-%d %H:%M:%S")
        elif pa.types.is_date(t):
            col = pc.strftime(col, format="%Y-%m-%d")
        elif pa.types.is_decimal(t):
            col = pc.cast(col, pa.float64())
        columns.append(col.to_pylist())
    return zip(*columns)


def sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class SqliteTarget(Target):
    dialect = "sqlite"
    catalog_rules = Rules(enforces_types=False)  # any value fits any column; lengths are not enforced

    def __init__(self, conn: sqlite3.Connection, bulk_copy_batch_size: int = 10_000):
        """Autocommit (transactions are explicit), WAL, a generous busy timeout."""
        conn.isolation_level = None
        super().__init__(conn, bulk_copy_batch_size)
        self.path = database_path(conn)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")

    @classmethod
    def open(cls, path: str, bulk_copy_batch_size: int = 10_000) -> SqliteTarget:
        return cls(connect_sqlite(path), bulk_copy_batch_size)

    quote = staticmethod(quote_ansi)

    @staticmethod
    def placeholder(name: str) -> str:
        return f":{name}"

    def adapt(self, value: Any) -> Any:
        return sqlite_value(super().adapt(value))

    def column_type(self, column: Column) -> str:
        if column.kind == "decimal":
            return f"DECIMAL({column.precision},{column.scale})"
        return _TYPES[column.kind]

    def _existing_column(self, row: tuple) -> ExistingColumn:
        """SQLite's catalog has the declared type as written ('NVARCHAR(30)'): parse it."""
        name, length, precision, scale = parse_declared_type(str(row[1] or ""))
        return super()._existing_column((row[0], name, length, precision, scale, row[5], row[6]))

    def _begin(self) -> None:
        """BEGIN IMMEDIATE takes the write lock up front, so a writer never deadlocks on upgrade."""
        self.conn.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _lock_path(self, table: str) -> Path:
        base = self.path or os.path.join(tempfile.gettempdir(), f"datasync-mem-{os.getpid()}")
        return Path(f"{base}.{table.lower()}.lock")

    @contextmanager
    def table_lock(self, table: str, timeout_s: float) -> Iterator[None]:
        fd = os.open(self._lock_path(table), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TableLockTimeout(f"table {table}: another sync holds its lock") from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def bulk_load(self, table: str, schema: TableSchema, batch: pa.RecordBatch, temp: bool) -> None:
        sql = self.render("merge", "insert_rows", table=table, temp=temp, cols=schema.column_names)
        rows = to_sqlite_rows(batch)
        cur = self.conn.cursor()
        loaded_before = self.conn.total_changes
        try:
            cur.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            if temp or not self.is_duplicate_key(exc):
                raise
            # the rows before the failing one were inserted: their count is the failing row's index
            raise duplicate_key_error(schema, batch, exc, row=self.conn.total_changes - loaded_before) from exc
        finally:
            cur.close()

    def merge(self, schema: TableSchema, staging: str, dedup: str) -> MergeCounts:
        """SQLite has no MERGE: count first (we hold the lock and the write transaction), then upsert."""
        self.run("merge", "dedupe", s=schema, staging=staging, dedup=dedup)
        inserted, updated = self.fetch("merge", "count_changes", s=schema, dedup=dedup)[0]
        self.run("merge", "upsert", s=schema, dedup=dedup)
        return MergeCounts(int(inserted or 0), int(updated or 0))

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def is_duplicate_key(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(exc)
