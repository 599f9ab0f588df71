"""The CLI's exit skips the interpreter's teardown but nothing a normal exit owes the program.

Real processes: exit codes, output through a pipe to its last byte, atexit handlers,
a worker thread that is still running, and the normal exit under a tracer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

PROGRAM = """
import atexit, sys, threading, time
from datasync.cli.quick_exit import quick_exit, exit_code
marker = sys.argv[1]
atexit.register(lambda: open(marker + ".atexit", "w").write("ran"))
def late_writer():
    time.sleep(0.5)
    open(marker + ".thread", "w").write("done")
threading.Thread(target=late_writer).start()
for i in range(20000):
    print(f"line {i}")
if sys.argv[2] == "trace":
    sys.settrace(lambda *a: None)
try:
    raise SystemExit(sys.argv[3] if not sys.argv[3].isdigit() else int(sys.argv[3]))
except SystemExit as exc:
    quick_exit(exit_code(exc))
"""


def _run(tmp_path: Path, mode: str, code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "plugins"))
    marker = str(tmp_path / "m")
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, marker, mode, code], env=env, capture_output=True, text=True, timeout=60
    )


def test_code_output_atexit_and_threads_survive_the_quick_exit(tmp_path: Path) -> None:
    done = _run(tmp_path, "plain", "3")
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert len(lines) == 20000 and lines[-1] == "line 19999"  # the pipe got every byte
    assert (tmp_path / "m.atexit").read_text() == "ran"
    assert (tmp_path / "m.thread").read_text() == "done"  # joined, as a normal exit would


def test_a_message_exits_1_and_is_printed(tmp_path: Path) -> None:
    done = _run(tmp_path, "plain", "no such table")
    assert done.returncode == 1
    assert done.stderr.strip().endswith("no such table")


def test_under_a_tracer_the_exit_is_normal(tmp_path: Path) -> None:
    done = _run(tmp_path, "trace", "0")
    assert done.returncode == 0
    assert (tmp_path / "m.atexit").read_text() == "ran"
    assert done.stdout.splitlines()[-1] == "line 19999"


def test_the_datasync_command_keeps_its_exit_codes(tmp_path: Path) -> None:
    config = tmp_path / "datasync.yaml"
    config.write_text(
        "DataSync:\n  DataSources:\n    - TableName: WorkOrder_Curr\n      FetcherTypeName: JdeWorkOrderFetcher\n"
        "      MassConfig: {Enabled: true, IntervalMinutes: 10080}\n      DailyConfig: {Enabled: false}\n"
        "      HourlyConfig: {Enabled: false}\n"
    )
    env = dict(os.environ, DATASYNC_CONFIG=str(config), AIRFLOW_CONN_DATASYNC_TARGET=f"sqlite:///{tmp_path / 'c.db'}")
    datasync = Path(sys.executable).with_name("datasync")
    ok = subprocess.run([str(datasync), "check-config", str(config)], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([str(datasync), "run", "Nope"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "unknown table 'Nope'" in bad.stderr
    usage = subprocess.run([str(datasync), "run"], env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2  # click's usage error
    assert "Missing argument" in usage.stderr
