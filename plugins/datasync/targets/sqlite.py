"""SQLite target: the embedded default (demo, tests, small installs).

WAL mode lets readers keep seeing the last committed contents while a sync
writes; the per-table lock is an fcntl lock on a file beside the database,
released by the kernel when a killed process dies. Staging tables are TEMP
tables, so loading them does not hold the database's write lock.
"""

from __future__ import annotations

import fcntl
import glob
import json
import logging
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datasync.core.errors import SourceDataError, TableLockTimeout
from datasync.core.faults import checkpoint
from datasync.core.identifiers import quote_ansi
from datasync.core.rowkeys import format_key
from datasync.core.schema import Column, TableSchema
from datasync.targets.base import MergeCounts, Target
from datasync.targets.catalog import ExistingColumn, Rules, parse_declared_type
from datasync.targets.errors import duplicate_key_error

log = logging.getLogger(__name__)

_TYPES = {"string": "TEXT", "int": "INTEGER", "float": "REAL", "date": "TEXT", "datetime": "TEXT"}
BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 32_768
"""Page cache per connection (SQLite's default is 2 MiB): a Daily's upsert into a big table rereads fewer pages."""
KEY_JSON_ROWS = 100_000  # delete detection: keys per json_each statement


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A connection the target can use from the sync's threads (session settings: SqliteTarget)."""
    return sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)


def database_path(conn: sqlite3.Connection) -> str:
    """The file of the connection's main database ('' for an in-memory one)."""
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or ""
    return ""


def sqlite_columns(batch: pa.RecordBatch) -> list[pa.Array]:
    """The columns of ``batch`` as SQLite stores them: times as text, decimals as REAL (Arrow kernels).

    Times are cast to text ("2024-03-01 12:00:00" and the unit's fraction, like
    ``strftime("%Y-%m-%d %H:%M:%S")`` but about 15x faster); zoned ones as their UTC wall time.
    """
    columns = []
    for col in batch.columns:
        t = col.type
        if pa.types.is_timestamp(t):
            col = pc.cast(col.cast(pa.timestamp(t.unit)) if t.tz else col, pa.string())
        elif pa.types.is_date(t):
            col = pc.cast(col, pa.string())
        elif pa.types.is_decimal(t):
            col = pc.cast(col, pa.float64())
        columns.append(col)
    return columns


def to_sqlite_rows(batch: pa.RecordBatch) -> Iterator[tuple]:
    """Rows of ``batch`` as tuples of SQLite-storable values, converted column-wise in Arrow."""
    return zip(*(col.to_pylist() for col in sqlite_columns(batch)))


LOAD_SCHEMA = "datasync_load"  # the side file's name on the target connection
LOAD_TABLE = "rows"


def ingest_side_file(path: str, batches: Iterable[pa.RecordBatch]) -> int:
    """Bulk-load ``batches`` into a new SQLite file with ADBC (no Python per row); the rows loaded.

    The file is scratch: no journal, no syncs, one transaction. Nothing is created for no rows.
    """
    # The low-level API: adbc_driver_manager.dbapi would import pyarrow.dataset and pandas (~50 MB RSS).
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite

    handles: list[Any] = []
    rows = 0
    try:
        db = adbc_driver_sqlite.connect(path)
        handles.append(db)
        conn = adbc.AdbcConnection(db)
        handles.append(conn)
        for pragma in ("PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF"):
            stmt = adbc.AdbcStatement(conn)
            stmt.set_sql_query(pragma)
            stmt.execute_update()
            stmt.close()
        conn.set_autocommit(False)
        for batch in batches:
            converted = pa.RecordBatch.from_arrays(sqlite_columns(batch), names=batch.schema.names)
            stmt = adbc.AdbcStatement(conn)
            try:
                stmt.set_options(
                    **{
                        adbc.StatementOptions.INGEST_TARGET_TABLE.value: LOAD_TABLE,
                        adbc.StatementOptions.INGEST_MODE.value: adbc.INGEST_OPTION_MODE_APPEND
                        if rows
                        else adbc.INGEST_OPTION_MODE_CREATE,
                    }
                )
                stmt.bind(converted)
                stmt.execute_update()
            finally:
                stmt.close()
            rows += batch.num_rows
            checkpoint("load")
        if rows:
            conn.commit()
    finally:
        for handle in reversed(handles):
            handle.close()
    return rows


def sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def remove_stale_side_files(prefix: str) -> list[str]:
    """Delete the side files a killed Mass of this table left (``prefix`` + id, and their journals).

    Called under the table's lock: no other process can be loading this table, so every such
    file is an earlier run's. Returns the removed paths.
    """
    removed = []
    for path in glob.glob(glob.escape(prefix) + "*"):
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
    if removed:
        log.warning("removed %d file(s) a killed Mass left: %s", len(removed), ", ".join(removed))
    return removed


class SqliteTarget(Target):
    dialect = "sqlite"
    catalog_rules = Rules(enforces_types=False)  # any value fits any column; lengths are not enforced

    def __init__(self, conn: sqlite3.Connection, bulk_copy_batch_size: int = 10_000):
        """Autocommit (transactions are explicit), WAL, a generous busy timeout."""
        conn.isolation_level = None
        super().__init__(conn, bulk_copy_batch_size)
        self.path = database_path(conn)
        self._loaded = False  # a Mass's side file is attached (preloaded)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if self.path:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")

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

    @contextmanager
    def preloaded(self, schema: TableSchema, batches: Iterable[pa.RecordBatch]) -> Iterator[int | None]:
        """A Mass's rows bulk-loaded by ADBC into a side file beside the database, then ATTACHed.

        ADBC needs its own connection, which cannot write inside this connection's transaction,
        and ATTACH cannot happen inside one: so the load comes first, the copy in the transaction
        (``load_preloaded``: one INSERT ... SELECT in SQLite's own code). An in-memory database
        streams its rows through executemany instead.
        """
        if not self.path:
            yield None
            return
        prefix = f"{self.path}.load-{schema.name.lower()}-"
        remove_stale_side_files(prefix)
        side = f"{prefix}{uuid.uuid4().hex[:12]}"
        self._loaded = False
        try:
            rows = ingest_side_file(side, batches)
            if rows:
                self.run("mass", "attach_load", {"path": side}, load=LOAD_SCHEMA)
                self._loaded = True
            try:
                yield rows
            finally:
                if self._loaded:
                    self._loaded = False
                    self.run("mass", "detach_load", load=LOAD_SCHEMA)
        finally:
            for suffix in ("", "-journal"):
                Path(side + suffix).unlink(missing_ok=True)

    def load_preloaded(self, schema: TableSchema) -> None:
        if not self._loaded:
            return  # nothing came from the source
        try:
            self.run("mass", "copy_loaded", s=schema, load=LOAD_SCHEMA, rows=LOAD_TABLE)
        except sqlite3.IntegrityError as exc:
            if not self.is_duplicate_key(exc):
                raise
            raise self._duplicate_loaded(schema, exc) from exc

    def _duplicate_loaded(self, schema: TableSchema, exc: sqlite3.IntegrityError) -> SourceDataError:
        """The same explanation as a streamed load's (targets.errors), the key found in the side file."""
        found = self.fetch("mass", "first_duplicate", s=schema, load=LOAD_SCHEMA, rows=LOAD_TABLE)
        where = (
            f"duplicate key ({format_key(zip(schema.primary_key, found[0]))})"
            if found
            else "a key of this load was already in the table"
        )
        return SourceDataError(
            f"table {schema.name}, key column(s) {', '.join(schema.primary_key)}: {where}; "
            f"a Mass load needs unique keys (target said: {exc})"
        )

    def load_key_batch(self, keys_schema: TableSchema, keys: str, batch: pa.RecordBatch) -> None:
        """Integer and string keys go as JSON arrays through json_each, KEY_JSON_ROWS per statement."""
        if any(c.kind not in ("int", "string") for c in keys_schema.columns):
            return super().load_key_batch(keys_schema, keys, batch)
        sql = self.render("deletes", "insert_keys_json", s=keys_schema, keys=keys)
        for start in range(0, batch.num_rows, KEY_JSON_ROWS):
            chunk = batch.slice(start, KEY_JSON_ROWS)
            columns = [col.to_pylist() for col in chunk.columns]
            values = columns[0] if len(columns) == 1 else [list(r) for r in zip(*columns)]
            self.conn.execute(sql, {"keys": json.dumps(values, ensure_ascii=False)})

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
