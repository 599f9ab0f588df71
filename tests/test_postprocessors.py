"""PostProcessorTypeName: validated against the registry, run after a successful sync."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

from conftest import table_entry
from datasync.engine import service
from datasync.engine.configuration import config_problems, parse_config
from datasync.engine.postprocessors import PostProcessor, register_post_processor
from datasync.engine.sync import SyncRequest
from datasync.targets.sqlite import SqliteTarget
from memory_fetcher import MemoryFetcher


@register_post_processor
class CountRowsIntoAudit(PostProcessor):
    """Writes the synced row count into an audit table of the target."""

    def run(self, target, table, result) -> None:
        target.execute('CREATE TABLE IF NOT EXISTS "Audit" ("TableName" TEXT, "Rows" INTEGER)')
        target.execute('INSERT INTO "Audit" VALUES (:t, :n)', {"t": table.table_name, "n": result.rows})


def test_unknown_post_processor_is_a_config_error():
    problems = config_problems({"DataSources": [table_entry("A", "MemoryFetcher", PostProcessorTypeName="Nope")]})
    assert any("table A, field PostProcessorTypeName: unknown post-processor 'Nope'; known: " in p for p in problems)
    assert any("CountRowsIntoAudit" in p for p in problems)


def test_post_processor_runs_after_sync(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{tmp_path / 'cache.db'}")
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_JDE", f"sqlite:///{tmp_path / 'source.db'}")
    cfg = parse_config({"DataSources": [table_entry("Items", "MemoryFetcher", PostProcessorTypeName="CountRowsIntoAudit")]})
    MemoryFetcher.sources["Items"] = [
        {"Id": i, "Site": "M30", "Name": "x", "Qty": Decimal("1.00"), "Day": None, "LastUpdateDT": datetime(2024, 1, 1)}
        for i in range(5)
    ]
    result = service.sync_table(cfg, SyncRequest("Items", "Mass"))
    assert result.rows == 5
    target = SqliteTarget.open(str(tmp_path / "cache.db"))
    assert target.query('SELECT "TableName", "Rows" FROM "Audit"') == [("Items", 5)]
    target.close()
