"""CLI commands that need no Airflow never import it (``import airflow`` alone costs seconds per process).

Each command runs as a user runs it, in its own interpreter, with connections given as
AIRFLOW_CONN_* URIs; the modules loaded by the time the process exits are recorded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

# runs the CLI's entry point, then writes the top-level packages that were imported
WRAPPER = """
import atexit, json, sys
record = sys.argv[1]
def _record():
    import gc
    with open(record, "w") as f:
        modules = sorted({m.split(".")[0] for m in sys.modules})
        json.dump({"modules": modules, "gc_enabled": gc.isenabled(), "gc_frozen": gc.get_freeze_count()}, f)
atexit.register(_record)
from datasync.cli import main
sys.argv = ["datasync", *sys.argv[2:]]
main()
"""

CONFIG = """\
DataSync:
  DataSources:
    - TableName: WorkOrder_Curr
      FetcherTypeName: JdeWorkOrderFetcher
      MassConfig: {Enabled: true, IntervalMinutes: 10080, PrepurgeData: true, ReIndexData: true}
      DailyConfig: {Enabled: true, IntervalMinutes: 1440}
      HourlyConfig: {Enabled: false}
"""

COMMANDS = [
    ["--help"],
    ["check-config", "{config}"],
    ["init-db"],
    ["init-db", "--check"],
    ["run", "WorkOrder_Curr", "--type", "mass"],
    ["run", "WorkOrder_Curr", "--type", "daily"],
    ["run-due"],
    ["ledger"],
    ["health", "--json"],
    ["recover"],
    ["purge"],
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    from datasync_demo import generator as demo

    tmp = tmp_path_factory.mktemp("cli_imports")
    source = tmp / "jde.db"
    demo.write_demo_source(source, 500, seed=3)
    config = tmp / "datasync.yaml"
    config.write_text(CONFIG)
    env = {
        "AIRFLOW_CONN_DATASYNC_JDE": f"sqlite:///{source}",
        "AIRFLOW_CONN_DATASYNC_TARGET": f"sqlite:///{tmp / 'cache.db'}",
        "AIRFLOW_HOME": str(tmp / "airflow_home"),
        "DATASYNC_CONFIG": str(config),
        "PATH": "/usr/bin:/bin",
    }
    return tmp, env


def _run_cli(setup: tuple[Path, dict[str, str]], command: list[str]) -> dict:
    """Run the CLI's entry point in a new process; what it recorded at exit (modules, collector state)."""
    tmp, env = setup
    record = tmp / "modules.json"
    record.unlink(missing_ok=True)
    args = [a.format(config=env["DATASYNC_CONFIG"]) for a in command]
    out = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(record), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert out.returncode in (0, 1, 2), out.stderr[-3000:]  # health: 1 = Degraded before any sync
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    return json.loads(record.read_text())


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:3]))
def test_command_does_not_import_airflow_or_pandas(setup: tuple[Path, dict[str, str]], command: list[str]) -> None:
    args = [a.format(config=setup[1]["DATASYNC_CONFIG"]) for a in command]
    modules = set(_run_cli(setup, command)["modules"])
    assert "datasync" in modules
    assert "airflow" not in modules, f"datasync {' '.join(args)} imported Airflow"
    assert "pandas" not in modules, f"datasync {' '.join(args)} imported pandas"


def test_the_sync_ran_and_the_ledger_shows_it(setup: tuple[Path, dict[str, str]]) -> None:
    """The commands above did real work without Airflow: the mass loaded the source's work orders."""
    import sqlite3

    tmp, env = setup
    out = subprocess.run(
        [sys.executable, "-m", "datasync.cli.commands", "run", "WorkOrder_Curr", "--type", "mass"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    with sqlite3.connect(tmp / "jde.db") as src, sqlite3.connect(tmp / "cache.db") as cache:
        assert cache.execute('SELECT COUNT(*) FROM "WorkOrder_Curr"').fetchone()[0] == src.execute(
            'SELECT COUNT(*) FROM "F4801"'
        ).fetchone()[0]
        source_rows = src.execute('SELECT COUNT(*) FROM "F4801"').fetchone()[0]
        ledger = cache.execute(
            'SELECT "NumberRecords" FROM "DataUpdate" WHERE "TableName" = ? AND "UpdateType" = ? AND "WasSuccessful" = 1',
            ("WorkOrder_Curr", "Mass"),
        ).fetchall()
    assert (source_rows,) in ledger


@pytest.mark.parametrize("command", [["run", "WorkOrder_Curr", "--type", "daily"], ["ledger"]], ids=" ".join)
def test_the_collector_paused_at_start_is_on_again_once_the_config_is_read(
    setup: tuple[Path, dict[str, str]], command: list[str]
) -> None:
    """cli.startup_gc: off while the modules load, then on with what was loaded frozen (never scanned)."""
    state = _run_cli(setup, command)
    assert state["gc_enabled"] is True
    assert state["gc_frozen"] > 10_000  # the loaded modules' objects, frozen when the collector resumed


JSON_CONFIG = """\
// an appsettings.json, comments and all
{"DataSync": {"DataSources": [{
    "TableName": "WorkOrder_Curr", "FetcherTypeName": "JdeWorkOrderFetcher",
    "DailyConfig": {"Enabled": true, "IntervalMinutes": 1440},
}]}}
"""


@pytest.mark.parametrize("kind, unused", [("yaml", "pyjson5"), ("json", "yaml")])
def test_a_sync_imports_only_the_parser_of_its_config(setup: tuple[Path, dict[str, str]], kind: str, unused: str) -> None:
    tmp, env = setup
    config = Path(env["DATASYNC_CONFIG"])
    if kind == "json":
        config = tmp / "appsettings.json"
        config.write_text(JSON_CONFIG)
    modules = set(_run_cli(setup, ["run", "WorkOrder_Curr", "--type", "daily", "--config", str(config)])["modules"])
    assert {"pyjson5", "yaml"} - {unused} <= modules  # the config was read, with its parser
    assert unused not in modules
