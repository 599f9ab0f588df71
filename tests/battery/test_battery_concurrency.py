"""Concurrency on every target: eight tables syncing at once with MaxDegreeOfParallelism 8; two
runs of one table never both write (the second waits, times out, or is skipped by type);
readers during a mass see the old or the new contents only; nothing deadlocks."""

from __future__ import annotations

import threading
import time

import pytest

from battery.battery_lib import (
    WAIT_S,
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
    row,
    sync,
    wait_for,
)
from datasync.engine import service
from datasync.core.errors import TableLockTimeout
from datasync.engine.sync import SyncRequest
from memory_fetcher import MemoryFetcher

TABLE = "Items"


def lock_waiters(backend, target) -> int | None:
    """Sessions queued for a per-table lock, where the server can tell (None on SQLite: a file lock)."""
    if backend.name == "postgres":
        return target.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")[0][0]
    if backend.name == "mssql":
        return target.query(
            "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = 'APPLICATION' AND request_status = 'WAIT'"
        )[0][0]
    return None


def test_eight_tables_in_parallel(backend, target):
    tables = [f"Table{i}" for i in range(8)]
    cfg = make_config(*tables, batch_size=5, MaxDegreeOfParallelism=8)
    schemas = {t: memory_schema(t, cfg) for t in tables}
    first = {t: [dict(r, Name=f"{t} {r['Name']}") for r in initial_rows(12 + i)] for i, t in enumerate(tables)}
    MemoryFetcher.sources.update(first)

    # the service path: every table's Mass is due; eight workers, each with its own connection
    outcomes = service.run_due(cfg)
    assert sorted((o.table, o.sync_type, o.error) for o in outcomes) == [(t, "Mass", None) for t in tables]
    for t in tables:
        assert contents(target, schemas[t]) == expected(dedupe_source(first[t], schemas[t]), schemas[t])

    # eight Daily syncs in flight at the same moment: each waits at a barrier after its first batch
    # until all eight hold their table lock and have rows in staging (a cap below 8 would break it)
    second = {t: changed_rows(first[t]) for t in tables}
    MemoryFetcher.sources.update(second)
    barrier = threading.Barrier(8, timeout=WAIT_S)
    results: dict[str, object] = {}

    def daily(t: str) -> None:
        own = backend.open()
        passed = []

        def progress(rows: int) -> None:
            if not passed:
                passed.append(rows)
                barrier.wait()

        try:
            results[t] = sync(cfg, own, t, "Daily", progress=progress)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            results[t] = exc
        finally:
            own.close()

    threads = [threading.Thread(target=daily, args=(t,)) for t in tables]
    for th in threads:
        th.start()
    for th in threads:
        th.join(WAIT_S)
    assert not any(th.is_alive() for th in threads), "a sync hung"
    assert not barrier.broken
    failures = {t: r for t, r in results.items() if isinstance(r, BaseException)}
    assert failures == {}
    for t in tables:
        want = apply(dedupe_source(first[t], schemas[t]), second[t], schemas[t])
        assert contents(target, schemas[t]) == expected(want, schemas[t])
        assert [(x.update_type, x.was_successful) for x in ledger_rows(target, t)] == [("Mass", True), ("Daily", True)]


def test_a_second_run_of_a_table_waits_for_the_first(backend, target, tmp_path):
    cfg = make_config(TABLE, batch_size=4, lock_timeout=WAIT_S)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = initial_rows(10)
    sync(cfg, target, TABLE, "Mass")
    MemoryFetcher.sources[TABLE] = changed_rows(initial_rows(10))

    first = SyncProcess.start(cfg, SyncRequest(TABLE, "Daily"), tmp_path, "merge")
    first.wait_paused()  # it holds the lock and is inside its merge transaction
    outcome: list = []
    second = threading.Thread(target=lambda: outcome.append(_run_quietly(backend, cfg, "Daily")))
    second.start()
    waiters = lock_waiters(backend, target)
    if waiters is None:
        time.sleep(0.5)  # SQLite: a file lock has no visible queue; the ledger below proves the order anyway
    else:
        wait_for(lambda: lock_waiters(backend, target) == 1, "the second run to queue for the lock")
    assert [x.number_records for x in ledger_rows(target, TABLE)] == [10, -2]  # the second has not started
    first.resume()
    assert first.join() == 0
    second.join(WAIT_S)
    assert outcome and not isinstance(outcome[0], BaseException), outcome
    mass, one, two = ledger_rows(target, TABLE)
    assert one.was_successful and two.was_successful
    assert two.start_dt >= one.end_dt  # never both writing: the second began after the first ended
    assert two.rows_inserted == 0 and two.rows_updated == 0  # the first had applied everything already


def test_a_second_run_times_out_without_touching_anything(backend, target, tmp_path):
    cfg = make_config(TABLE, batch_size=4, lock_timeout=0.3)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = initial_rows(10)
    sync(cfg, target, TABLE, "Mass")
    MemoryFetcher.sources[TABLE] = [row(1, name="would be written", age_h=0.1)]
    holder = SyncProcess.start(cfg, SyncRequest(TABLE, "Mass"), tmp_path, "load")
    holder.wait_paused()
    for sync_type in ("Mass", "Daily", "Hourly"):
        with pytest.raises(TableLockTimeout, match="table Items: another sync holds its lock"):
            sync(cfg, target, TABLE, sync_type)
    assert [x.number_records for x in ledger_rows(target, TABLE)] == [10, -2]  # no rows of theirs
    holder.resume()
    assert holder.join() == 0
    assert contents(target, schema) == expected(dedupe_source(MemoryFetcher.sources[TABLE], schema), schema)


def test_daily_is_skipped_while_a_mass_of_the_table_runs(backend, target, tmp_path):
    cfg = make_config(TABLE, batch_size=4)
    MemoryFetcher.sources[TABLE] = initial_rows(10)
    mass = SyncProcess.start(cfg, SyncRequest(TABLE, "Mass"), tmp_path, "load")
    mass.wait_paused()
    for sync_type in ("Daily", "Hourly"):
        decision = service.gate(cfg, TABLE, sync_type, target)
        assert not decision.run and "Mass sync is running" in decision.reason
    assert service.gate(cfg, TABLE, "Mass", target).run  # Mass never skips (it will wait for the lock)
    assert [(o.table, o.sync_type) for o in service.run_due(cfg)] == []  # nothing due while it runs
    mass.resume()
    assert mass.join() == 0


def test_readers_during_a_mass_see_old_or_new_only(backend, target, tmp_path):
    cfg = make_config(TABLE, batch_size=4)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = initial_rows(30)
    sync(cfg, target, TABLE, "Mass")
    old = contents(target, schema)
    MemoryFetcher.sources[TABLE] = [row(i, name=f"new {i}", age_h=1) for i in range(5, 45)]
    new = expected(dedupe_source(MemoryFetcher.sources[TABLE], schema), schema)

    mass = SyncProcess.start(cfg, SyncRequest(TABLE, "Mass"), tmp_path, "load")
    mass.wait_paused()  # emptied and partly reloaded, uncommitted
    readers = [Reader(backend, schema, loop=True) for _ in range(3)]
    for r in readers:
        r.start()
    for r in readers:
        wait_for(r.done_or_blocked, "each reader to read or to wait for the writer")
    mass.resume()
    assert mass.join() == 0
    for r in readers:
        wait_for(lambda r=r: bool(r.seen) and r.seen[-1] == new, "each reader to see the new contents")
        seen = r.finish()
        assert all(s == old or s == new for s in seen), [len(s) for s in seen]
        assert seen[-1] == new


def test_mixed_load_finishes_without_deadlock(backend, target, tmp_path):
    """Mass, Daily and Hourly of different tables, a second Mass queued on one of them, and
    looping readers, all at once: everything finishes and every table ends up right."""
    tables = ["MixA", "MixB", "MixC"]
    cfg = make_config(*tables, batch_size=3, lock_timeout=WAIT_S)
    schemas = {t: memory_schema(t, cfg) for t in tables}
    for t in tables:
        MemoryFetcher.sources[t] = initial_rows(9)
        sync(cfg, target, t, "Mass")
        MemoryFetcher.sources[t] = changed_rows(initial_rows(9))
    jobs = [("MixA", "Mass"), ("MixB", "Daily"), ("MixC", "Hourly"), ("MixA", "Mass"), ("MixB", "Hourly")]
    results: list = []
    readers = [Reader(backend, schemas[t], loop=True) for t in ("MixA", "MixB")]
    for r in readers:
        r.start()

    def job(t: str, sync_type: str) -> None:
        results.append(_run_quietly(backend, cfg, sync_type, t))

    threads = [threading.Thread(target=job, args=j) for j in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(WAIT_S)
    assert not any(th.is_alive() for th in threads), "deadlock: a sync never finished"
    for r in readers:
        r.finish()
    assert [r for r in results if isinstance(r, BaseException)] == []
    for t in tables:
        new = MemoryFetcher.sources[t]
        want = dedupe_source(new, schemas[t]) if t == "MixA" else apply(dedupe_source(initial_rows(9), schemas[t]), new, schemas[t])
        assert contents(target, schemas[t]) == expected(want, schemas[t])
        assert all(x.number_records >= 0 and x.was_successful for x in ledger_rows(target, t))


def _run_quietly(backend, cfg, sync_type: str, table: str = TABLE):
    own = backend.open()
    try:
        return sync(cfg, own, table, sync_type)
    except BaseException as exc:  # noqa: BLE001 - returned for the test to assert
        return exc
    finally:
        own.close()
