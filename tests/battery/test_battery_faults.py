"""Faults on every target: a sync process killed with SIGKILL, or stopped with SIGTERM, at each
fault point of a Mass with PrepurgeData and of a Daily. A reader meanwhile never sees an empty or
partial table; the next run converges to the source and closes the orphaned ledger row.

Each sync runs in a forked process (it inherits the in-memory source) that pauses at a named
point of datasync.core.faults; the test then reads the target from another connection and kills it.
The CLI process itself is cancelled and killed in test_battery_jde.py.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from battery.battery_lib import (
    Reader,
    SyncProcess,
    apply,
    changed_rows,
    contents,
    dedupe_source,
    expected,
    initial_rows,
    ledger_rows,
    make_config,
    memory_schema,
    sync,
    wait_for,
)
from datasync.core.faults import POINTS
from datasync.engine.sync import SyncRequest
from memory_fetcher import MemoryFetcher

TABLE = "Items"


def prepare(target):
    """Items loaded by a Mass from 20 rows; the source then changes (updates, new rows, a late row)."""
    cfg = make_config(TABLE, batch_size=4)
    schema = memory_schema(TABLE, cfg)
    first = initial_rows(20)
    MemoryFetcher.sources[TABLE] = first
    sync(cfg, target, TABLE, "Mass")
    MemoryFetcher.sources[TABLE] = changed_rows(first)
    return cfg, schema, first


def converged(sync_type: str, first: list[dict], schema) -> dict:
    """The table after a successful run of ``sync_type`` over the changed source."""
    new = MemoryFetcher.sources[TABLE]
    if sync_type == "Mass":
        return expected(dedupe_source(new, schema), schema)
    return expected(apply(dedupe_source(first, schema), new, schema), schema)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("sync_type", ["Mass", "Daily"])
def test_sigkill_at_each_point(backend, target, tmp_path, sync_type, point):
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    request = SyncRequest(TABLE, sync_type)
    child = SyncProcess.start(cfg, request, tmp_path, point)
    child.wait_paused()

    reader = Reader(backend, schema)
    reader.start()
    # the reader has its answer (SQLite, or a Daily) or the server holds it until the writer ends
    wait_for(reader.done_or_blocked, "the reader to read or to wait for the writer")
    assert child.signal(signal.SIGKILL) == -signal.SIGKILL
    assert reader.finish() == [before]  # never empty, never partial: the old contents
    assert contents(target, schema) == before

    orphan = ledger_rows(target, TABLE)[-1]
    assert (orphan.operation_id, orphan.number_records) == (request.operation_id, -2)

    result = sync(cfg, target, TABLE, sync_type)
    assert contents(target, schema) == converged(sync_type, first, schema)
    rows = {x.operation_id: x for x in ledger_rows(target, TABLE)}
    closed = rows[request.operation_id]
    assert (closed.number_records, closed.was_successful) == (-1, False)
    assert "interrupted" in closed.error_message and closed.end_dt is not None
    assert rows[result.operation_id].was_successful
    assert [x.number_records for x in ledger_rows(target, TABLE)].count(-2) == 0


@pytest.mark.parametrize("sync_type, point", [("Mass", "load"), ("Mass", "finish"), ("Daily", "fetch"), ("Daily", "merge")])
def test_sigterm_marks_the_run_cancelled(backend, target, tmp_path, sync_type, point):
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    request = SyncRequest(TABLE, sync_type)
    child = SyncProcess.start(cfg, request, tmp_path, point, sigterm=True)
    child.wait_paused()
    assert child.signal(signal.SIGTERM) == 1  # SyncCancelled raised by the handler, recorded, re-raised
    assert contents(target, schema) == before
    last = ledger_rows(target, TABLE)[-1]
    assert last.operation_id == request.operation_id
    assert (last.number_records, last.was_successful) == (-1, False)
    assert last.error_message == "cancelled: received signal SIGTERM" and last.end_dt is not None
    # nothing is left for the next run to close; it simply converges
    sync(cfg, target, TABLE, sync_type)
    assert contents(target, schema) == converged(sync_type, first, schema)
    assert [x.number_records for x in ledger_rows(target, TABLE)][-2:] == [-1, len(MemoryFetcher.sources[TABLE])]


def test_recovery_closes_an_orphan_only_once_its_lock_is_free(backend, target, tmp_path):
    """The recovery job leaves a running sync's row alone and closes it once the process is dead."""
    from datasync.engine import service

    cfg, schema, _ = prepare(target)
    request = SyncRequest(TABLE, "Daily")
    child = SyncProcess.start(cfg, request, tmp_path, "load")
    child.wait_paused()
    assert service.recover(cfg, target) == {}
    assert ledger_rows(target, TABLE)[-1].number_records == -2
    child.signal(signal.SIGKILL)
    wait_for(lambda: _lock_free(target), "the killed session's lock to be released")
    assert service.recover(cfg, target) == {TABLE: 1}
    last = ledger_rows(target, TABLE)[-1]
    assert last.operation_id == request.operation_id and last.number_records == -1
    assert "closed by recovery" in last.error_message


def _lock_free(target) -> bool:
    from datasync.core.errors import TableLockTimeout

    try:
        with target.try_table_lock(TABLE):
            return True
    except TableLockTimeout:
        return False


BLOCKING_READ = {
    # a report query inside an open transaction: it holds a shared lock on the table until it ends
    "postgres": 'SELECT count(*) FROM "Items"',
    "mssql": "SELECT COUNT(*) FROM [Items] WITH (HOLDLOCK, TABLOCK)",
}


@pytest.mark.parametrize("sync_type", ["Mass", "Daily"])
def test_sigterm_while_the_sync_waits_inside_a_statement(backend, target, tmp_path, sync_type):
    """SIGTERM arrives while the server is running (here: blocking) one of the sync's statements:
    the statement is cancelled, the transaction rolled back and the run recorded as cancelled."""
    if backend.name == "sqlite":
        pytest.skip("SQLite readers never block a writer (WAL), and its waits are not statements")
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    blocker = backend.open()
    try:
        with blocker.transaction():
            assert blocker.query(BLOCKING_READ[backend.name]) == [(20,)]
            request = SyncRequest(TABLE, sync_type)
            child = SyncProcess.start(cfg, request, tmp_path, None, sigterm=True)
            # Mass waits to empty the table; Daily waits to update rows the reader holds (SQL Server)
            # or, on PostgreSQL, gets through (readers do not block row updates): then it just finishes
            wait_for(lambda: backend.sessions_waiting(target) > 0 or not child.proc.is_alive(), "the sync to block")
            if not child.proc.is_alive():
                assert sync_type == "Daily" and child.proc.exitcode == 0
                return
            assert child.signal(signal.SIGTERM) == 1
            assert blocker.query(BLOCKING_READ[backend.name]) == [(20,)]
    finally:
        blocker.close()
    last = ledger_rows(target, TABLE)[-1]
    assert last.operation_id == request.operation_id
    assert (last.number_records, last.was_successful, last.error_message) == (-1, False, "cancelled: received signal SIGTERM")
    assert contents(target, schema) == before
    sync(cfg, target, TABLE, sync_type)
    assert contents(target, schema) == converged(sync_type, first, schema)


def test_sigterm_while_waiting_for_the_sqlite_write_lock(backend, target, tmp_path):
    """SQLite handles the signal only once its busy wait ends (the wait is in C): the cancellation
    then arrives right after BEGIN IMMEDIATE returns and must still be rolled back and recorded."""
    if backend.name != "sqlite":
        pytest.skip("the servers' lock waits are statements: test_sigterm_while_the_sync_waits_inside_a_statement")
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    request = SyncRequest(TABLE, "Daily")
    child = SyncProcess.start(cfg, request, tmp_path, "load", sigterm=True)
    child.wait_paused()  # staging is a TEMP table: no write lock yet
    blocker = backend.open()
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the database's write lock
    child.resume()
    time.sleep(1)  # let it load the rest into staging and queue for the write lock (no assertion on time)
    os.kill(child.proc.pid, signal.SIGTERM)
    blocker.execute("COMMIT")
    blocker.close()
    assert child.join() == 1
    last = ledger_rows(target, TABLE)[-1]
    assert last.operation_id == request.operation_id
    assert (last.number_records, last.error_message) == (-1, "cancelled: received signal SIGTERM")
    assert contents(target, schema) == before
