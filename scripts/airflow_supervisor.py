"""Run the Airflow components of `make airflow` in order, and stop every process they started.

Why not `airflow standalone`: it starts every component at once (first task tries fail with
httpx ReadTimeout while the API server is still booting), and one Ctrl-C leaves task runners
behind (they have process groups of their own). Here the API server starts first and must
answer its health endpoint before the scheduler, dag-processor and triggerer start; each
component runs in its own session; SIGINT/SIGTERM sends SIGTERM to every group and to every
process found under them, waits up to the grace period, then SIGKILLs whatever is left.

Usage: airflow_supervisor.py PORT  (the environment is the components' configuration)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

GRACE_SECONDS = 20.0
API_BOOT_SECONDS = 300.0
AIRFLOW = str(Path(sys.executable).parent / "airflow")


class Supervisor:
    def __init__(self, port: int) -> None:
        self.port = port
        self.procs: dict[str, subprocess.Popen] = {}
        self.known: dict[int, psutil.Process] = {}  # every process seen under a component
        self.stopping = False

    def start(self, name: str, *args: str) -> None:
        print(f"datasync: starting airflow {' '.join(args)}", flush=True)
        self.procs[name] = subprocess.Popen([AIRFLOW, *args], start_new_session=True)

    def track(self) -> None:
        """Remember every process under the components (a task runner outlives its parent)."""
        for proc in self.procs.values():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    self.known.setdefault(p.pid, p)

    def alive(self) -> list[psutil.Process]:
        left = []
        for p in list(self.known.values()):
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
        return left

    def api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/monitor/health", timeout=3) as r:
                return r.status == 200
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def wait_for_api(self) -> None:
        deadline = time.monotonic() + API_BOOT_SECONDS
        while not self.api_answers():
            if self.stopping:
                return
            if self.procs["api-server"].poll() is not None:
                raise SystemExit("datasync: the Airflow API server exited while starting (see its output above)")
            if time.monotonic() > deadline:
                raise SystemExit(f"datasync: the Airflow API server did not answer on port {self.port}")
            time.sleep(1)
        print(f"datasync: API server answers on port {self.port}", flush=True)

    def _term(self, names: list[str]) -> None:
        for name in names:
            proc = self.procs.get(name)
            if proc is None:
                continue
            with contextlib.suppress(psutil.Error):
                for p in psutil.Process(proc.pid).children(recursive=True):
                    self.known.setdefault(p.pid, p)
                    p.terminate()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)

    def _tree(self, name: str) -> set[int]:
        proc = self.procs.get(name)
        if proc is None:
            return set()
        with contextlib.suppress(psutil.Error):
            return {proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))}
        return {proc.pid}

    def _wait(self, until: float, spare: set[int] = frozenset()) -> bool:
        """Wait until every tracked process but ``spare`` is gone, or ``until``."""
        while time.monotonic() < until:
            self.track()
            for proc in self.procs.values():
                proc.poll()  # reap
            if not [p for p in self.alive() if p.pid not in spare]:
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        """SIGTERM the scheduler side first (its tasks still reach the API server to record their
        end), then the API server; SIGKILL whatever is left after GRACE_SECONDS."""
        self.track()
        deadline = time.monotonic() + GRACE_SECONDS
        workers = [n for n in self.procs if n != "api-server"]
        self._term(workers)
        api_side = self._tree("api-server")
        for p in self.alive():  # task runners that left the components' groups
            if p.pid not in api_side:
                with contextlib.suppress(psutil.Error):
                    p.terminate()
        self._wait(deadline - 5, spare=api_side)
        self._term(["api-server"])
        self._wait(deadline)
        left = self.alive()
        if left:
            names = []
            for p in left:
                with contextlib.suppress(psutil.Error):
                    names.append(" ".join(p.cmdline())[:80])
            print(f"datasync: {len(left)} process(es) ignored SIGTERM; killing them: {names}", flush=True)
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def run(self) -> int:
        def on_signal(signum: int, _frame: object) -> None:
            if not self.stopping:
                print(f"\ndatasync: {signal.Signals(signum).name}: stopping Airflow (up to {GRACE_SECONDS:.0f} s)", flush=True)
            self.stopping = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        status = 0
        try:
            self.start("api-server", "api-server", "--port", str(self.port))
            self.wait_for_api()
            if not self.stopping:
                for name in ("scheduler", "dag-processor", "triggerer"):
                    self.start(name, name)
                print(f"datasync: Airflow is up: http://localhost:{self.port} (Ctrl-C stops it)", flush=True)
            while not self.stopping:
                self.track()
                exited = [name for name, proc in self.procs.items() if proc.poll() is not None]
                if exited:
                    print(f"datasync: airflow {exited[0]} exited ({self.procs[exited[0]].returncode}); stopping", flush=True)
                    status = 1
                    break
                time.sleep(1)
        except SystemExit as exc:
            print(exc, file=sys.stderr, flush=True)
            status = 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the cleanup short
            self.stop()
        print("datasync: Airflow stopped", flush=True)
        return status


if __name__ == "__main__":
    sys.exit(Supervisor(int(sys.argv[1])).run())
