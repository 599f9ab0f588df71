"""Engine scenarios on every target: correctness against the source, the LastUpdateDT guard,
duplicate and composite keys, failures that leave the target unchanged, orphan closing,
batch-size independence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from battery.battery_lib import (
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
)
from datasync.engine.ledger import Ledger
from memory_fetcher import MemoryFetcher

TABLE = "Items"


def test_mass_daily_hourly_follow_the_source(target):
    cfg = make_config(TABLE)
    schema = memory_schema(TABLE, cfg)
    source = initial_rows(23)
    MemoryFetcher.sources[TABLE] = source
    r = sync(cfg, target, TABLE, "Mass")
    assert (r.rows, r.inserted, r.updated) == (23, 23, 0)
    state = dedupe_source(source, schema)
    assert contents(target, schema) == expected(state, schema)

    day2 = changed_rows(source)
    MemoryFetcher.sources[TABLE] = day2
    r = sync(cfg, target, TABLE, "Daily")
    assert r.minimum_dt is not None  # incremental: the lookback window, not a full fetch
    state = apply(state, [x for x in day2 if x["LastUpdateDT"] >= r.minimum_dt.replace(tzinfo=None)], schema)
    assert contents(target, schema) == expected(state, schema)
    # every third row updated (8), two new; the late row with an older time changed nothing
    assert (r.inserted, r.updated) == (2, 8)
    assert state[(2, "M30")]["Name"] == "item 2"

    day3 = [dict(x) for x in day2]
    day3[4] = dict(day3[4], Name="hourly edit", LastUpdateDT=day3[4]["LastUpdateDT"] + timedelta(hours=47))
    day3.append(row(950, name="hourly new", age_h=0.5))
    MemoryFetcher.sources[TABLE] = day3
    r = sync(cfg, target, TABLE, "Hourly")
    state = apply(state, day3, schema)
    assert contents(target, schema) == expected(state, schema)
    assert (r.inserted, r.updated) == (1, 1)
    # the target equals the source except for the late row whose edit carries an older time
    source_now = expected(dedupe_source(day3, schema), schema)
    differing = {k for k in source_now if contents(target, schema)[k] != source_now[k]}
    assert differing == {(2, "M30")}

    ledger = ledger_rows(target, TABLE)
    assert [(x.update_type, x.number_records, x.was_successful) for x in ledger] == [
        ("Mass", 23, True),
        ("Daily", r_daily := ledger[1].number_records, True),
        ("Hourly", ledger[2].number_records, True),
    ]
    assert r_daily == len(day2)  # the lookback window covers every row of this young source
    assert all(x.end_dt >= x.start_dt and x.error_message is None for x in ledger)


def test_duplicate_keys_latest_wins(target):
    cfg = make_config(TABLE, batch_size=3)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = initial_rows(5)
    sync(cfg, target, TABLE, "Mass")
    dupes = [
        row(1, site="D10", name="old", age_h=10),
        row(7, name="first", age_h=5),
        row(1, site="D10", name="newest", age_h=1),  # same key, another batch
        row(7, name="latest", age_h=2),
        row(1, site="D10", name="middle", age_h=3),
        row(8, name="tie a", age_h=4),
        row(8, name="tie b", age_h=4),  # equal LastUpdateDT: the later row wins
    ]
    MemoryFetcher.sources[TABLE] = dupes
    r = sync(cfg, target, TABLE, "Daily", full_refresh=True)
    got = contents(target, schema)
    assert got[(1, "D10")][2] == "newest"
    assert got[(7, "M30")][2] == "latest"
    assert got[(8, "M30")][2] == "tie b"
    assert (r.rows, r.inserted, r.updated) == (7, 2, 1)


def test_older_last_update_never_overwrites(target):
    cfg = make_config(TABLE)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = [row(1, name="current", age_h=5), row(2, name="current", age_h=5)]
    sync(cfg, target, TABLE, "Mass")
    before = contents(target, schema)
    MemoryFetcher.sources[TABLE] = [row(1, name="older", age_h=6), row(2, name="same time", age_h=5)]
    r = sync(cfg, target, TABLE, "Daily", full_refresh=True)
    assert (r.rows, r.inserted, r.updated) == (2, 0, 0)
    assert contents(target, schema) == before
    assert ledger_rows(target, TABLE)[-1].rows_updated == 0


def test_composite_keys_are_distinct_rows(target):
    cfg = make_config(TABLE)
    schema = memory_schema(TABLE, cfg)
    assert schema.primary_key == ("Id", "Site")
    MemoryFetcher.sources[TABLE] = [row(1, site="M30", name="a"), row(1, site="D10", name="b"), row(2, site="M30", name="c")]
    sync(cfg, target, TABLE, "Mass")
    MemoryFetcher.sources[TABLE] = [row(1, site="D10", name="b2", age_h=1), row(2, site="D10", name="d", age_h=1)]
    r = sync(cfg, target, TABLE, "Daily", full_refresh=True)
    assert (r.inserted, r.updated) == (1, 1)
    assert {k: v[2] for k, v in contents(target, schema).items()} == {
        (1, "M30"): "a",
        (1, "D10"): "b2",
        (2, "M30"): "c",
        (2, "D10"): "d",
    }


@pytest.mark.parametrize("sync_type", ["Mass", "Daily"])
def test_failure_midway_leaves_target_unchanged(target, sync_type):
    cfg = make_config(TABLE, batch_size=3)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = initial_rows(10)
    sync(cfg, target, TABLE, "Mass")
    before = contents(target, schema)
    MemoryFetcher.sources[TABLE] = [row(i, name="changed", age_h=1) for i in range(1, 30)]
    MemoryFetcher.fail_after[TABLE] = 2  # two batches delivered and loaded, then the source fails
    with pytest.raises(RuntimeError, match="connection lost after 2 batches"):
        sync(cfg, target, TABLE, sync_type, full_refresh=True)
    assert contents(target, schema) == before
    last = ledger_rows(target, TABLE)[-1]
    assert (last.update_type, last.number_records, last.was_successful) == (sync_type, -1, False)
    assert "connection lost after 2 batches" in last.error_message and last.end_dt is not None
    # the table is usable right away: the next run succeeds
    MemoryFetcher.fail_after.clear()
    sync(cfg, target, TABLE, sync_type, full_refresh=True)
    new = MemoryFetcher.sources[TABLE]
    want = dedupe_source(new, schema) if sync_type == "Mass" else apply(dedupe_source(initial_rows(10), schema), new, schema)
    assert contents(target, schema) == expected(want, schema)


def test_orphan_in_progress_row_is_closed_by_the_next_run(target):
    cfg = make_config(TABLE)
    ledger = Ledger(target)
    ledger.ensure()
    orphan = ledger.start(TABLE, "Hourly", "deadbeef0001", "run-1", None)
    other = ledger.start("OtherTable", "Daily", "deadbeef0002", "run-2", None)
    MemoryFetcher.sources[TABLE] = [row(1)]
    sync(cfg, target, TABLE, "Daily")
    rows = {x.data_update_id: x for x in ledger.recent(limit=10)}
    assert rows[orphan].number_records == -1 and not rows[orphan].was_successful
    assert "interrupted" in rows[orphan].error_message and rows[orphan].end_dt is not None
    assert rows[other].number_records == -2  # another table's row is not ours to close
    assert [x.number_records for x in ledger_rows(target, TABLE)] == [-1, 1]


def test_batch_size_seven_equals_one_batch(target):
    """Keys repeat across batches of 7 (Daily de-duplicates them); Mass loads unique keys."""
    data = [row(i % 11, site=("M30", "D10")[i % 3 == 0], name=f"v{i}", age_h=48 - (i % 5)) for i in range(60)]
    small = make_config("Small", batch_size=7)
    whole = make_config("Whole", batch_size=1000)
    schema = memory_schema("Small", small)
    unique = list(dedupe_source(data, schema).values())
    for sync_type, source in (("Mass", unique), ("Daily", data)):
        MemoryFetcher.sources["Small"] = source
        MemoryFetcher.sources["Whole"] = source
        a = sync(small, target, "Small", sync_type, full_refresh=True)
        b = sync(whole, target, "Whole", sync_type, full_refresh=True)
        assert (a.rows, a.inserted, a.updated) == (b.rows, b.inserted, b.updated)
        assert contents(target, schema) == contents(target, memory_schema("Whole", whole))
        assert contents(target, schema) == expected(dedupe_source(data, schema), schema)
