"""The package as a user installs it, and the layer contract it keeps.

- ``lint-imports`` holds the import contract of pyproject.toml (layers, only the
  Airflow layer and the CLI import Airflow, the demo outside production code).
- The wheel built from pyproject.toml carries its SQL: installed into a fresh
  virtual environment outside the repository, it writes a demo source and runs a
  mass and a daily sync with nothing of the checkout on its path.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

UV = shutil.which("uv")


def test_the_import_contract_holds() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.skipif(UV is None, reason="uv is not on PATH (scripts/setup installs it)")
def test_the_wheel_installed_outside_the_repository_syncs(tmp_path: Path) -> None:
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    run = lambda *args, **kw: subprocess.run(args, check=True, capture_output=True, text=True, timeout=600, **kw)  # noqa: E731
    run(UV, "build", "--wheel", "--out-dir", str(dist), cwd=REPO)
    wheel = next(dist.glob("datasync-*.whl"))
    pinned = tmp_path / "requirements.txt"
    pinned.write_text(
        run(UV, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", cwd=REPO).stdout
    )
    run(UV, "venv", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    run(UV, "pip", "install", "--python", str(python), "-r", str(pinned), str(wheel))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DATASYNC", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(
        AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{work / 'jde.db'}",
        AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{work / 'cache.db'}",
        AIRFLOW_HOME=str(work / "airflow"),
        DATASYNC_CONFIG=str(work / "datasync.yaml"),
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    (work / "datasync.yaml").write_text(
        "DataSync:\n  DataSources:\n    - TableName: WorkOrder_Curr\n      FetcherTypeName: JdeWorkOrderFetcher\n"
        "      MassConfig: {Enabled: true, IntervalMinutes: 10080, PrepurgeData: true}\n"
        "      DailyConfig: {Enabled: true, IntervalMinutes: 1440}\n"
        "      HourlyConfig: {Enabled: false}\n"  # schedules are on unless turned off (the seed's default)
    )
    cli = str(venv / "bin" / "datasync")
    where = run(str(python), "-c", "import datasync.core.sqltemplates as t; print(t.sql_root())", cwd=work, env=env)
    assert str(venv) in where.stdout and str(REPO) not in where.stdout
    # the Airflow plugin (health endpoint, DataSync page) is found through the wheel's entry point
    plugin = run(
        str(python), "-c",
        "from importlib.metadata import entry_points; from importlib.resources import files; "
        "(ep,) = entry_points(group='airflow.plugins', name='datasync'); "
        "print(ep.value, (files('datasync.airflow') / 'page.html').is_file())",
        cwd=work, env=env,
    )
    assert plugin.stdout.split() == ["datasync.airflow.plugin:DataSyncPlugin", "True"]
    run(cli, "demo-source", str(work / "jde.db"), "--rows", "3000", cwd=work, env=env)
    mass = run(cli, "run", "WorkOrder_Curr", "--type", "mass", cwd=work, env=env)
    run(cli, "demo-source", str(work / "jde.db"), "--touch", "5", cwd=work, env=env)
    daily = run(cli, "run", "WorkOrder_Curr", "--type", "daily", cwd=work, env=env)

    with sqlite3.connect(work / "jde.db") as src, sqlite3.connect(work / "cache.db") as dst:
        source_rows = src.execute('SELECT COUNT(*) FROM "F4801"').fetchone()[0]
        assert dst.execute('SELECT COUNT(*) FROM "WorkOrder_Curr"').fetchone()[0] == source_rows
        ledger = dst.execute('SELECT "UpdateType", "WasSuccessful", "RowsInserted", "RowsUpdated" FROM "DataUpdate" ORDER BY 1 DESC').fetchall()
    assert "3,000 rows" in mass.stdout
    assert ledger[0][:2] == ("Mass", 1) and ledger[1][:2] == ("Daily", 1)
    assert ledger[1][2] > 0 and ledger[1][3] > 0, daily.stdout  # the touched rows were updated, the new ones inserted
