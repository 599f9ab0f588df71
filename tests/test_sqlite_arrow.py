"""The SQLite source's Arrow path (ADBC) delivers what the row-by-row path delivers, or names the bad row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import table_entry

from datasync.core.reading import SourceQuery
from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config
from datasync.core.errors import SourceDataError
from datasync.fetchers.registry import fetcher_class
from datasync.sources import SqliteSourceReader
from datasync.sources.sqlite_arrow import integer_affinity, wrap_query

pytest.importorskip("adbc_driver_sqlite")

RAW = pa.schema([("K", pa.int64()), ("S", pa.string()), ("I", pa.int64())])


def table(path: Path, rows: list[tuple[Any, ...]], decl: str = '"K" INTEGER, "S" NCHAR(5), "I" NUMERIC, "X"') -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute(f'CREATE TABLE "T" ({decl})')
        conn.executemany('INSERT INTO "T" VALUES (?, ?, ?, ?)', rows)
    return path


def read(path: Path, arrow: bool, batch_size: int = 4) -> list[dict[str, Any]]:
    reader = SqliteSourceReader(str(path), arrow=arrow)
    try:
        batches = list(reader.read(SourceQuery('SELECT "K", "S", "I", "X" FROM "T"', {}, batch_size, RAW, table="T", key_columns=("K",))))
    finally:
        reader.close()
    assert all(b.num_rows <= batch_size for b in batches)
    assert [b.num_rows for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    return [row for b in batches for row in b.to_pylist()]


def test_columns_that_change_storage_class_between_batches(tmp_path: Path) -> None:
    rows = [(i, None if i < 6 else f"s{i}", i if i < 6 else float(i), i if i < 6 else i + 0.5) for i in range(10)]
    path = table(tmp_path / "t.db", rows)  # S: NULLs first; I: integers, then whole REALs; X: ints, then fractions
    got = read(path, arrow=True)
    assert got == read(path, arrow=False)
    assert got[7] == {"K": 7, "S": "s7", "I": 7, "X": 7.5}


@pytest.mark.parametrize(
    "bad, match",
    [
        ((8, "ok", 2.5, 0), r"T\.I, row K=8: 2\.5"),  # a fraction in an integer column, in a later batch
        ((9, b"MO\xffR", 1, 0), r"T\.S, row K=9.*UTF-8"),  # bytes that are not UTF-8
    ],
)
def test_bad_values_after_the_first_batch_name_the_row(tmp_path: Path, bad: tuple[Any, ...], match: str) -> None:
    rows: list[tuple[Any, ...]] = [(i, "ok", i, 0) for i in range(8)] + [bad]
    path = table(tmp_path / "t.db", rows, decl='"K" INTEGER, "S", "I", "X"')
    with pytest.raises(SourceDataError, match=match):
        read(path, arrow=True)


@pytest.mark.parametrize("decl", ["NUMERIC", "INTEGER", "REAL", ""], ids=["numeric", "integer", "real", "untyped"])
def test_whole_reals_in_an_integer_column_read_as_integers_whatever_the_affinity(tmp_path: Path, decl: str) -> None:
    """NUMERIC/INTEGER affinity stores 3.0 as 3 (no test in the query); REAL and untyped keep a REAL (tested)."""
    rows = [(i, "s", i if i < 6 else float(i), 0) for i in range(10)]
    path = table(tmp_path / "t.db", rows, decl=f'"K" INTEGER, "S" NCHAR(5), "I" {decl}, "X"')
    with sqlite3.connect(path) as conn:
        stored = {t for (t,) in conn.execute('SELECT DISTINCT typeof("I") FROM "T"')}
    assert stored == {"NUMERIC": {"integer"}, "INTEGER": {"integer"}, "REAL": {"real"}, "": {"integer", "real"}}[decl]
    got = read(path, arrow=True)
    assert [r["I"] for r in got] == list(range(10)) and got == read(path, arrow=False)


@pytest.mark.parametrize(
    "declared, affinity",
    [("INTEGER", True), ("BIGINT", True), ("NUMERIC", True), ("DECIMAL(10,2)", True), ("DATE", True),
     ("NCHAR(5)", False), ("TEXT", False), ("REAL", False), ("FLOAT", False), ("DOUBLE", False), ("BLOB", False),
     ("", False), (None, False)],
)
def test_integer_affinity_follows_sqlites_rules(declared: str | None, affinity: bool) -> None:
    assert integer_affinity(declared) is affinity


def test_exact_columns_are_selected_as_they_are() -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.int64())])
    sql = wrap_query('SELECT "a", "b" FROM "T"', ["a", "b"], schema, exact={"a"})
    assert sql.endswith('SELECT "a", CASE WHEN typeof("b") = \'real\' AND "b" = CAST("b" AS INTEGER) '
                        'THEN CAST("b" AS INTEGER) ELSE "b" END FROM (\nSELECT "a", "b" FROM "T"\n)')


def test_witness_row_keeps_the_query_columns() -> None:
    sql = wrap_query('SELECT "a", "b" FROM "T"', ["a", "b"], pa.schema([("a", pa.int64())]))
    assert sql.startswith('SELECT 0 AS "a", 0.0 AS "b"\nUNION ALL\nSELECT CASE WHEN typeof("a")')


@pytest.mark.parametrize("fetcher", ["JdeLotUsageFetcher", "JdeWorkOrderFetcher", "CmsMisDataFetcher"])
def test_demo_source_reads_the_same_both_ways(tmp_path: Path, fetcher: str) -> None:
    path = tmp_path / "jde.db"
    demo.write_demo_source(path, 2000, seed=3)
    system = "CMS" if fetcher.startswith("Cms") else "JDE"
    cfg = parse_config({"DataSources": [table_entry("T", fetcher, SourceSystem=system)]})
    results = []
    for arrow in (True, False):
        reader = SqliteSourceReader(str(path), arrow=arrow)
        try:
            f = fetcher_class(fetcher)(cfg.data_sources[0], cfg.source_system(system), reader, 300)
            results.append([row for b in f.fetch(None) for row in b.to_pylist()])
        finally:
            reader.close()
    assert results[0] and results[0] == results[1]
