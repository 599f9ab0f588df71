"""The README's main job: after `datasync demo`, every target table equals its source."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from conftest import REPO
from datasync.engine.configuration import load_config
from datasync_demo.run import run_demo
from datasync.engine.ledger import Ledger
from datasync.connections import DirectConnector
from datasync.engine.sync import build_fetcher
from datasync.targets.sqlite import SqliteTarget, to_sqlite_rows


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for var in ("AIRFLOW_CONN_DATASYNC_JDE", "AIRFLOW_CONN_DATASYNC_CMS", "AIRFLOW_CONN_DATASYNC_TARGET"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_demo_end_state_equals_source(demo_env: Path) -> None:
    buffer = io.StringIO()
    code = run_demo(demo_env, rows=3000, touch_pct=5.0, config_path=None, out=Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert code == 0, text
    assert "every target table holds exactly the source's rows" in text

    cfg = load_config(REPO / "include" / "datasync.yaml")
    target = SqliteTarget.open(str(demo_env / "cache.db"))
    try:
        for ds in cfg.enabled_tables():
            reader = DirectConnector().source(cfg.source_system(ds.source_system).conn_id)
            try:
                fetcher = build_fetcher(cfg, ds, reader)
                schema = fetcher.schema()
                source_rows = sorted(row for batch in fetcher.fetch(None) for row in to_sqlite_rows(batch))
            finally:
                reader.close()
            cols = ", ".join(target.quote(c) for c in schema.column_names)
            target_rows = sorted(target.query(f"SELECT {cols} FROM {target.quote(schema.name)}"))
            assert len(source_rows) > 0
            assert target_rows == source_rows, ds.table_name

        ledger = Ledger(target).recent(limit=100)
        by_type = {(r.table_name, r.update_type): r for r in ledger}
        assert all(r.was_successful and r.number_records >= 0 for r in ledger)
        # the ERP day touched rows: the Daily sync inserted and updated some, the Hourly right after changed nothing
        work_orders_daily = by_type[("WorkOrder_Curr", "Daily")]
        assert work_orders_daily.rows_inserted > 0 and work_orders_daily.rows_updated > 0
        assert by_type[("WorkOrder_Curr", "Hourly")].rows_inserted == 0
        assert by_type[("WorkOrder_Curr", "Hourly")].rows_updated == 0
        assert ("Item_Curr", "Hourly") not in by_type  # disabled in the example config
        # step 4 ran the WorkOrder_Curr Daily DAG through Airflow (airflow dags test, SQLite metadata DB)
        assert work_orders_daily.run_id.startswith("manual__")
        assert (demo_env / "airflow_home" / "airflow.db").exists()
        assert "Airflow run manual__" in text
    finally:
        target.close()
