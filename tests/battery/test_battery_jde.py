"""The real JDE/CMS fetchers on the generated demo source, on every target: the cache equals
what the fetchers read from the source after Mass, Daily and Hourly runs; bad JDE data made
with plain UPDATEs on the source fails clearly and changes nothing; the CLI process cancelled
or killed midway; the source connection dropped mid-stream."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from battery.battery_lib import (
    contents,
    dedupe_source,
    expected,
    ledger_rows,
    table_entry,
    wait_for,
)
from datasync_demo import generator as demo
from datasync.config import DataSyncConfig
from datasync.engine.configuration import parse_config
from datasync.core.errors import SchemaDriftError, SourceDataError
from datasync.connections import DirectConnector
from datasync.engine.sync import SyncRequest, SyncResult, build_fetcher, run_sync

DEMO_ROWS = 300
TABLES = [
    ("WorkOrder_Curr", "JdeWorkOrderFetcher", "JDE"),
    ("LotUsage_Curr", "JdeLotUsageFetcher", "JDE"),
    ("Item_Curr", "JdeItemFetcher", "JDE"),
    ("LotMaster_Curr", "JdeLotMasterFetcher", "JDE"),
    ("MisData_Curr", "CmsMisDataFetcher", "CMS"),
]
WO = "WorkOrder_Curr"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def demo_raw(batch_size: int = 64) -> dict[str, Any]:
    entries = [table_entry(name, fetcher, SourceSystem=system) for name, fetcher, system in TABLES]
    entries[2]["MassConfig"] = {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": False}  # Mass by merge
    return {
        "BatchSize": batch_size,
        "BulkCopyBatchSize": 50,
        "LockTimeoutSeconds": 60,
        "SourceSystems": {
            "JDE": {"ConnId": "datasync_jde", "TimeZone": "America/Chicago"},
            "CMS": {"ConnId": "datasync_cms", "TimeZone": "America/Chicago"},
        },
        "DataSources": entries,
    }


@pytest.fixture
def cfg() -> DataSyncConfig:
    return parse_config(demo_raw())


@pytest.fixture
def source(backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A generated JDE/CMS demo source (SQLite), reachable as datasync_jde and datasync_cms."""
    path = tmp_path / "jde-demo.db"
    demo.write_demo_source(path, DEMO_ROWS, seed=7)
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{path}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_CMS", f"sqlite:///{path}")
    return path


def conn_id(cfg: DataSyncConfig, table: str) -> str:
    return cfg.source_system(cfg.table(table).source_system).conn_id


def run(cfg: DataSyncConfig, target, table: str, sync_type: str, **kw: Any) -> SyncResult:
    callbacks = {k: kw.pop(k) for k in ("progress",) if k in kw}
    return run_sync(cfg, SyncRequest(table, sync_type, **kw), target, lambda: DirectConnector().source(conn_id(cfg, table)), **callbacks)


def schema_of(cfg: DataSyncConfig, table: str):
    return build_fetcher(cfg, cfg.table(table)).schema()


def source_contents(cfg: DataSyncConfig, table: str) -> dict:
    """What the table must hold: a full read of the source through the fetcher, latest row per key."""
    reader = DirectConnector().source(conn_id(cfg, table))
    try:
        fetcher = build_fetcher(cfg, cfg.table(table), reader)
        rows = [r for batch in fetcher.fetch(None) for r in batch.to_pylist()]
    finally:
        reader.close()
    schema = fetcher.schema()
    return expected(dedupe_source(rows, schema), schema)


def assert_matches_source(target, cfg: DataSyncConfig, table: str) -> None:
    got, want = contents(target, schema_of(cfg, table)), source_contents(cfg, table)
    diff = [(k, got.get(k), want.get(k)) for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
    assert not diff, f"{table}: {len(diff)} rows differ from the source, e.g. {diff[:2]}"


def sql(path: Path, *statements: str, params: tuple = ()) -> None:
    conn = sqlite3.connect(path)
    try:
        for stmt in statements:
            conn.execute(stmt, params if "?" in stmt else ())
        conn.commit()
    finally:
        conn.close()


def a_work_order(path: Path) -> int:
    """DOCO of a work order with a real audit date (rowid 5 onwards)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT WADOCO FROM F4801 WHERE WAUPMJ > 0 AND rowid >= 5 ORDER BY rowid LIMIT 1").fetchone()[0])
    finally:
        conn.close()


# --------------------------------------------------------------------------- correctness


def test_mass_daily_hourly_equal_the_source(target, source, cfg):
    for table, _, _ in TABLES:
        r = run(cfg, target, table, "Mass")
        assert r.rows > 0
        assert_matches_source(target, cfg, table)

    # audit stamps have whole seconds and the guard wants a strictly newer row: the two days of
    # activity get distinct stamps (two edits within one second of each other are one edit)
    touched = demo.touch(source, 5, seed=11, now=datetime.now() - timedelta(minutes=10))
    for table, _, _ in TABLES:
        r = run(cfg, target, table, "Daily")
        assert r.minimum_dt is not None
        assert_matches_source(target, cfg, table)
        if table == WO:
            updated, added = touched["F4801"]
            assert (r.rows, r.inserted, r.updated) == (updated + added, added, updated)

    demo.touch(source, 2, seed=12, now=datetime.now() - timedelta(minutes=5))
    for table, _, _ in TABLES:
        run(cfg, target, table, "Hourly")
        assert_matches_source(target, cfg, table)

    for table, _, _ in TABLES:
        assert [(x.update_type, x.was_successful) for x in ledger_rows(target, table)] == [
            ("Mass", True),
            ("Daily", True),
            ("Hourly", True),
        ]


# --------------------------------------------------------------------------- bad JDE data

BAD_JDE = [
    ("julian day 366 of 2025", ["UPDATE F4801 SET WATRDJ = 125366 WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WATRDJ", "WorkOrder_Curr.TRDJ", "DOCO={doco}", "125366", "Julian"]),
    ("julian 99999999", ["UPDATE F4801 SET WASTRT = 99999999 WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WASTRT", "WorkOrder_Curr.STRT", "DOCO={doco}", "99999999", "Julian"]),
    ("negative julian", ["UPDATE F4801 SET WADRQJ = -5 WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WADRQJ", "WorkOrder_Curr.DRQJ", "DOCO={doco}", "-5", "Julian"]),
    ("negative audit julian", ["UPDATE F4801 SET WAUPMJ = -124060 WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WAUPMJ", "DOCO={doco}", "-124060"]),
    ("TDAY 246060", ["UPDATE F4801 SET WATDAY = 246060 WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WATDAY", "WorkOrder_Curr.TDAY", "DOCO={doco}", "246060", "HHMMSS"]),
    ("string longer than its column", ["UPDATE F4801 SET WADL01 = 'THIRTY-ONE CHARACTERS, ONE TOO MANY' WHERE WADOCO = ?"],
     SourceDataError, ["table WorkOrder_Curr", "column DL01", "DOCO={doco}", "longer than the column's 30"]),
    ("non-UTF-8 bytes", ["UPDATE F4801 SET WADL01 = X'FFFE41424320' WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WADL01", "WADOCO={doco}", "not valid UTF-8"]),
    ("non-UTF-8 text", ["UPDATE F4801 SET WALITM = CAST(X'C328' AS TEXT) WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WALITM", "WADOCO={doco}", "not valid UTF-8"]),
    ("NULL key", ["UPDATE F4801 SET WADOCO = NULL WHERE WADOCO = ?"], SourceDataError,
     ["F4801.WADOCO", "WorkOrder_Curr.DOCO", "NULL"]),
    ("source lost a column", ["ALTER TABLE F4801 DROP COLUMN WASRST"], SchemaDriftError, ["F4801", "WASRST"]),
    ("source lost the table", ["DROP TABLE F4801"], SchemaDriftError, ["F4801"]),
]


@pytest.mark.parametrize("sync_type", ["Mass", "Daily"])
@pytest.mark.parametrize("case, statements, exc_type, fragments", BAD_JDE, ids=[c[0] for c in BAD_JDE])
def test_bad_jde_data_fails_clearly_and_changes_nothing(target, source, cfg, sync_type, case, statements, exc_type, fragments):
    run(cfg, target, WO, "Mass")
    schema = schema_of(cfg, WO)
    before, ledger_before = contents(target, schema), ledger_rows(target, WO)
    doco = a_work_order(source)
    sql(source, *statements, params=(doco,))
    with pytest.raises(exc_type) as info:
        run(cfg, target, WO, sync_type, full_refresh=True)
    wanted = [f.format(doco=doco) for f in fragments]
    for fragment in wanted:
        assert fragment in str(info.value)
    assert contents(target, schema) == before
    rows = ledger_rows(target, WO)
    assert rows[:-1] == ledger_before
    assert (rows[-1].update_type, rows[-1].number_records, rows[-1].was_successful) == (sync_type, -1, False)
    for fragment in wanted:
        assert fragment in rows[-1].error_message


def test_bad_julian_in_a_composite_key_table_names_the_whole_key(target, source, cfg):
    run(cfg, target, "LotMaster_Curr", "Mass")
    before = contents(target, schema_of(cfg, "LotMaster_Curr"))
    sql(source, "UPDATE F4108 SET IOMMEJ = 125366 WHERE rowid = 3")
    conn = sqlite3.connect(source)
    lotn, itm, mcu = conn.execute("SELECT IOLOTN, IOITM, IOMCU FROM F4108 WHERE rowid = 3").fetchone()
    conn.close()
    with pytest.raises(SourceDataError) as info:
        run(cfg, target, "LotMaster_Curr", "Daily", full_refresh=True)
    message = str(info.value)
    assert "F4108.IOMMEJ" in message and "125366" in message
    assert f"LOTN={lotn.rstrip()!r}" in message and f"ITM={itm}" in message and f"MCU={mcu.strip()!r}" in message
    assert contents(target, schema_of(cfg, "LotMaster_Curr")) == before


def test_duplicate_source_keys(target, source, cfg):
    """A key twice in F4801: a Mass fails naming it; a Daily keeps the row with the newer audit stamp."""
    run(cfg, target, WO, "Mass")
    schema = schema_of(cfg, WO)
    before = contents(target, schema)
    doco = a_work_order(source)
    sql(
        source,
        "DROP INDEX F4801_KEY",
        "INSERT INTO F4801 SELECT * FROM F4801 WHERE WADOCO = ?",
        "UPDATE F4801 SET WADL01 = 'DUPLICATE, NEWER', WAUPMJ = WAUPMJ + 1 WHERE rowid = (SELECT MAX(rowid) FROM F4801)",
        params=(doco,),
    )
    with pytest.raises(SourceDataError, match=r"table WorkOrder_Curr, key column\(s\) DOCO: ") as info:
        run(cfg, target, WO, "Mass")
    assert str(doco) in str(info.value)  # the key, as the engine or the target's own message names it
    assert contents(target, schema) == before
    assert ledger_rows(target, WO)[-1].number_records == -1
    r = run(cfg, target, WO, "Daily", full_refresh=True)
    assert r.updated == 1 and r.inserted == 0
    assert contents(target, schema)[(doco,)][schema.column_names.index("DL01")] == "DUPLICATE, NEWER"


def test_older_audit_stamp_never_overwrites(target, source, cfg):
    run(cfg, target, WO, "Mass")
    schema = schema_of(cfg, WO)
    before = contents(target, schema)
    doco = a_work_order(source)
    sql(source, "UPDATE F4801 SET WADL01 = 'OLDER EDIT', WAUPMJ = WAUPMJ - 10 WHERE WADOCO = ?", params=(doco,))
    r = run(cfg, target, WO, "Daily", full_refresh=True)
    assert (r.inserted, r.updated) == (0, 0)
    assert contents(target, schema) == before


# --------------------------------------------------------------------------- the CLI process, cancelled or killed


def datasync_cli() -> list[str]:
    exe = Path(sys.executable).with_name("datasync")
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from datasync.cli import main; main()"]


def start_cli(tmp_path: Path, cfg_raw: dict, args: list[str], point: str | None) -> tuple[subprocess.Popen, Path]:
    path = tmp_path / "datasync.yaml"
    path.write_text(yaml.safe_dump({"DataSync": cfg_raw}))
    marker = tmp_path / f"cli-paused-{point}"
    env = dict(os.environ, DATASYNC_CONFIG=str(path))
    if point:
        env.update(DATASYNC_FAULT_AT=point, DATASYNC_FAULT_FILE=str(marker))
    proc = subprocess.Popen(datasync_cli() + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, marker


def wait_paused(proc: subprocess.Popen, marker: Path) -> None:
    wait_for(lambda: marker.exists() or proc.poll() is not None, "the CLI sync to reach its fault point")
    if not marker.exists():
        out, err = proc.communicate()
        raise AssertionError(f"datasync exited {proc.returncode} before its fault point:\n{out}\n{err}")


def test_cli_sigterm_marks_the_run_cancelled(target, source, cfg, tmp_path):
    run(cfg, target, WO, "Mass")
    schema = schema_of(cfg, WO)
    before = contents(target, schema)
    demo.touch(source, 10, seed=3)
    proc, marker = start_cli(tmp_path, demo_raw(), ["run", WO, "--type", "mass"], point="load")
    wait_paused(proc, marker)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "received signal SIGTERM" in err and "Traceback" not in err
    last = ledger_rows(target, WO)[-1]
    assert (last.update_type, last.number_records, last.was_successful) == ("Mass", -1, False)
    assert last.error_message == "cancelled: received signal SIGTERM" and last.end_dt is not None
    assert contents(target, schema) == before


def test_cli_sigkill_inside_the_merge_then_the_next_run_converges(target, source, cfg, tmp_path):
    run(cfg, target, WO, "Mass")
    schema = schema_of(cfg, WO)
    before = contents(target, schema)
    demo.touch(source, 10, seed=4)
    proc, marker = start_cli(tmp_path, demo_raw(), ["run", WO, "--type", "daily"], point="merge")
    wait_paused(proc, marker)
    proc.kill()
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert contents(target, schema) == before
    orphan = ledger_rows(target, WO)[-1]
    assert orphan.number_records == -2  # nobody could mark it: the next run must
    run(cfg, target, WO, "Daily")  # the next run (in-process: the engine path is the same)
    assert contents(target, schema) == source_contents(cfg, WO)
    rows = {x.operation_id: x for x in ledger_rows(target, WO)}
    closed = rows[orphan.operation_id]
    assert closed.number_records == -1 and "interrupted" in closed.error_message
    assert ledger_rows(target, WO)[-1].was_successful


# --------------------------------------------------------------------------- source connection dropped


@pytest.fixture
def pg_source(source: Path, monkeypatch: pytest.MonkeyPatch):
    """The demo's F4801 copied into a PostgreSQL source database (its connection can be cut)."""
    name = f"datasync_src_{os.urandom(5).hex()}"
    types = {"NUMERIC": "NUMERIC", "FLOAT": "DOUBLE PRECISION", "": "DOUBLE PRECISION"}
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        lite = sqlite3.connect(source)
        rows = lite.execute("SELECT * FROM F4801").fetchall()
        lite.close()
        cols = demo.TABLES["F4801"]
        ddl = ", ".join(f'"{c}" {types.get(t, t.replace("NCHAR", "CHAR"))}' for c, t in cols)
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}", autocommit=True) as pg:
            pg.execute(f'CREATE TABLE "F4801" ({ddl})')
            with pg.cursor().copy(f'COPY "F4801" ({", ".join(chr(34) + c + chr(34) for c, _ in cols)}) FROM STDIN') as copy:
                for r in rows:
                    copy.write_row(r)
        monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"postgres://postgres@127.0.0.1:5432/{name}")
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("sync_type", ["Mass", "Daily"])
def test_source_connection_dropped_mid_stream(target, pg_source, sync_type):
    cfg = parse_config(demo_raw(batch_size=40))
    run(cfg, target, WO, "Mass")
    schema = schema_of(cfg, WO)
    before = contents(target, schema)

    cut: list[int] = []

    def cut_the_source(rows_so_far: int) -> None:
        if cut:
            return
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            pids = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %(db)s AND pid <> pg_backend_pid()", {"db": pg_source}
            ).fetchall()
            for (pid,) in pids:
                admin.execute("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
                cut.append(pid)

    with pytest.raises(Exception) as info:
        run(cfg, target, WO, sync_type, full_refresh=True, progress=cut_the_source)
    assert cut, "the source session was not found"
    assert "terminat" in str(info.value) or "closed" in str(info.value) or "lost" in str(info.value), info.value
    assert contents(target, schema) == before
    last = ledger_rows(target, WO)[-1]
    assert (last.update_type, last.number_records, last.was_successful) == (sync_type, -1, False)
    assert last.error_message
    # a new connection next time: the sync works again
    run(cfg, target, WO, sync_type, full_refresh=True)
    assert contents(target, schema) == source_contents(cfg, WO)
