"""Delete detection on every target: rows deleted in the source leave the cache, nothing else
changes; the guard refuses a mass delete and an empty source (target unchanged, ledger -1 with
the reason) unless one run says allow_mass_delete; a sync killed inside the delete leaves the
target as it was; padded composite JDE keys (F4108 LOTN+ITM+MCU) match exactly.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from battery.battery_lib import (
    SyncProcess,
    contents,
    dedupe_source,
    expected,
    initial_rows,
    ledger_rows,
    make_config,
    memory_schema,
    row,
    sync,
    table_entry,
)
from datasync.engine.deletes import DELETE_POINT, MassDeleteRefused
from datasync.engine.configuration import parse_config
from datasync.engine.sync import SyncRequest, run_sync
from datasync.sources import SqliteSourceReader
from datasync_demo import generator as demo
from memory_fetcher import MemoryFetcher

TABLE = "Items"
DAILY = {"Enabled": True, "RunWith": "Daily"}


def prepare(target: Any, n: int = 100, **detection: Any):
    cfg = make_config(table_entry(TABLE, DeleteDetection={**DAILY, **detection}))
    schema = memory_schema(TABLE, cfg)
    first = initial_rows(n)
    MemoryFetcher.sources[TABLE] = first
    sync(cfg, target, TABLE, "Mass")
    return cfg, schema, first


def test_rows_deleted_in_the_source_disappear_and_nothing_else_changes(target):
    cfg, schema, first = prepare(target)
    gone = {(3, "D10"), (50, "M30"), (77, "D10")}  # 3 % of the table, composite keys
    kept = [r for r in first if (r["Id"], r["Site"]) not in gone]
    changed = dict(kept[0], Name="renamed", LastUpdateDT=kept[0]["LastUpdateDT"].replace(year=2099))
    MemoryFetcher.sources[TABLE] = [changed] + kept[1:] + [row(500, site="M30", name="new")]
    result = sync(cfg, target, TABLE, "Daily", full_refresh=True)
    assert (result.inserted, result.updated, result.deleted) == (1, 1, 3)
    assert result.as_dict()["deleted"] == 3
    assert contents(target, schema) == expected(dedupe_source(MemoryFetcher.sources[TABLE], schema), schema)
    last = ledger_rows(target, TABLE)[-1]
    assert (last.update_type, last.was_successful, last.rows_inserted, last.rows_updated, last.rows_deleted) == (
        "Daily", True, 1, 1, 3,
    )
    # an Hourly does not detect deletes (RunWith: Daily): its ledger row says so with NULL
    MemoryFetcher.sources[TABLE] = MemoryFetcher.sources[TABLE][1:]
    hourly = sync(cfg, target, TABLE, "Hourly")
    assert hourly.deleted is None and ledger_rows(target, TABLE)[-1].rows_deleted is None
    assert len(contents(target, schema)) == 98


def test_the_guard_refuses_half_the_table_then_allow_mass_delete_lets_one_run_through(target):
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    MemoryFetcher.sources[TABLE] = first[::2]
    with pytest.raises(MassDeleteRefused) as refused:
        sync(cfg, target, TABLE, "Daily", full_refresh=True)
    message = str(refused.value)
    assert "table Items: delete detection would delete 50 of 100 rows (50.0%)" in message and "First keys: (2, " in message
    assert "MaxDeletePercent 5%" in message and "nothing was deleted" in message and "allow_mass_delete" in message
    assert contents(target, schema) == before
    last = ledger_rows(target, TABLE)[-1]
    assert (last.number_records, last.was_successful) == (-1, False)
    assert "MassDeleteRefused: table Items: delete detection would delete 50 of 100 rows" in last.error_message

    result = sync(cfg, target, TABLE, "Daily", full_refresh=True, allow_mass_delete=True)
    assert result.deleted == 50
    assert contents(target, schema) == expected(dedupe_source(first[::2], schema), schema)
    assert ledger_rows(target, TABLE)[-1].rows_deleted == 50


def test_the_guard_also_holds_when_new_source_keys_hide_the_deletes_in_the_key_count(target):
    """More keys in the source than in the cache, yet half the cache gone: the delete itself is refused, rolled back."""
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    unseen = [row(1000 + i, age_h=24 * 30) for i in range(60)]  # outside the Daily window: never merged
    MemoryFetcher.sources[TABLE] = first[::2] + unseen
    with pytest.raises(MassDeleteRefused, match=r"would delete at least 50 of 100 rows \(50.0%\)"):
        sync(cfg, target, TABLE, "Daily")
    assert contents(target, schema) == before
    assert ledger_rows(target, TABLE)[-1].number_records == -1


def test_its_own_interval_detects_with_the_first_sync_once_the_interval_is_over(target):
    cfg = make_config(table_entry(TABLE, DeleteDetection={"Enabled": True, "IntervalMinutes": 360}))
    schema = memory_schema(TABLE, cfg)
    first = initial_rows(100)
    MemoryFetcher.sources[TABLE] = first
    mass = sync(cfg, target, TABLE, "Mass")  # Mass with PrepurgeData reloads the table: no detection
    assert mass.deleted is None
    MemoryFetcher.sources[TABLE] = first[1:]
    assert sync(cfg, target, TABLE, "Hourly").deleted == 1  # never detected before: due
    MemoryFetcher.sources[TABLE] = first[2:]
    assert sync(cfg, target, TABLE, "Daily").deleted is None  # 6 h have not passed
    assert [r.rows_deleted for r in ledger_rows(target, TABLE)] == [None, 1, None]
    assert len(contents(target, schema)) == 99


def test_an_empty_source_never_empties_the_cache(target):
    cfg, schema, _ = prepare(target, MaxDeletePercent=100)  # even with the percentage guard off
    before = contents(target, schema)
    MemoryFetcher.sources[TABLE] = []
    with pytest.raises(MassDeleteRefused, match=r"would delete 100 of 100 rows \(100.0%\): the source returned no rows"):
        sync(cfg, target, TABLE, "Daily", full_refresh=True)
    assert contents(target, schema) == before
    assert ledger_rows(target, TABLE)[-1].number_records == -1


def test_a_sync_killed_inside_the_delete_leaves_the_target_as_it_was(target, tmp_path):
    cfg, schema, first = prepare(target)
    before = contents(target, schema)
    MemoryFetcher.sources[TABLE] = first[2:]
    proc = SyncProcess.start(cfg, SyncRequest(TABLE, "Daily", full_refresh=True), tmp_path, DELETE_POINT)
    proc.wait_paused()  # rows deleted inside the open transaction
    proc.signal(signal.SIGKILL)
    assert contents(target, schema) == before
    result = sync(cfg, target, TABLE, "Daily", full_refresh=True)  # closes the orphan, converges
    assert result.deleted == 2
    assert contents(target, schema) == expected(dedupe_source(first[2:], schema), schema)
    rows = ledger_rows(target, TABLE)
    assert [r.number_records for r in rows[-2:]] == [-1, 98]


# --------------------------------------------------------------------------- a real JDE fetcher


def lot_master(path: Path, lots: list[tuple[str, int, str]]) -> None:
    """F4108 with the demo's JDE DDL, strings space-padded to their NCHAR width, MCU right-justified."""
    columns = demo.TABLES["F4108"]
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE IF EXISTS F4108")
    conn.execute(f'CREATE TABLE F4108 ({", ".join(f"{n} {t}".rstrip() for n, t in columns)})')
    for lotn, itm, mcu in lots:
        values = []
        for name, decl in columns:
            width = int(decl[6:-1]) if decl.startswith("NCHAR(") else None
            value = {"IOLOTN": lotn, "IOITM": itm, "IOMCU": mcu.rjust(12), "IOUPMJ": 124060}.get(name)
            if value is None:
                value = " " * width if width else 0
            values.append(value.ljust(width) if width and isinstance(value, str) else value)
        conn.execute(f"INSERT INTO F4108 VALUES ({', '.join('?' for _ in columns)})", values)
    conn.commit()
    conn.close()


def test_padded_composite_jde_keys_are_matched_exactly(target, tmp_path):
    source = tmp_path / "jde.db"
    lots = [("LT1", 60001, "M30"), ("LT1", 60001, "10"), ("LT1", 60002, "M30"), ("LT2", 60001, "M30")]
    lot_master(source, lots)
    cfg = parse_config({
        "DataSources": [table_entry("LotMaster", "JdeLotMasterFetcher",
                                    DeleteDetection={**DAILY, "MaxDeletePercent": 30})],
    })
    run = lambda sync_type: run_sync(  # noqa: E731
        cfg, SyncRequest("LotMaster", sync_type, full_refresh=True), target, lambda: SqliteSourceReader(str(source))
    )
    run("Mass")
    keys = lambda: sorted(target.query('SELECT "LOTN", "ITM", "MCU" FROM "LotMaster"'))  # noqa: E731
    assert keys() == sorted((lotn, itm, mcu) for lotn, itm, mcu in lots)
    assert run("Daily").deleted == 0  # padded, right-justified source keys all match the trimmed cache
    lot_master(source, [lots[0], lots[2], lots[3]])  # LT1/60001 left branch 10 only
    assert run("Daily").deleted == 1
    assert keys() == sorted([lots[0], lots[2], lots[3]])


# --------------------------------------------------------------------------- datasync verify


def test_verify_reports_a_missing_an_extra_and_a_changed_row_each_with_its_key(target):
    from datasync.engine.verify import verify

    cfg, schema, first = prepare(target, n=30, MaxDeletePercent=5)
    fetcher = MemoryFetcher(cfg.table(TABLE), cfg.source_system("JDE"), None, cfg.batch_size)
    clean = verify(schema, fetcher.fetch(None), target)
    assert clean.equal and (clean.source_rows, clean.target_rows, clean.ranges_different) == (30, 30, 0)

    q = target.quote
    with target.transaction():
        target.execute(f"DELETE FROM {q(TABLE)} WHERE {q('Id')} = 7")  # missing in the cache
        target.execute(f"UPDATE {q(TABLE)} SET {q('Name')} = 'edited' WHERE {q('Id')} = 12")  # different
        target.execute(
            f"INSERT INTO {q(TABLE)} ({', '.join(q(c) for c in schema.column_names)}) "
            f"SELECT 999, {q('Site')}, {q('Name')}, {q('Qty')}, {q('Day')}, {q('LastUpdateDT')} "
            f"FROM {q(TABLE)} WHERE {q('Id')} = 1"
        )  # extra: deleted in the source
    report = verify(schema, fetcher.fetch(None), target)
    assert not report.equal
    assert (report.source_rows, report.target_rows, report.missing, report.extra, report.different) == (30, 30, 1, 1, 1)
    assert [d.key for d in report.sample_missing] == [(7, "D10")]
    assert [d.key for d in report.sample_extra] == [(999, "D10")]
    assert [(d.key, d.columns) for d in report.sample_different] == [((12, "M30"), ("Name",))]
    assert report.ranges_different == 1
    text = "\n".join(report.lines())
    assert "1 missing in the cache: (7, 'D10')" in text and "(999, 'D10')" in text and "(12, 'M30') [Name]" in text


def test_verify_cli_exits_0_when_equal_and_1_with_the_keys_when_not(backend, target, tmp_path, monkeypatch):
    import json
    import subprocess

    import yaml

    from battery.test_battery_jde import datasync_cli

    source = tmp_path / "jde.db"
    lots = [("LT1", 60001, "M30"), ("LT1", 60001, "10"), ("LT2", 60002, "M30")]
    lot_master(source, lots)
    raw = {"DataSources": [table_entry("LotMaster", "JdeLotMasterFetcher")]}
    cfg = parse_config(raw)
    run_sync(cfg, SyncRequest("LotMaster", "Mass"), target, lambda: SqliteSourceReader(str(source)))
    path = tmp_path / "datasync.yaml"
    path.write_text(yaml.safe_dump({"DataSync": raw}))
    env = {**__import__("os").environ, "DATASYNC_CONFIG": str(path), "AIRFLOW_CONN_DATASYNC_JDE": f"sqlite:///{source}"}

    def verify_cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(datasync_cli() + ["verify", "LotMaster", *args], env=env, capture_output=True, text=True)

    ok = verify_cli()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "LotMaster: equal: source 3 rows, cache 3 rows" in ok.stdout
    lot_master(source, lots[:2])  # LT2 deleted in JDE, the cache still has it
    bad = verify_cli("--json")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    report = json.loads(bad.stdout)
    assert (report["equal"], report["extra"], report["sample_extra"]) == (False, 1, [["LT2", 60002, "M30"]])


def test_verify_streams_a_table_larger_than_a_batch_and_reports_each_difference_with_its_key(target, monkeypatch):
    """Batches of 64 rows, 10 key ranges, pass 2 split into many reads: only what differs is compared row by row."""
    from datasync.engine import verify as verifying

    cfg = make_config(table_entry(TABLE), batch_size=64)
    schema = memory_schema(TABLE, cfg)
    MemoryFetcher.sources[TABLE] = initial_rows(500)
    sync(cfg, target, TABLE, "Mass")
    fetcher = MemoryFetcher(cfg.table(TABLE), cfg.source_system("JDE"), None, cfg.batch_size)
    monkeypatch.setattr(verifying, "RANGE_ROWS", 50)
    monkeypatch.setattr(verifying, "SLICE_ROWS", 48)
    monkeypatch.setattr(verifying, "READ_CHUNK_ROWS", 40)
    reads = {"source": 0}

    def source():
        reads["source"] += 1
        return fetcher.fetch(None)

    clean = verifying.verify(schema, source, target)
    assert clean.equal and (clean.source_rows, clean.target_rows, clean.ranges, clean.ranges_different) == (
        500, 500, 10, 0)
    assert reads["source"] == 1  # an equal table is read once

    q = target.quote
    with target.transaction():
        target.execute(f"UPDATE {q(TABLE)} SET {q('Qty')} = 0 WHERE {q('Id')} = 321")
    one = verifying.verify(schema, source, target)
    assert (one.missing, one.extra, one.different, one.ranges, one.ranges_different) == (0, 0, 1, 10, 1)
    assert [(d.key, d.columns) for d in one.sample_different] == [((321, "D10"), ("Qty",))]

    with target.transaction():
        target.execute(f"DELETE FROM {q(TABLE)} WHERE {q('Id')} IN (17, 402)")
        target.execute(f"UPDATE {q(TABLE)} SET {q('Site')} = 'X99' WHERE {q('Id')} = 250")  # 250 missing, extra
    monkeypatch.setattr(verifying, "GROUP_BYTES", 1_000)  # a few rows per read: ranges split, many reads
    many = verifying.verify(schema, source, target, sample=2)
    assert (many.source_rows, many.target_rows, many.missing, many.extra, many.different) == (500, 498, 3, 1, 1)
    assert [d.key for d in many.sample_missing] == [(17, "D10"), (250, "M30")]
    assert [d.key for d in many.sample_extra] == [(250, "X99")]
    assert [(d.key, d.columns) for d in many.sample_different] == [((321, "D10"), ("Qty",))]
    assert 1 <= many.ranges_different <= 5

    with target.transaction():
        target.execute(f"DELETE FROM {q(TABLE)}")
    empty = verifying.verify(schema, source, target, sample=3)
    assert (empty.target_rows, empty.missing, empty.extra, empty.different, empty.ranges) == (0, 500, 0, 0, 1)
    assert [d.key for d in empty.sample_missing] == [(1, "D10"), (2, "M30"), (3, "D10")]
