"""JDE and CMS fetchers against real SQLite source files (and one PostgreSQL source)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import table_entry
from source_fetch import FETCHERS

from datasync_demo import generator as demo
from datasync.engine.configuration import parse_config
from datasync.core.errors import ConfigError, SchemaDriftError, SourceDataError, UnknownFetcher
from datasync.fetchers.base import Fetcher
from datasync.fetchers.registry import fetcher_class, known_fetchers
from datasync.sources import SqliteSourceReader



# --------------------------------------------------------------------------- helpers


def make_table(path: Path, table: str, rows: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> Path:
    """A source table with the demo's JDE DDL; unspecified columns get JDE blanks (spaces / 0).

    String values are space-padded to the NCHAR width, like JDE stores them.
    """
    columns = [(n, t) for n, t in demo.TABLES[table] if n not in drop]
    conn = sqlite3.connect(path)
    ddl = ", ".join(f'"{n}" {t}'.rstrip() for n, t in columns)
    conn.execute(f'CREATE TABLE "{table}" ({ddl})')
    for row in rows:
        values = []
        for name, decl in columns:
            width = int(decl[6:-1]) if decl.startswith("NCHAR(") else None
            value = row.get(name, " " * width if width else (None if table == "MIS_DATA" else 0))
            if width and isinstance(value, str):
                value = value.ljust(width)
            values.append(value)
        conn.execute(
            f'INSERT INTO "{table}" ({", ".join(chr(34) + n + chr(34) for n, _ in columns)}) '
            f"VALUES ({', '.join('?' for _ in columns)})",
            values,
        )
    conn.commit()
    conn.close()
    return path


def build(
    reader: Any,
    fetcher: str,
    table_name: str = "T",
    batch_size: int = 1000,
    schema_name: str | None = None,
    **overrides: Any,
) -> Fetcher:
    source_system = "CMS" if fetcher.startswith("Cms") else "JDE"
    raw: dict[str, Any] = {"DataSources": [table_entry(table_name, fetcher, SourceSystem=source_system, **overrides)]}
    if schema_name:
        raw["SourceSystems"] = {source_system: {"ConnId": f"datasync_{source_system.lower()}", "Schema": schema_name}}
    cfg = parse_config(raw)
    ds = cfg.data_sources[0]
    return fetcher_class(fetcher)(ds, cfg.source_system(source_system), reader, batch_size)


def fetch_all(fetcher: Fetcher, minimum_dt: datetime | None = None) -> list[dict[str, Any]]:
    expected = fetcher.schema().arrow_schema()
    rows = []
    for batch in fetcher.fetch(minimum_dt):
        assert batch.schema.equals(expected), f"{batch.schema} != {expected}"
        assert batch.num_rows <= fetcher.batch_size
        rows += batch.to_pylist()
    return rows


@pytest.fixture
def reader_for(tmp_path: Path) -> Iterator[Any]:
    opened: list[SqliteSourceReader] = []

    def open_reader(path: Path) -> SqliteSourceReader:
        opened.append(SqliteSourceReader(str(path)))
        return opened[-1]

    yield open_reader
    for r in opened:
        r.close()


WORK_ORDERS = [
    {  # padding, right-justified business units, century boundary dates
        "WADOCO": 1001, "WADCTO": "WO", "WAMCU": "M30".rjust(12), "WAMMCU": "1234567".rjust(12),
        "WAITM": 60001, "WALITM": "ITEM-000001", "WADL01": "  STEEL BRACKET", "WASRST": "10",
        "WATRDJ": 99365, "WASTRT": 100001, "WADRQJ": 124060, "WASTRX": 0,
        "WAUORG": 12345, "WASOQS": 100, "WASOCN": 0, "WAUOM": "EA", "WALOTN": "L1",
        "WAUPMJ": 124060, "WATDAY": 93015.0,
    },
    {"WADOCO": 1002, "WAUPMJ": 124060, "WATDAY": 93014.0, "WAUORG": 5.0},  # same day, one second earlier
    {"WADOCO": 1003, "WAUPMJ": 124060, "WATDAY": 93016.0},  # one second later
    {"WADOCO": 1004, "WAUPMJ": 124059, "WATDAY": 235959.0},  # the day before
    {"WADOCO": 1005, "WAUPMJ": 0, "WATDAY": 0.0},  # no audit date
    {"WADOCO": 1006, "WAUPMJ": None, "WATDAY": None},  # NULL audit date
    {"WADOCO": 1007, "WAUPMJ": 124061, "WATDAY": 0.0},  # the day after, midnight
]  # fmt: skip


@pytest.fixture
def work_orders(tmp_path: Path) -> Path:
    return make_table(tmp_path / "jde.db", "F4801", WORK_ORDERS)


# --------------------------------------------------------------------------- registry and schemas


def test_registry_knows_the_built_in_fetchers() -> None:
    assert set(FETCHERS) <= set(known_fetchers())


def test_unknown_fetcher_lists_the_known_ones() -> None:
    with pytest.raises(UnknownFetcher) as err:
        fetcher_class("JdeWorkOrderFetcherr")
    message = str(err.value)
    assert "JdeWorkOrderFetcherr" in message
    for name in FETCHERS:
        assert name in message


def test_config_with_unknown_fetcher_names_table_and_known_fetchers() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"DataSources": [table_entry("WorkOrder_Curr", "NoSuchFetcher")]})
    assert "WorkOrder_Curr" in str(err.value) and "JdeLotMasterFetcher" in str(err.value)


REQUIRED = {
    "JdeWorkOrderFetcher": ("DOCO", "DCTO SFXO MCU MMCU ITM LITM DL01 SRST TRDJ STRT DRQJ UORG SOQS SOCN UOM LOTN PARS"),
    "JdeLotUsageFetcher": ("UKID", "ITM LITM MCU LOCN LOTN DOC DCT KCO DOCO DCTO LNID TRDJ TRQT TRUM UNCS"),
    "JdeItemFetcher": ("ITM", "LITM AITM DSC1 DSC2 STKT LNTY UOM1 GLPT LOTS SRCE MPST"),
    "JdeLotMasterFetcher": ("LOTN ITM MCU", "LITM LDSC LOTS MMEJ OHDJ DOCO"),
    "CmsMisDataFetcher": ("MisDataId", "LotNumber ItemNumber WorkOrder Step Machine Quantity Scrap EventTime"),
}


@pytest.mark.parametrize("fetcher", sorted(REQUIRED))
def test_schema_declares_key_columns_and_last_update(fetcher: str) -> None:
    key, columns = REQUIRED[fetcher]
    schema = build(None, fetcher, table_name="Target_Table").schema()
    assert schema.name == "Target_Table"
    assert schema.primary_key == tuple(key.split())
    assert set(columns.split()) <= set(schema.column_names)
    assert schema.column_names[-1] == "LastUpdateDT"
    last = schema.column("LastUpdateDT")
    assert last.kind == "datetime" and not last.nullable
    assert schema.indexes, "reporting users want at least one non-PK index"
    for c in schema.columns:
        if c.kind == "string":
            assert c.length, f"{c.name} has no length"
        if c.kind == "decimal":
            assert c.precision >= 18
    arrow = schema.arrow_schema()
    for k in schema.primary_key:
        assert not arrow.field(k).nullable


def test_jde_types_and_widths() -> None:
    schema = build(None, "JdeWorkOrderFetcher").schema()
    kinds = {c.name: (c.kind, c.length) for c in schema.columns}
    assert kinds["DOCO"] == ("int", None)
    assert kinds["DCTO"] == ("string", 2)
    assert kinds["MCU"] == ("string", 12)
    assert kinds["LITM"] == ("string", 25)
    assert kinds["DL01"] == ("string", 30)
    assert kinds["LOTN"] == ("string", 30)
    assert kinds["UOM"] == ("string", 2)
    assert kinds["TRDJ"] == ("date", None)
    assert kinds["UORG"] == ("decimal", None)
    usage = {c.name: c for c in build(None, "JdeLotUsageFetcher").schema().columns}
    assert usage["LOCN"].length == 20
    assert (usage["LNID"].scale, usage["UNCS"].scale) == (3, 4)
    assert build(None, "JdeWorkOrderFetcher").schema().indexes == (("ITM",), ("LOTN",))
    assert ("LOTN",) in build(None, "JdeLotUsageFetcher").schema().indexes


def test_lot_master_has_composite_key() -> None:
    schema = build(None, "JdeLotMasterFetcher").schema()
    assert schema.primary_key == ("LOTN", "ITM", "MCU")
    assert schema.column_names[:3] == ["LOTN", "ITM", "MCU"]


def test_column_decimals_override_changes_the_scale() -> None:
    schema = build(None, "JdeWorkOrderFetcher", ColumnDecimals={"UORG": 4}).schema()
    assert schema.column("UORG").scale == 4
    assert schema.column("SOQS").scale == 0
    assert schema.arrow_schema().field("UORG").type == pa.decimal128(18, 4)


def test_column_decimals_for_a_column_that_is_not_decimal() -> None:
    with pytest.raises(ConfigError) as err:
        build(None, "JdeWorkOrderFetcher", table_name="WorkOrder_Curr", ColumnDecimals={"DL01": 2}).schema()
    message = str(err.value)
    assert "WorkOrder_Curr" in message and "ColumnDecimals" in message and "DL01" in message and "UORG" in message


# --------------------------------------------------------------------------- work orders: values


def test_work_order_values(work_orders: Path, reader_for: Any) -> None:
    rows = {r["DOCO"]: r for r in fetch_all(build(reader_for(work_orders), "JdeWorkOrderFetcher"))}
    assert len(rows) == len(WORK_ORDERS)
    first = rows[1001]
    assert first["DCTO"] == "WO"
    assert first["MCU"] == "M30" and first["MMCU"] == "1234567"
    assert first["LITM"] == "ITEM-000001"
    assert first["DL01"] == "  STEEL BRACKET"  # leading spaces are data, trailing ones padding
    assert first["SFXO"] == "" and first["PARS"] == ""
    assert (first["TRDJ"], first["STRT"], first["DRQJ"], first["STRX"]) == (
        date(1999, 12, 31),
        date(2000, 1, 1),
        date(2024, 2, 29),
        None,
    )
    assert first["UORG"] == Decimal(12345) and rows[1002]["UORG"] == Decimal(5)
    assert first["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)
    assert rows[1007]["LastUpdateDT"] == datetime(2024, 3, 1)


def test_missing_audit_date_loads_as_1900(work_orders: Path, reader_for: Any) -> None:
    rows = {r["DOCO"]: r for r in fetch_all(build(reader_for(work_orders), "JdeWorkOrderFetcher"))}
    assert rows[1005]["LastUpdateDT"] == datetime(1900, 1, 1)
    assert rows[1006]["LastUpdateDT"] == datetime(1900, 1, 1)


def test_column_decimals_override_scales_values(work_orders: Path, reader_for: Any) -> None:
    fetcher = build(reader_for(work_orders), "JdeWorkOrderFetcher", ColumnDecimals={"UORG": 4, "soqs": 2})
    rows = {r["DOCO"]: r for r in fetch_all(fetcher)}
    assert rows[1001]["UORG"] == Decimal("1.2345")
    assert rows[1001]["SOQS"] == Decimal("1.00")
    assert rows[1002]["UORG"] == Decimal("0.0005")  # FLOAT source value 5.0


def test_incremental_filter_is_exact_on_last_update(work_orders: Path, reader_for: Any) -> None:
    fetcher = build(reader_for(work_orders), "JdeWorkOrderFetcher")
    rows = fetch_all(fetcher, datetime(2024, 2, 29, 9, 30, 15))
    # 1002 has the same Julian date but an earlier time; 1004 the day before; 1005/1006 no audit date
    assert sorted(r["DOCO"] for r in rows) == [1001, 1003, 1007]
    assert all(r["LastUpdateDT"] >= datetime(2024, 2, 29, 9, 30, 15) for r in rows)


def test_incremental_filter_with_microseconds(work_orders: Path, reader_for: Any) -> None:
    rows = fetch_all(build(reader_for(work_orders), "JdeWorkOrderFetcher"), datetime(2024, 2, 29, 9, 30, 15, 1))
    assert sorted(r["DOCO"] for r in rows) == [1003, 1007]


def test_incremental_pushdown_is_on_the_julian_date(work_orders: Path, reader_for: Any) -> None:
    fetcher = build(reader_for(work_orders), "JdeWorkOrderFetcher")
    sql = fetcher.sql(incremental=True)
    assert '"WAUPMJ" >= :min_julian' in sql
    assert '"WATDAY"' not in sql.split("WHERE")[1]
    assert "WHERE" not in fetcher.sql(incremental=False)


def test_batches_respect_batch_size(work_orders: Path, reader_for: Any) -> None:
    fetcher = build(reader_for(work_orders), "JdeWorkOrderFetcher", batch_size=3)
    sizes = [b.num_rows for b in fetcher.fetch(None)]
    assert sizes == [3, 3, 1]


def test_source_schema_prefix(work_orders: Path, reader_for: Any) -> None:
    # SQLite calls the file's own schema "main": "main"."F4801" is a real schema-qualified name
    fetcher = build(reader_for(work_orders), "JdeWorkOrderFetcher", schema_name="main")
    assert 'FROM "main"."F4801"' in fetcher.sql(incremental=False)
    assert len(fetch_all(fetcher)) == len(WORK_ORDERS)
    other = build(reader_for(work_orders), "JdeWorkOrderFetcher", schema_name="PRODDTA")
    assert 'FROM "PRODDTA"."F4801"' in other.sql(incremental=True)


# --------------------------------------------------------------------------- work orders: bad data


def test_invalid_julian_in_source_names_table_column_and_key(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4801", [{"WADOCO": 1, "WATRDJ": 124060}, {"WADOCO": 77, "WATRDJ": 125366}])
    with pytest.raises(SourceDataError) as err:
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher", table_name="WorkOrder_Curr"))
    message = str(err.value)
    assert "F4801.WATRDJ" in message and "WorkOrder_Curr.TRDJ" in message and "DOCO=77" in message
    assert "125366" in message


def test_invalid_tday_in_source(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4801", [{"WADOCO": 5, "WAUPMJ": 124060, "WATDAY": 246060.0}])
    with pytest.raises(SourceDataError, match=r"F4801\.WATDAY.*DOCO=5.*246060"):
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher"))


def test_non_utf8_bytes_name_table_column_and_key(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4801", [{"WADOCO": 1}, {"WADOCO": 42}])
    with sqlite3.connect(path) as conn:
        conn.execute("""UPDATE "F4801" SET "WADL01" = CAST(X'4D4F54FF52' AS TEXT) WHERE "WADOCO" = 42""")
    with pytest.raises(SourceDataError) as err:
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher"))
    message = str(err.value)
    assert "F4801.WADL01" in message and "WADOCO=42" in message and "UTF-8" in message


def test_dropped_source_column_is_schema_drift(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4801", [{"WADOCO": 1}], drop=("WAPARS",))
    with pytest.raises(SchemaDriftError) as err:
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher"))
    assert "F4801" in str(err.value) and "WAPARS" in str(err.value)


def test_missing_source_table_is_schema_drift(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4101", [])
    with pytest.raises(SchemaDriftError, match="F4801"):
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher"))


def test_text_in_a_numeric_column(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4801", [{"WADOCO": 1}, {"WADOCO": 9, "WAITM": "N/A"}])
    with pytest.raises(SourceDataError) as err:
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher"))
    assert "F4801.WAITM" in str(err.value) and "WADOCO=9" in str(err.value) and "N/A" in str(err.value)


def test_fractional_value_in_an_integer_column_is_not_truncated(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4801", [{"WADOCO": 3, "WAITM": 60001.5}])
    with pytest.raises(SourceDataError, match=r"F4801\.WAITM.*WADOCO=3"):
        fetch_all(build(reader_for(path), "JdeWorkOrderFetcher"))


def test_fetch_without_reader_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no source reader"):
        list(build(None, "JdeWorkOrderFetcher").fetch(None))


# --------------------------------------------------------------------------- lot usage, items, lots


def test_lot_usage_skips_rows_without_lot(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(
        tmp_path / "jde.db",
        "F4111",
        [
            {"ILUKID": 1, "ILLOTN": "LT1", "ILMCU": "M30".rjust(12), "ILLNID": 2000, "ILUNCS": 4046588.0,
             "ILTRQT": -25, "ILTRDJ": 124060, "ILCRDJ": 124060, "ILTDAY": 93015},
            {"ILUKID": 2, "ILLOTN": "", "ILCRDJ": 124060, "ILTDAY": 93015},  # blank: all spaces
            {"ILUKID": 3, "ILLOTN": None, "ILCRDJ": 124060},
            {"ILUKID": 4, "ILLOTN": "  LT4", "ILCRDJ": 124061, "ILTDAY": 120000.0},  # REAL time
            {"ILUKID": 5, "ILLOTN": "LT5", "ILCRDJ": 0, "ILTDAY": 0},
        ],
    )  # fmt: skip
    rows = {r["UKID"]: r for r in fetch_all(build(reader_for(path), "JdeLotUsageFetcher"))}
    assert sorted(rows) == [1, 4, 5]
    assert rows[1]["LOTN"] == "LT1" and rows[1]["MCU"] == "M30"
    assert rows[1]["LNID"] == Decimal("2.000") and rows[1]["UNCS"] == Decimal("404.6588")
    assert rows[1]["TRQT"] == Decimal(-25) and rows[1]["TRDJ"] == date(2024, 2, 29)
    assert rows[1]["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)  # ILCRDJ + ILTDAY
    assert rows[4]["LOTN"] == "  LT4" and rows[4]["LastUpdateDT"] == datetime(2024, 3, 1, 12)
    assert rows[5]["LastUpdateDT"] == datetime(1900, 1, 1)
    assert [r["UKID"] for r in fetch_all(build(reader_for(path), "JdeLotUsageFetcher"), datetime(2024, 3, 1))] == [4]


def test_item_master(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(
        tmp_path / "jde.db",
        "F4101",
        [{"IMITM": 60001, "IMLITM": "ITEM-1", "IMDSC1": "COVER", "IMSTKT": "S", "IMUPMJ": 99365, "IMTDAY": 235959}],
    )
    (row,) = fetch_all(build(reader_for(path), "JdeItemFetcher"))
    assert row["ITM"] == 60001 and row["LITM"] == "ITEM-1" and row["DSC1"] == "COVER" and row["DSC2"] == ""
    assert row["STKT"] == "S" and row["LastUpdateDT"] == datetime(1999, 12, 31, 23, 59, 59)


def test_lot_master_same_lot_in_two_branches(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(
        tmp_path / "jde.db",
        "F4108",
        [
            {"IOLOTN": "LT1", "IOITM": 60001, "IOMCU": "M30".rjust(12), "IOMMEJ": 125001, "IOUPMJ": 100001},
            {"IOLOTN": "LT1", "IOITM": 60001, "IOMCU": "10".rjust(12), "IOMMEJ": 0, "IOUPMJ": 100001, "IOTDAY": 1.0},
        ],
    )
    rows = fetch_all(build(reader_for(path), "JdeLotMasterFetcher"))
    assert sorted((r["LOTN"], r["ITM"], r["MCU"]) for r in rows) == [("LT1", 60001, "10"), ("LT1", 60001, "M30")]
    by_mcu = {r["MCU"]: r for r in rows}
    assert by_mcu["M30"]["MMEJ"] == date(2025, 1, 1) and by_mcu["10"]["MMEJ"] is None
    assert by_mcu["10"]["LastUpdateDT"] == datetime(2000, 1, 1, 0, 0, 1)


def test_null_string_key_becomes_blank(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4108", [{"IOLOTN": None, "IOITM": 1, "IOMCU": None}])
    (row,) = fetch_all(build(reader_for(path), "JdeLotMasterFetcher"))
    assert (row["LOTN"], row["MCU"]) == ("", "")


def test_null_integer_key_is_an_error(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "jde.db", "F4101", [{"IMITM": None, "IMLITM": "X"}])
    with pytest.raises(SourceDataError, match=r"F4101\.IMITM.*NULL"):
        fetch_all(build(reader_for(path), "JdeItemFetcher"))


# --------------------------------------------------------------------------- CMS


def test_cms_mis_data(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(
        tmp_path / "cms.db",
        "MIS_DATA",
        [
            {"MisDataId": 1, "LotNumber": "LT1", "ItemNumber": "ITEM-1", "WorkOrder": 1001, "Step": 10,
             "Machine": "MC-01", "Quantity": 12.5, "Scrap": 0.25, "EventTime": "2024-02-29 09:00:00",
             "LastModified": "2024-02-29 09:30:15"},
            {"MisDataId": 2, "Quantity": 3, "LastModified": "2024-02-29 09:30:14"},
            {"MisDataId": 3, "Quantity": 1.23456, "LastModified": "2024-02-29 09:30:15.500"},
            {"MisDataId": 4, "LastModified": None},
        ],
    )  # fmt: skip
    fetcher = build(reader_for(path), "CmsMisDataFetcher")
    rows = {r["MisDataId"]: r for r in fetch_all(fetcher)}
    assert rows[1]["Quantity"] == Decimal("12.5000") and rows[1]["Scrap"] == Decimal("0.2500")
    assert rows[1]["EventTime"] == datetime(2024, 2, 29, 9)
    assert rows[1]["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)
    assert rows[2]["Quantity"] == Decimal(3) and rows[2]["EventTime"] is None
    assert rows[3]["Quantity"] == Decimal("1.2346")
    assert rows[4]["LastUpdateDT"] == datetime(1900, 1, 1)
    since = fetch_all(build(reader_for(path), "CmsMisDataFetcher"), datetime(2024, 2, 29, 9, 30, 15))
    assert sorted(r["MisDataId"] for r in since) == [1, 3]
    since = fetch_all(build(reader_for(path), "CmsMisDataFetcher"), datetime(2024, 2, 29, 9, 30, 15, 200_000))
    assert [r["MisDataId"] for r in since] == [3]


def test_cms_column_decimals(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "cms.db", "MIS_DATA", [{"MisDataId": 1, "Quantity": 2.345}])
    (row,) = fetch_all(build(reader_for(path), "CmsMisDataFetcher", ColumnDecimals={"Quantity": 2}))
    assert row["Quantity"] == Decimal("2.35") or row["Quantity"] == Decimal("2.34")  # float 2.345 is 2.34499...
    with pytest.raises(ConfigError, match="Machine"):
        build(None, "CmsMisDataFetcher", ColumnDecimals={"Machine": 2}).schema()


def test_cms_bad_timestamp_names_the_row(tmp_path: Path, reader_for: Any) -> None:
    path = make_table(tmp_path / "cms.db", "MIS_DATA", [{"MisDataId": 8, "LastModified": "yesterday"}])
    with pytest.raises(SourceDataError, match=r"MIS_DATA\.LastModified.*MisDataId=8.*yesterday"):
        fetch_all(build(reader_for(path), "CmsMisDataFetcher"))


# --------------------------------------------------------------------------- connections


def test_open_source_from_airflow_connection(work_orders: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datasync.connections import DirectConnector

    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{work_orders}")
    reader = DirectConnector().source("datasync_jde")
    try:
        assert isinstance(reader, SqliteSourceReader) and reader.path == str(work_orders)
        assert len(fetch_all(build(reader, "JdeWorkOrderFetcher"))) == len(WORK_ORDERS)
    finally:
        reader.close()
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_ODD", "mysql://u:p@h:3306/db")
    with pytest.raises(ConfigError) as err:
        DirectConnector().source("datasync_odd")
    assert "datasync_odd" in str(err.value) and "mysql" in str(err.value) and "sqlite" in str(err.value)


def test_missing_sqlite_file_is_a_config_error(tmp_path: Path) -> None:
    reader = SqliteSourceReader(str(tmp_path / "nope.db"))  # opened on first read
    with pytest.raises(ConfigError, match="nope.db"):
        fetch_all(build(reader, "JdeWorkOrderFetcher"))
    assert not (tmp_path / "nope.db").exists()
    reader.close()


# --------------------------------------------------------------------------- PostgreSQL source


@pytest.fixture
def pg_source() -> Iterator[dict[str, Any]]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"datasync_src_{__import__('os').getpid()}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    params = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": name}
    try:
        yield params
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_postgres_source_reader(pg_source: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from datasync.connections import DirectConnector
    from datasync.sources import PostgresSourceReader

    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_CMS", "postgres://postgres@127.0.0.1:5432/" + pg_source["dbname"])
    via_airflow = DirectConnector().source("datasync_cms")
    assert isinstance(via_airflow, PostgresSourceReader) and via_airflow.placeholder("x") == "%(x)s"
    via_airflow.close()

    with psycopg.connect(**pg_source, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA proddta")
        cols = ", ".join(
            f'"{n}" ' + (f"CHAR({t[6:-1]})" if t.startswith("NCHAR") else "double precision" if t == "FLOAT" else "numeric")
            for n, t in demo.F4801
        )
        conn.execute(f'CREATE TABLE proddta."F4801" ({cols})')
        with conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO proddta."F4801" ("WADOCO", "WAMCU", "WALITM", "WATRDJ", "WAUORG", "WAUPMJ", "WATDAY") '
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(1000 + i, "M30".rjust(12), f"ITEM-{i}", 124060, i * 10, 124060 if i % 2 else 124059, 93015.0) for i in range(25)],
            )
    reader = PostgresSourceReader.connect(**pg_source)
    try:
        fetcher = build(reader, "JdeWorkOrderFetcher", schema_name="proddta", batch_size=10, ColumnDecimals={"UORG": 1})
        assert "%(min_julian)s" in fetcher.sql(incremental=True)
        rows = fetch_all(fetcher)
        assert [b.num_rows for b in fetcher.fetch(None)] == [10, 10, 5]
        assert len(rows) == 25
        row = next(r for r in rows if r["DOCO"] == 1003)
        assert row["MCU"] == "M30" and row["LITM"] == "ITEM-3" and row["UORG"] == Decimal("3.0")
        assert row["TRDJ"] == date(2024, 2, 29) and row["LastUpdateDT"] == datetime(2024, 2, 29, 9, 30, 15)
        since = fetch_all(fetcher, datetime(2024, 2, 29, 9, 30, 15))
        assert sorted(r["DOCO"] for r in since) == [1000 + i for i in range(25) if i % 2]
        with psycopg.connect(**pg_source, autocommit=True) as conn:
            conn.execute('ALTER TABLE proddta."F4801" DROP COLUMN "WAPARS"')
        with pytest.raises(SchemaDriftError, match="WAPARS"):
            fetch_all(fetcher)
        with psycopg.connect(**pg_source, autocommit=True) as conn:
            conn.execute('ALTER TABLE proddta."F4801" ADD COLUMN "WAPARS" CHAR(8)')
        assert len(fetch_all(fetcher)) == 25  # the reader is still usable after the error
    finally:
        reader.close()


def test_aware_minimum_dt_is_converted_to_source_local_time(work_orders: Path, reader_for: Any) -> None:
    from datetime import timezone

    cfg = parse_config(
        {
            "DataSources": [table_entry("WorkOrder_Curr", "JdeWorkOrderFetcher")],
            "SourceSystems": {"JDE": {"ConnId": "datasync_jde", "TimeZone": "America/Chicago"}},
        }
    )
    ds = cfg.data_sources[0]
    fetcher = fetcher_class("JdeWorkOrderFetcher")(ds, cfg.source_system("JDE"), reader_for(work_orders), 100)
    aware = datetime(2024, 2, 29, 15, 30, 15, tzinfo=timezone.utc)  # 09:30:15 in Chicago (CST)
    assert sorted(r["DOCO"] for r in fetch_all(fetcher, aware)) == [1001, 1003, 1007]
