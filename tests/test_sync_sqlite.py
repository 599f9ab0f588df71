"""The sync operation on a real SQLite target, driven by an in-memory fetcher."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from datasync.engine.configuration import parse_config
from datasync.engine.ledger import Ledger
from datasync.engine.sync import SyncRequest, run_sync
from datasync.targets.sqlite import SqliteTarget
from memory_fetcher import MemoryFetcher, NullReader
from conftest import table_entry


def row(i: int, site: str = "M30", name: str = "n", qty: str = "1.50", ts: str = "2024-03-01 10:00:00") -> dict:
    return {
        "Id": i,
        "Site": site,
        "Name": name,
        "Qty": Decimal(qty),
        "Day": date(2024, 2, 29),
        "LastUpdateDT": datetime.fromisoformat(ts),
    }


@pytest.fixture
def setup(tmp_path: Path):
    cfg = parse_config({"BatchSize": 3, "DataSources": [table_entry("Items", "MemoryFetcher")]})
    target = SqliteTarget.open(str(tmp_path / "cache.db"))
    MemoryFetcher.sources.clear()
    MemoryFetcher.fail_after.clear()
    yield cfg, target
    target.close()


def contents(target: SqliteTarget) -> list[tuple]:
    return target.query('SELECT "Id", "Site", "Name", "Qty", "Day", "LastUpdateDT" FROM "Items" ORDER BY "Id", "Site"')


def sync(cfg, target, sync_type: str = "Daily", **kw):
    return run_sync(cfg, SyncRequest("Items", sync_type, **kw), target, NullReader)


def test_mass_then_incremental_counts_and_guard(setup):
    cfg, target = setup
    MemoryFetcher.sources["Items"] = [row(i) for i in range(1, 8)]
    result = sync(cfg, target, "Mass")
    assert (result.rows, result.inserted, result.updated) == (7, 7, 0)
    assert contents(target)[0] == (1, "M30", "n", 1.5, "2024-02-29", "2024-03-01 10:00:00.000000")

    MemoryFetcher.sources["Items"] = [
        row(1, name="newer", ts="2024-03-02 10:00:00"),
        row(2, name="older", ts="2024-02-01 10:00:00"),
        row(3, name="dup-old", ts="2024-03-02 09:00:00"),
        row(3, name="dup-new", ts="2024-03-02 11:00:00"),
        row(9, name="brand-new"),
    ]
    result = sync(cfg, target, "Daily", full_refresh=True)
    assert (result.rows, result.inserted, result.updated) == (5, 1, 2)
    names = {r[0]: r[2] for r in contents(target)}
    assert names[1] == "newer" and names[2] == "n" and names[3] == "dup-new" and names[9] == "brand-new"

    ledger = Ledger(target).recent("Items")
    assert [(r.update_type, r.number_records, r.was_successful, r.rows_inserted, r.rows_updated) for r in ledger] == [
        ("Daily", 5, True, 1, 2),
        ("Mass", 7, True, 7, 0),
    ]


def test_failure_midway_leaves_target_and_records_failure(setup):
    cfg, target = setup
    MemoryFetcher.sources["Items"] = [row(i) for i in range(1, 8)]
    sync(cfg, target, "Mass")
    before = contents(target)
    MemoryFetcher.sources["Items"] = [row(i, name="changed", ts="2024-04-01 00:00:00") for i in range(1, 8)]
    MemoryFetcher.fail_after["Items"] = 2
    for sync_type in ("Mass", "Daily"):
        with pytest.raises(RuntimeError, match="connection lost"):
            sync(cfg, target, sync_type, full_refresh=True)
        assert contents(target) == before
    failed = Ledger(target).recent("Items", limit=2)
    assert all(r.number_records == -1 and not r.was_successful for r in failed)
    assert "connection lost after 2 batches" in failed[0].error_message


def test_orphan_closed_by_next_run(setup):
    cfg, target = setup
    ledger = Ledger(target)
    ledger.ensure()
    orphan = ledger.start("Items", "Hourly", "deadbeef", None, None)
    MemoryFetcher.sources["Items"] = [row(1)]
    sync(cfg, target, "Daily")
    rows = {r.data_update_id: r for r in ledger.recent("Items")}
    assert rows[orphan].number_records == -1 and "interrupted" in rows[orphan].error_message


def test_batch_size_does_not_change_result(setup, tmp_path):
    cfg, target = setup
    data = [row(i % 11, name=f"v{i}", ts=f"2024-03-01 10:{i:02d}:00") for i in range(40)]
    MemoryFetcher.sources["Items"] = data
    sync(cfg, target, "Daily", full_refresh=True)
    one_batch = parse_config({"BatchSize": 1000, "DataSources": [table_entry("Items", "MemoryFetcher")]})
    other = SqliteTarget.open(str(tmp_path / "other.db"))
    run_sync(one_batch, SyncRequest("Items", "Daily", full_refresh=True), other, NullReader)
    assert contents(target) == contents(other)
    assert len(contents(target)) == 11


def _all_rows(target: SqliteTarget) -> list[tuple]:
    """Every stored value with its SQLite storage class: the bulk path must store what executemany stores."""
    cols = ("Id", "Site", "Name", "Qty", "Day", "LastUpdateDT")
    select = ", ".join(f'"{c}", typeof("{c}")' for c in cols)
    return target.query(f'SELECT {select} FROM "Items" ORDER BY "Id", "Site"')


def test_mass_bulk_load_through_a_side_file_stores_what_the_row_path_stores(setup, tmp_path):
    """A file target's Mass goes through ADBC ingest into a side file (preloaded); in-memory streams rows."""
    cfg, target = setup
    data = [row(i, name=f"n{i}", qty=f"{i}.25", ts=f"2024-03-01 10:{i:02d}:0{i % 10}") for i in range(1, 20)]
    data.append({**row(20), "Name": None, "Qty": None, "Day": None})
    MemoryFetcher.sources["Items"] = data
    assert sync(cfg, target, "Mass").rows == 20
    memory = SqliteTarget.open(":memory:")
    run_sync(cfg, SyncRequest("Items", "Mass"), memory, NullReader)
    assert _all_rows(target) == _all_rows(memory)
    assert _all_rows(target)[0] == (1, "integer", "M30", "text", "n1", "text", 1.25, "real", "2024-02-29", "text",
                                    "2024-03-01 10:01:01.000000", "text")  # fmt: skip
    # the side file is gone and detached; the ledger has the Mass
    assert sorted(p.name for p in tmp_path.iterdir() if ".load-" in p.name) == []
    assert "datasync_load" not in {r[1] for r in target.query("PRAGMA database_list")}
    assert [(r.update_type, r.number_records, r.was_successful) for r in Ledger(target).recent("Items")] == [("Mass", 20, True)]
    # an empty source empties the table
    MemoryFetcher.sources["Items"] = []
    assert sync(cfg, target, "Mass").rows == 0
    assert contents(target) == []


def test_a_mass_removes_the_side_files_a_killed_mass_of_its_table_left(setup, tmp_path):
    cfg, target = setup
    stale = [tmp_path / "cache.db.load-items-0123456789ab", tmp_path / "cache.db.load-items-0123456789ab-journal"]
    other_table = tmp_path / "cache.db.load-other-0123456789ab"  # another table's: its own Mass cleans it
    for path in (*stale, other_table):
        path.write_bytes(b"left by a SIGKILL")
    MemoryFetcher.sources["Items"] = [row(i) for i in range(1, 6)]
    assert sync(cfg, target, "Mass").rows == 5
    assert [p.name for p in tmp_path.iterdir() if ".load-" in p.name] == [other_table.name]
    assert len(contents(target)) == 5


def test_mass_failing_while_bulk_loading_keeps_the_old_rows_and_leaves_no_side_file(setup, tmp_path):
    cfg, target = setup
    MemoryFetcher.sources["Items"] = [row(i) for i in range(1, 8)]
    sync(cfg, target, "Mass")
    before = contents(target)
    MemoryFetcher.sources["Items"] = [row(i, name="changed") for i in range(1, 8)]
    MemoryFetcher.fail_after["Items"] = 1
    with pytest.raises(RuntimeError, match="connection lost"):
        sync(cfg, target, "Mass")
    assert contents(target) == before
    assert [p.name for p in tmp_path.iterdir() if ".load-" in p.name] == []
    MemoryFetcher.fail_after.clear()
    assert sync(cfg, target, "Mass").rows == 7
    assert {r[2] for r in contents(target)} == {"changed"}
