"""Bad input on every target: each case fails with a clear error naming the table, the column
and the row key where they apply, leaves a failed ledger row where a sync started, and leaves
the target unchanged. Hostile names never reach SQL text. (JDE-specific bad source data:
test_battery_jde.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from battery.battery_lib import contents, initial_rows, ledger_rows, make_config, memory_schema, row, sync, table_entry
from datasync.config import DataSyncConfig, read_section
from datasync.engine.configuration import load_config, parse_config
from datasync.core.errors import (
    ConfigError,
    PermanentSyncError,
    SourceDataError,
    UnknownFetcher,
    UnsafeIdentifier,
)
from datasync.fetchers.registry import register
from datasync.engine.ledger import Ledger
from datasync.core.schema import Column, TableSchema
from datasync.engine.sync import SyncRequest, run_sync
from memory_fetcher import MemoryFetcher, NullReader

TABLE = "Items"
HOSTILE_NAMES = [
    "x]; DROP TABLE y--",
    'x"; DROP TABLE "Bystander"; --',
    "x'; DELETE FROM \"DataUpdate\"; --",
    "Größe",
    "名前",
    "a b",
    "1abc",
    "",
    "x" * 129,
]


@register
class BadBytesFetcher(MemoryFetcher):
    """Delivers the Name of rows named '<bad>' as bytes that are not UTF-8 (a fetcher bug)."""

    type_name = "BadBytesFetcher"  # a subclass would otherwise inherit (and take over) "MemoryFetcher"

    def fetch(self, minimum_dt: datetime | None) -> Iterator[pa.RecordBatch]:
        for batch in super().fetch(minimum_dt):
            names = batch.column("Name").to_pylist()
            raw = [b"\xff\xfe bad" if n == "<bad>" else (n or "").encode() for n in names]
            offsets = [0]
            for r in raw:
                offsets.append(offsets[-1] + len(r))
            column = pa.Array.from_buffers(
                pa.string(), len(raw), [None, pa.py_buffer(pa.array(offsets, pa.int32()).buffers()[1]), pa.py_buffer(b"".join(raw))]
            )
            yield batch.set_column(batch.schema.get_field_index("Name"), batch.schema.field("Name"), column)


@register
class DriftFetcher(MemoryFetcher):
    """The source lost column Qty: batches arrive without it."""

    type_name = "DriftFetcher"  # a subclass would otherwise inherit (and take over) "MemoryFetcher"

    def fetch(self, minimum_dt: datetime | None) -> Iterator[pa.RecordBatch]:
        for batch in super().fetch(minimum_dt):
            yield batch.drop_columns(["Qty"])


@register
class HostileColumnFetcher(MemoryFetcher):
    """Declares a target column whose name is ``hostile`` (set by the test)."""

    type_name = "HostileColumnFetcher"  # a subclass would otherwise inherit (and take over) "MemoryFetcher"

    hostile = "x"

    def schema(self) -> TableSchema:
        base = super().schema()
        return TableSchema(
            name=base.name,
            columns=(*base.columns, Column(type(self).hostile, "string")),
            primary_key=base.primary_key,
        )


def rejected(target, cfg: DataSyncConfig, table: str, sync_type: str, exc_type: type, *fragments: str) -> str:
    """Run a sync that must fail; check the message, the failed ledger row and the unchanged target."""
    schema = memory_schema(table, cfg)
    before = contents(target, schema)
    ledger_before = len(ledger_rows(target, table))
    with pytest.raises(exc_type) as info:
        sync(cfg, target, table, sync_type, full_refresh=True)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    assert contents(target, schema) == before
    rows = ledger_rows(target, table)
    assert len(rows) == ledger_before + 1
    failed = rows[-1]
    assert (failed.update_type, failed.number_records, failed.was_successful) == (sync_type, -1, False)
    assert failed.end_dt is not None
    for fragment in fragments:
        assert fragment in failed.error_message
    return message


@pytest.fixture
def loaded(target):
    """Items loaded with 8 good rows by a Mass; returns the config."""
    cfg = make_config(TABLE, batch_size=3)
    MemoryFetcher.sources[TABLE] = initial_rows(8)
    sync(cfg, target, TABLE, "Mass")
    return cfg


SYNC_TYPES = ["Mass", "Daily"]


@pytest.mark.parametrize("sync_type", SYNC_TYPES)
def test_null_in_a_key_column(target, loaded, sync_type):
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1), row(2, age_h=1), row(3, age_h=1), row(4, site=None, age_h=1)]
    rejected(target, loaded, TABLE, sync_type, SourceDataError, "table Items", "column Site", "NULL", "Id=4")


@pytest.mark.parametrize("sync_type", SYNC_TYPES)
def test_null_last_update(target, loaded, sync_type):
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1), row(5, LastUpdateDT=None)]
    rejected(target, loaded, TABLE, sync_type, SourceDataError, "table Items", "column LastUpdateDT", "Id=5", "Site='M30'")


@pytest.mark.parametrize("where", ["same batch", "across batches"])
def test_duplicate_keys_in_a_mass_load(backend, target, loaded, where):
    """Mass loads straight into the table: duplicate keys fail it (a Daily keeps the latest)."""
    rows = [row(i, age_h=1) for i in range(20, 26)]
    rows.insert(1 if where == "same batch" else 4, row(20, name="again", age_h=1))
    MemoryFetcher.sources[TABLE] = rows
    msg = rejected(target, loaded, TABLE, "Mass", SourceDataError, "table Items", "key column(s) Id, Site")
    if where == "same batch" or backend.name == "sqlite":  # SQLite tells which row failed
        assert "duplicate key (Id=20, Site='M30')" in msg
    else:  # the server names the key itself
        assert "already loaded by an earlier batch" in msg
        assert {"postgres": 'Key ("Id", "Site")=(20, M30) already exists', "mssql": "(20, M30)"}[backend.name] in msg
    # the same source through a Daily: the later row wins, no error
    r = sync(loaded, target, TABLE, "Daily", full_refresh=True)
    assert r.rows == 7 and contents(target, memory_schema(TABLE, loaded))[(20, "M30")][2] == "again"


@pytest.mark.parametrize("sync_type", SYNC_TYPES)
def test_string_longer_than_its_column(target, loaded, sync_type):
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1), row(6, site="D10", name="ü" * 31, age_h=1)]
    rejected(
        target, loaded, TABLE, sync_type, SourceDataError,
        "table Items", "column Name", "31 characters", "longer than the column's 30", "Id=6, Site='D10'",
    )


@pytest.mark.parametrize("sync_type", SYNC_TYPES)
def test_bytes_that_are_not_utf8(target, loaded, sync_type):
    cfg = make_config(table_entry(TABLE, "BadBytesFetcher"), batch_size=3)
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1), row(7, name="<bad>", age_h=1)]
    rejected(target, cfg, TABLE, sync_type, SourceDataError, "table Items", "column Name", "not valid UTF-8", "Id=7")


@pytest.mark.parametrize("sync_type", SYNC_TYPES)
def test_source_missing_a_column(target, loaded, sync_type):
    cfg = make_config(table_entry(TABLE, "DriftFetcher"), batch_size=3)
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1)]
    rejected(target, cfg, TABLE, sync_type, PermanentSyncError, "table Items", "missing column(s) Qty")


def test_unknown_fetcher(target, loaded):
    raw = {"DataSources": [table_entry(TABLE, "NoSuchFetcher")]}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert "table Items, field FetcherTypeName: unknown fetcher 'NoSuchFetcher'" in str(info.value)
    assert "MemoryFetcher" in str(info.value)  # the known ones are listed
    # a config that skipped validation fails before a sync starts: no ledger row, target untouched
    cfg = DataSyncConfig.model_validate(raw)
    schema = memory_schema(TABLE, loaded)
    before, ledger_before = contents(target, schema), ledger_rows(target, TABLE)
    with pytest.raises(UnknownFetcher, match="unknown fetcher 'NoSuchFetcher'; known fetchers: .*MemoryFetcher"):
        run_sync(cfg, SyncRequest(TABLE, "Daily"), target, NullReader)
    assert contents(target, schema) == before and ledger_rows(target, TABLE) == ledger_before


@pytest.mark.parametrize(
    "text, suffix, fragments",
    [
        ("DataSync: {BatchSize: 5\n  DataSources: [", ".yaml", ["malformed YAML"]),
        ('{"DataSync": {"BatchSize": 5,}', ".json", ["malformed JSON"]),
        ("- just\n- a list\n", ".yaml", ["top level must be a mapping"]),
        ("DataSync: {BatchSize: many}", ".yaml", ["field BatchSize"]),
        ("DataSync: {BatchSize: 0}", ".yaml", ["field BatchSize"]),
        (
            "DataSync:\n  DataSources:\n    - {TableName: Items, FetcherTypeName: MemoryFetcher,"
            " DailyConfig: {Enabled: true, IntervalMinutes: 0}}\n",
            ".yaml",
            ["table Items, field DailyConfig.IntervalMinutes: must be positive"],
        ),
        (
            "DataSync:\n  DataSources:\n    - {TableName: Items, FetcherTypeName: MemoryFetcher}\n"
            "    - {TableName: ITEMS, FetcherTypeName: MemoryFetcher}\n",
            ".yaml",
            ["duplicate TableName"],
        ),
        ("DataSync:\n  DataSources:\n    - {TableName: Items, FetcherTypeName: MemoryFetcher, Bogus: 1}\n", ".yaml", ["table Items", "Bogus"]),
    ],
)
def test_malformed_config_names_file_and_field(tmp_path: Path, text, suffix, fragments):
    path = tmp_path / f"datasync{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_table_names_are_config_errors(name):
    with pytest.raises(ConfigError) as info:
        parse_config({"DataSources": [table_entry(name)]})
    assert "TableName" in str(info.value) and "not a plain identifier" in str(info.value)
    with pytest.raises(ConfigError, match="not a plain identifier"):
        parse_config({"DataSources": [table_entry(TABLE, ColumnDecimals={name: 2})]})


@pytest.mark.parametrize("name", HOSTILE_NAMES[:5])
def test_hostile_column_name_never_reaches_sql(target, loaded, name):
    target.execute('CREATE TABLE "Bystander" ("Id" INTEGER)')
    target.execute('INSERT INTO "Bystander" ("Id") VALUES (1)')
    HostileColumnFetcher.hostile = name
    cfg = make_config(table_entry(TABLE, "HostileColumnFetcher"))
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1)]
    rejected(target, cfg, TABLE, "Daily", UnsafeIdentifier, "not a plain identifier")
    assert target.query('SELECT "Id" FROM "Bystander"') == [(1,)]
    assert target.table_exists("DataUpdate") and target.table_exists(TABLE)


@pytest.mark.parametrize("name", HOSTILE_NAMES[:5])
def test_hostile_names_passed_to_the_engine_are_rejected_or_bound(target, loaded, name):
    schema = memory_schema(TABLE, loaded)
    before = contents(target, schema)
    # as an operation id (becomes part of the staging table names): rejected before any SQL
    MemoryFetcher.sources[TABLE] = [row(1, age_h=1)]
    with pytest.raises(UnsafeIdentifier):
        sync(loaded, target, TABLE, "Daily", operation_id=name)
    assert ledger_rows(target, TABLE)[-1].number_records == -1
    # as values (table names in ledger queries): bound parameters, matched literally
    assert Ledger(target).recent(name) == [] and Ledger(target).last_success(name) == {}
    assert target.table_exists(name) is False
    assert contents(target, schema) == before


def test_values_that_look_like_sql_are_stored_verbatim(target, loaded):
    schema = memory_schema(TABLE, loaded)
    evil = ["'; DROP TABLE \"Items\"; --", 'x"]; DROP TABLE y--', "NULL", "", "\\N", "%(limit)s", "?"]
    MemoryFetcher.sources[TABLE] = [row(100 + i, name=v, age_h=1) for i, v in enumerate(evil)]
    sync(loaded, target, TABLE, "Daily", full_refresh=True)
    got = contents(target, schema)
    assert [got[(100 + i, "M30")][2] for i in range(len(evil))] == evil


def test_config_file_round_trip_of_a_good_section(tmp_path: Path):
    """The good counterpart of the malformed configs: the same loader accepts the seed's JSON shape."""
    path = tmp_path / "appsettings.json"
    path.write_text(json.dumps({"DataSync": {"BatchSize": 7, "DataSources": [table_entry(TABLE)]}}))
    assert load_config(path).batch_size == 7 and read_section(path)["BatchSize"] == 7
