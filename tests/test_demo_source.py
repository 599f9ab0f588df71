"""The demo source: JDE-shaped quirks, determinism, and a day of ERP activity (touch)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import table_entry

from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config
from datasync.fetchers.registry import fetcher_class
from datasync.fetchers.jde.rules import date_to_julian
from datasync.sources import SqliteSourceReader

ROWS = 2_000
NOW = datetime(2026, 3, 10, 14, 5, 30)
FETCHERS = {
    "WorkOrder_Curr": ("JdeWorkOrderFetcher", "F4801", "WAUPMJ"),
    "LotUsage": ("JdeLotUsageFetcher", "F4111", "ILCRDJ"),
    "Item": ("JdeItemFetcher", "F4101", "IMUPMJ"),
    "LotMaster": ("JdeLotMasterFetcher", "F4108", "IOUPMJ"),
    "MisData": ("CmsMisDataFetcher", "MIS_DATA", "LastModified"),
}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(path: Path, sql: str, *params: Any) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(path: Path, sql: str, *params: Any) -> Any:
    return query(path, sql, *params)[0][0]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "jde.db"
    demo.write_demo_source(path, ROWS, seed=7)
    return path


def fetchers(path: Path, batch_size: int = 500) -> dict[str, Any]:
    cfg = parse_config(
        {
            "DataSources": [
                table_entry(name, f, SourceSystem="CMS" if f.startswith("Cms") else "JDE")
                for name, (f, _, _) in FETCHERS.items()
            ]
        }
    )
    reader = SqliteSourceReader(str(path))
    return {
        ds.table_name: fetcher_class(ds.fetcher_type_name)(ds, cfg.source_system(ds.source_system), reader, batch_size)
        for ds in cfg.data_sources
    }


def count(fetcher: Any, minimum_dt: datetime | None = None) -> int:
    return sum(b.num_rows for b in fetcher.fetch(minimum_dt))


# --------------------------------------------------------------------------- shape


def test_tables_and_sizes(source: Path) -> None:
    counts = demo.table_counts(source)
    assert counts["F4801"] == ROWS and counts["F4111"] == ROWS and counts["MIS_DATA"] == ROWS
    assert 20 <= counts["F4101"] < counts["F4108"] < ROWS


def test_nchar_padding_to_the_column_width(source: Path) -> None:
    widths = {"WALITM": 25, "WADL01": 30, "WADCTO": 2, "WALOTN": 30, "WAUOM": 2, "WAPARS": 8}
    for column, width in widths.items():
        assert query(source, f'SELECT DISTINCT length("{column}") FROM "F4801"') == [(width,)], column
    assert query(source, 'SELECT DISTINCT length("ILLOCN") FROM "F4111"') == [(20,)]
    assert query(source, 'SELECT DISTINCT length("IOLDSC") FROM "F4108"') == [(30,)]


def test_business_units_are_right_justified(source: Path) -> None:
    values = [r[0] for r in query(source, 'SELECT DISTINCT "WAMCU" FROM "F4801"')]
    assert values and all(len(v) == 12 and v == v.strip().rjust(12) for v in values)
    assert "         M30" in values


def test_julian_edge_values_present(source: Path) -> None:
    trdj = {r[0] for r in query(source, 'SELECT DISTINCT "WATRDJ" FROM "F4801"')}
    assert {0, 99365, 100001, 124060} <= trdj
    assert scalar(source, 'SELECT COUNT(*) FROM "F4801" WHERE "WAUPMJ" = 0') > 0
    assert scalar(source, 'SELECT COUNT(*) FROM "F4111" WHERE "ILCRDJ" = 0') > 0


def test_times_include_zero_and_float_storage(source: Path) -> None:
    assert query(source, 'SELECT DISTINCT typeof("WATDAY") FROM "F4801"') == [("real",)]
    types = {r[0] for r in query(source, 'SELECT DISTINCT typeof("ILTDAY") FROM "F4111"')}
    assert types == {"integer", "real"}
    tday = {r[0] for r in query(source, 'SELECT "WATDAY" FROM "F4801" LIMIT 3')}
    assert tday == {0.0, 93015.0, 235959.0}
    assert scalar(source, 'SELECT COUNT(*) FROM "F4111" WHERE "ILTDAY" = 0') > 0


def test_implied_decimals_stored_as_integers(source: Path) -> None:
    assert query(source, 'SELECT DISTINCT typeof("WAUORG") FROM "F4801"') == [("integer",)]
    assert query(source, 'SELECT DISTINCT typeof("ILLNID") FROM "F4111"') == [("integer",)]
    assert scalar(source, 'SELECT COUNT(*) FROM "F4111" WHERE "ILLNID" % 1000 <> 0') == 0


def test_a_share_of_ledger_rows_has_no_lot(source: Path) -> None:
    blank = scalar(source, """SELECT COUNT(*) FROM "F4111" WHERE "ILLOTN" = '                              '""")
    assert 0.15 * ROWS < blank < 0.35 * ROWS


def test_lots_with_the_same_number_in_two_branches(source: Path) -> None:
    assert scalar(source, 'SELECT COUNT(*) FROM (SELECT "IOLOTN" FROM "F4108" GROUP BY "IOLOTN" HAVING COUNT(*) > 1)') > 0


def test_audit_date_indexes(source: Path) -> None:
    indexed = {(r[0], r[1]) for r in query(source, "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'")}
    for table, name in (("F4801", "F4801_UPMJ"), ("F4111", "F4111_CRDJ"), ("MIS_DATA", "MIS_DATA_LastModified")):
        assert (table, name) in indexed


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "c.db"
    assert demo.write_demo_source(a, 500, seed=3) == demo.write_demo_source(b, 500, seed=3)
    demo.write_demo_source(c, 500, seed=4)
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)


def test_rewrite_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    demo.write_demo_source(path, 300, seed=3)
    first = digest(path)
    demo.write_demo_source(path, 300, seed=3)
    assert digest(path) == first


def test_touch_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for p in (a, b):
        demo.write_demo_source(p, 500, seed=3)
        demo.touch(p, 2, seed=9, now=NOW)
    assert digest(a) == digest(b)


# --------------------------------------------------------------------------- touch


def test_touch_updates_the_share_and_adds_rows(tmp_path: Path) -> None:
    path = tmp_path / "jde.db"
    before = demo.write_demo_source(path, ROWS, seed=11)
    summary = demo.touch(path, 1, seed=5, now=NOW)
    after = demo.table_counts(path)
    today = date_to_julian(NOW)
    for table, (updated, added) in summary.items():
        assert updated == round(before[table] / 100) and added == round(before[table] / 200)
        assert after[table] == before[table] + added
    assert summary["F4801"] == (20, 10)
    assert scalar(path, 'SELECT COUNT(*) FROM "F4801" WHERE "WAUPMJ" = ? AND "WATDAY" = ?', today, 140530) == 30
    assert scalar(path, 'SELECT COUNT(*) FROM "F4111" WHERE "ILCRDJ" = ?', today) == 30
    assert scalar(path, 'SELECT COUNT(*) FROM "MIS_DATA" WHERE "LastModified" = ?', "2026-03-10 14:05:30") == 30
    # new keys continue after the existing ones
    assert scalar(path, 'SELECT MAX("WADOCO") FROM "F4801"') == 1_000_000 + ROWS + 10 - 1
    assert scalar(path, 'SELECT COUNT(DISTINCT "ILUKID") FROM "F4111"') == after["F4111"]


def test_touch_changes_values_too(tmp_path: Path) -> None:
    path = tmp_path / "jde.db"
    demo.write_demo_source(path, 1000, seed=11)
    before = dict(query(path, 'SELECT "WADOCO", "WASOQS" FROM "F4801"'))
    demo.touch(path, 5, seed=5, now=NOW)
    after = dict(query(path, 'SELECT "WADOCO", "WASOQS" FROM "F4801"'))
    changed = [k for k in before if before[k] != after[k]]
    assert len(changed) == 50


def test_write_with_touch_pct(tmp_path: Path) -> None:
    counts = demo.write_demo_source(tmp_path / "jde.db", 1000, seed=1, touch_pct=2, now=NOW)
    assert counts["F4801"] == 1010


def test_touch_rejects_bad_share(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        demo.touch(tmp_path / "x.db", 150)


# --------------------------------------------------------------------------- the fetchers on the demo source


def test_every_fetcher_reads_the_demo_source(source: Path) -> None:
    fs = fetchers(source)
    assert count(fs["WorkOrder_Curr"]) == ROWS
    assert count(fs["LotUsage"]) == scalar(source, """SELECT COUNT(*) FROM "F4111" WHERE trim("ILLOTN") <> ''""")
    assert count(fs["Item"]) == scalar(source, 'SELECT COUNT(*) FROM "F4101"')
    assert count(fs["LotMaster"]) == scalar(source, 'SELECT COUNT(*) FROM "F4108"')
    assert count(fs["MisData"]) == ROWS
    edge = next(fs["WorkOrder_Curr"].fetch(None)).slice(0, 5).to_pylist()
    assert [r["LastUpdateDT"] for r in edge] == [
        datetime(2024, 2, 29, 0, 0, 0),
        datetime(2024, 2, 29, 9, 30, 15),
        datetime(2024, 2, 29, 23, 59, 59),
        edge[3]["LastUpdateDT"],
        datetime(1900, 1, 1),
    ]
    assert edge[3]["LastUpdateDT"].date() == datetime(1999, 12, 31).date()


def test_incremental_after_touch_returns_exactly_the_touched_rows(tmp_path: Path) -> None:
    path = tmp_path / "jde.db"
    demo.write_demo_source(path, ROWS, seed=2)
    summary = demo.touch(path, 1, seed=3, now=NOW)
    fs = fetchers(path)
    since = NOW - timedelta(minutes=1)
    for name, (_, table, _) in FETCHERS.items():
        updated, added = summary[table]
        got = count(fs[name], since)
        if name == "LotUsage":  # touched ledger rows without a lot are not lot usage
            expected = scalar(
                path, """SELECT COUNT(*) FROM "F4111" WHERE "ILCRDJ" = ? AND trim("ILLOTN") <> ''""", date_to_julian(NOW)
            )
            assert 0 < got == expected <= updated + added
        else:
            assert got == updated + added, name
    assert count(fs["WorkOrder_Curr"], NOW + timedelta(seconds=1)) == 0
