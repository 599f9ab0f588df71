"""Helpers of the scenario battery: configs, a reference model of the target, canonical
table contents, and sync processes that pause at a fault point to be read and killed.

Everything here is dialect-neutral: a test written with these helpers runs unchanged on
SQLite, PostgreSQL and SQL Server.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from datasync.config import DataSyncConfig

from datasync.engine.configuration import parse_config
from datasync.airflow.connections import HookConnector
from datasync.engine.ledger import Ledger, LedgerRow
from datasync.core.schema import TableSchema
from datasync.engine.sync import SyncRequest, SyncResult, run_sync
from datasync.targets.base import Target
from memory_fetcher import MemoryFetcher, NullReader
from seed_config import table_entry as seed_table_entry

TARGET_CONN_ID = "datasync_target"
WAIT_S = 120  # upper bound for "this must happen": a hang fails the test instead of blocking the run


# --------------------------------------------------------------------------- config


def table_entry(name: str, fetcher: str = "MemoryFetcher", **overrides: Any) -> dict[str, Any]:
    """A DataSources entry in the seed's shape; MemoryFetcher unless told."""
    return seed_table_entry(name, fetcher, **overrides)


def make_config(*tables: str | dict, batch_size: int = 4, lock_timeout: float = 60, **extra: Any) -> DataSyncConfig:
    """A config of MemoryFetcher tables; BulkCopyBatchSize 3 so batches take several round trips."""
    entries = [t if isinstance(t, dict) else table_entry(t) for t in tables]
    raw = {
        "BatchSize": batch_size,
        "BulkCopyBatchSize": 3,
        "LockTimeoutSeconds": lock_timeout,
        "DataSources": entries,
        **extra,
    }
    return parse_config(raw)


# --------------------------------------------------------------------------- source rows and the reference model

NOW = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def row(i: int, site: str = "M30", name: str | None = "n", qty: str | None = "1.50", age_h: float = 48, **kw: Any) -> dict:
    """A MemoryFetcher source row; LastUpdateDT is ``age_h`` hours before now (whole seconds)."""
    r = {
        "Id": i,
        "Site": site,
        "Name": name,
        "Qty": None if qty is None else Decimal(qty),
        "Day": date(2024, 2, 29),
        "LastUpdateDT": NOW - timedelta(hours=age_h),
    }
    r.update(kw)
    return r


def initial_rows(n: int = 20) -> list[dict]:
    return [row(i, site=("M30", "D10")[i % 2], name=f"item {i}", qty=f"{i}.25") for i in range(1, n + 1)]


def changed_rows(rows: list[dict]) -> list[dict]:
    """The source after a day: every third row updated, two new rows, one late row with an older time."""
    out = [dict(r) for r in rows]
    for r in out[::3]:
        r.update(Name=f"{r['Name']} v2", Qty=r["Qty"] + 1, LastUpdateDT=NOW - timedelta(hours=1))
    out[1] = dict(out[1], Name="stale edit", LastUpdateDT=out[1]["LastUpdateDT"] - timedelta(hours=1))
    out += [row(900, name="new a", age_h=2), row(901, site="D10", name=None, qty=None, age_h=2)]
    return out


def apply(state: dict[tuple, dict], rows: Iterable[dict], schema: TableSchema) -> dict[tuple, dict]:
    """What the guarded merge must leave: new keys inserted, existing keys only replaced by a newer row."""
    out = dict(state)
    for key, r in dedupe_source(rows, schema).items():
        if key not in out or r[schema.last_update_column] > out[key][schema.last_update_column]:
            out[key] = r
    return out


def dedupe_source(rows: Iterable[dict], schema: TableSchema) -> dict[tuple, dict]:
    """A full load of ``rows``: per key the newest row, a tie going to the later one."""
    out: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(r[k] for k in schema.primary_key)
        if key not in out or r[schema.last_update_column] >= out[key][schema.last_update_column]:
            out[key] = r
    return out


# --------------------------------------------------------------------------- canonical contents


def canon(value: Any, column: Any) -> Any:
    """One stored value in a dialect-neutral form (SQLite keeps dates as text, decimals as REAL ...)."""
    if value is None:
        return None
    kind = column.kind
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(str(value)).quantize(Decimal(1).scaleb(-column.scale))
    if kind == "float":
        return float(value)
    if kind == "date":
        return date.fromisoformat(value[:10]) if isinstance(value, str) else (value.date() if isinstance(value, datetime) else value)
    if kind == "datetime":
        dt = datetime.fromisoformat(value) if isinstance(value, str) else value
        return dt.replace(tzinfo=None)
    return value


def canon_rows(rows: Iterable[dict], schema: TableSchema) -> dict[tuple, tuple]:
    out = {}
    for r in rows:
        values = tuple(canon(r[c.name], c) for c in schema.columns)
        out[tuple(canon(r[k], schema.column(k)) for k in schema.primary_key)] = values
    return out


def expected(state: dict[tuple, dict], schema: TableSchema) -> dict[tuple, tuple]:
    return canon_rows(state.values(), schema)


def contents(target: Target, schema: TableSchema) -> dict[tuple, tuple]:
    """The target table as {key: row}, canonical; a missing table reads as None."""
    if not target.table_exists(schema.name):
        return None  # type: ignore[return-value]
    cols = ", ".join(target.quote(c) for c in schema.column_names)
    rows = target.query(f"SELECT {cols} FROM {target.quote(schema.name)}")
    return canon_rows((dict(zip(schema.column_names, r)) for r in rows), schema)


def ledger_rows(target: Target, table: str) -> list[LedgerRow]:
    """DataUpdate rows of ``table``, oldest first."""
    return list(reversed(Ledger(target).recent(table, limit=1000)))


def memory_schema(table: str, config: DataSyncConfig) -> TableSchema:
    return MemoryFetcher(config.table(table), config.source_system("JDE"), None, config.batch_size).schema()


def sync(config: DataSyncConfig, target: Target, table: str, sync_type: str, **kw: Any) -> SyncResult:
    callbacks = {k: kw.pop(k) for k in ("progress", "on_started") if k in kw}
    return run_sync(config, SyncRequest(table, sync_type, **kw), target, NullReader, **callbacks)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Poll until ``condition`` holds; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------- targets


class Backend:
    """One target database for one test, reached through an Airflow connection URI."""

    name: str
    uri: str

    def open(self) -> Target:
        """A new Target on its own connection, opened the way the CLI and the DAGs open it."""
        return HookConnector().target(TARGET_CONN_ID, 3)

    def session_id(self, target: Target) -> Any:
        return None

    def is_waiting(self, session: Any) -> bool:
        """True while ``session`` waits for a lock held by another session (never on SQLite WAL readers)."""
        return False

    def sessions_waiting(self, target: Target) -> int:
        """Sessions of this database now waiting for a lock (0 where the server cannot tell)."""
        return 0

    def drop(self) -> None:
        pass


# --------------------------------------------------------------------------- sync processes


def _child_main(config: DataSyncConfig, request: SyncRequest, point: str | None, marker: str, sigterm: bool) -> None:
    """Body of a forked sync process: the CLI's SIGTERM handling, own target connection, run_sync."""
    if point:
        os.environ["DATASYNC_FAULT_AT"] = point
        os.environ["DATASYNC_FAULT_FILE"] = marker
    if sigterm:
        from datasync.cli.commands import _on_sigterm

        signal.signal(signal.SIGTERM, _on_sigterm)
    target = HookConnector().target(TARGET_CONN_ID, config.bulk_copy_batch_size)
    try:
        run_sync(config, request, target, NullReader)
    finally:
        target.close()


@dataclass
class SyncProcess:
    """A sync running in a forked process (it inherits the MemoryFetcher sources)."""

    proc: multiprocessing.process.BaseProcess
    marker: Path
    point: str | None

    @classmethod
    def start(
        cls, config: DataSyncConfig, request: SyncRequest, tmp_path: Path, point: str | None, sigterm: bool = True
    ) -> SyncProcess:
        marker = tmp_path / f"paused-{request.operation_id}"
        ctx = multiprocessing.get_context("fork")
        proc = ctx.Process(target=_child_main, args=(config, request, point, str(marker), sigterm), daemon=True)
        proc.start()
        return cls(proc, marker, point)

    def wait_paused(self) -> None:
        wait_for(lambda: self.marker.exists() or not self.proc.is_alive(), f"the sync to reach {self.point!r}")
        assert self.marker.exists(), f"sync exited with code {self.proc.exitcode} before reaching {self.point!r}"

    def resume(self) -> None:
        self.marker.unlink()

    def signal(self, sig: int) -> int:
        os.kill(self.proc.pid, sig)
        self.proc.join(WAIT_S)
        assert not self.proc.is_alive(), "sync process did not stop"
        return self.proc.exitcode

    def join(self) -> int:
        self.proc.join(WAIT_S)
        assert not self.proc.is_alive(), "sync process did not finish"
        return self.proc.exitcode


class Reader(threading.Thread):
    """A reader on its own connection: one full read of a table, or reads in a loop until stopped."""

    def __init__(self, backend: Backend, schema: TableSchema, loop: bool = False):
        super().__init__(daemon=True)
        self.backend = backend
        self.target = backend.open()
        self.session = backend.session_id(self.target)
        self.schema = schema
        self.loop = loop
        self.stop = threading.Event()
        self.seen: list[dict] = []
        self.error: BaseException | None = None

    def done_or_blocked(self) -> bool:
        """True once the first read returned, or while the server makes it wait for a writer's lock."""
        return bool(self.seen) or self.error is not None or self.backend.is_waiting(self.session)

    def run(self) -> None:
        try:
            while True:
                self.seen.append(contents(self.target, self.schema))
                if not self.loop or self.stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.target.close()

    def finish(self) -> list[dict]:
        self.stop.set()
        self.join(WAIT_S)
        assert not self.is_alive(), "reader hung"
        if self.error:
            raise self.error
        return self.seen
