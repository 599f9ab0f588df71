"""The dispatcher's hour-long task ends within a second of SIGTERM (on_kill), in a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from airflow_harness import REPO

SCRIPT = textwrap.dedent(
    """
    import signal, sys, time
    from datetime import timedelta
    from datasync.airflow.dispatcher import DispatcherOperator
    from datasync.config import DataSyncConfig

    class Counting(DispatcherOperator):
        def cycle(self, now):
            print("cycle", flush=True)
            return []

    op = Counting(task_id="dispatch", config=DataSyncConfig.model_validate({"CheckInterval": "00:00:30"}))
    signal.signal(signal.SIGTERM, lambda *_: op.on_kill())  # what Airflow's task runner does
    result = op.execute({"params": {}})
    print("result", result["cycles"], flush=True)
    """
)


def test_sigterm_ends_the_dispatcher_loop_at_once() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    while (line := proc.stdout.readline()) and line.strip() != "cycle":  # Airflow logs to stdout too
        pass
    assert line.strip() == "cycle"  # first cycle done, now waiting 30 s for the next
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)  # without on_kill it would wait out the 30 s interval, then the hour
    assert [x for x in out.splitlines() if x.startswith(("cycle", "result"))] == ["result 1"]
    assert proc.returncode == 0
