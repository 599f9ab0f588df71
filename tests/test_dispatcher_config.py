"""Each dispatcher cycle re-reads the config file: a table added there gets its first Mass in the next
cycle, not at the dispatcher's next run; a bad edit is logged and the last good config keeps dispatching.

Real ledger (a SQLite target), the real decision code; only the two calls into Airflow's task
supervisor (trigger a run, count a DAG's active runs) are replaced by recorders.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from airflow_harness import entry, write_config

from datasync.airflow import dispatcher
from datasync.airflow.dag_factory import load_for_dags
from datasync.airflow.dispatcher import DispatcherOperator

NOW = datetime(2026, 3, 2, 9, 13, tzinfo=timezone.utc)


@pytest.fixture
def triggered(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    monkeypatch.setenv("AIRFLOW_CONN_DATASYNC_TARGET", f"sqlite:///{tmp_path / 'cache.db'}")
    monkeypatch.delenv("DATASYNC_STRICT_CONFIG", raising=False)
    runs: list[str] = []
    monkeypatch.setattr(dispatcher, "trigger", lambda dag_id, run_id, conf: runs.append(dag_id))
    monkeypatch.setattr(dispatcher, "active_runs", lambda dag_id: 0)
    return runs


def _config(path: Path, *tables: str) -> Path:
    return write_config(path, [entry(t) for t in tables])


def _operator(path: Path) -> DispatcherOperator:
    return DispatcherOperator(task_id="dispatch", config=load_for_dags(path).config, config_path=str(path))


def test_a_table_added_to_the_config_is_dispatched_in_the_next_cycle(triggered: list[str], tmp_path: Path) -> None:
    path = _config(tmp_path / "datasync.yaml", "Alpha")
    op = _operator(path)
    assert op.cycle(NOW) == ["datasync__Alpha__mass"]  # never synced: its Mass is due
    _config(path, "Alpha", "Bravo")  # an operator adds a table while the dispatcher runs
    # Alpha's Mass was only triggered (no ledger row: nothing ran), so it is due again too
    assert sorted(op.cycle(NOW)) == ["datasync__Alpha__mass", "datasync__Bravo__mass"]
    assert [t.table_name for t in op.config.enabled_tables()] == ["Alpha", "Bravo"]


def test_a_bad_edit_keeps_the_last_good_config_and_says_so_once(
    triggered: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _config(tmp_path / "datasync.yaml", "Alpha")
    op = _operator(path)
    good = path.read_text()
    path.write_text(good + "  MaxDegreeOfParallelism: [oops\n")  # a YAML slip: the whole file unreadable
    with caplog.at_level(logging.INFO, logger=dispatcher.__name__):
        assert op.cycle(NOW) == ["datasync__Alpha__mass"]  # still dispatching, on the last good config
        assert op.cycle(NOW) == ["datasync__Alpha__mass"]
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1, errors  # once, not every cycle
        assert f"cannot load {path}, dispatching with the last good config" in errors[0].getMessage()
        _config(path, "Alpha", "Bravo")  # fixed
        assert sorted(op.cycle(NOW)) == ["datasync__Alpha__mass", "datasync__Bravo__mass"]
    assert "loads cleanly again" in caplog.text
    assert "tables added: Bravo" in caplog.text


def test_a_bad_entry_is_left_out_and_the_others_dispatch(triggered: list[str], tmp_path: Path, caplog) -> None:
    path = _config(tmp_path / "datasync.yaml", "Alpha", "Bravo")
    op = _operator(path)
    write_config(path, [entry("Alpha"), entry("Bravo", MassConfig={"Enabled": True, "IntervalMinutes": -5})])
    with caplog.at_level(logging.ERROR, logger=dispatcher.__name__):
        assert op.cycle(NOW) == ["datasync__Alpha__mass"]  # as the DAG file: Bravo's DAGs are left out too
    assert "entries left out (not dispatched)" in caplog.text and "Bravo" in caplog.text
