"""Helpers for the Airflow-layer tests: configs, an Airflow home, a real SMTP server, a real
deployment (api-server, scheduler, dag-processor, workers as processes on fresh PostgreSQL databases).

Airflow reads its settings once per process, so everything that needs a
metadata database (dag.test(), init-airflow, the scheduler) runs in a
subprocess with its own environment built here; pytest only checks outcomes
(target rows, ledger rows, e-mails received).

Importing this module also registers ``DelayedJdeItemFetcher``: the real
JdeItemFetcher, paused before it delivers rows for
$DATASYNC_TEST_DELAY_<TABLE> seconds (else $DATASYNC_TEST_DELAY, else 0), so
scheduler tests can hold pool slots for a known time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

from datasync.fetchers.jde import JdeItemFetcher
from datasync.engine.postprocessors import PostProcessor, register_post_processor
from datasync.fetchers.registry import register
from seed_config import table_entry

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")


@register
class DelayedJdeItemFetcher(JdeItemFetcher):
    """JdeItemFetcher that waits before its first batch (a slow source, for scheduler tests)."""

    type_name = "DelayedJdeItemFetcher"  # else it inherits (and would replace) JdeItemFetcher's name

    def sql(self, incremental: bool, bounded: bool = False) -> str:
        self.type_name = JdeItemFetcher.type_name  # JdeItemFetcher's source query (by instance only)
        return super().sql(incremental, bounded)

    def fetch(self, minimum_dt: datetime | None, maximum_dt: datetime | None = None) -> Iterator[Any]:
        name = self.table.table_name.upper()
        delay = float(os.environ.get(f"DATASYNC_TEST_DELAY_{name}", os.environ.get("DATASYNC_TEST_DELAY", "0")))
        time.sleep(delay)
        yield from super().fetch(minimum_dt, maximum_dt)


@register_post_processor
class FailingPostProcessor(PostProcessor):
    """Fails while $DATASYNC_TEST_POSTPROCESS_FAIL is set (a permanent error: no retries to wait for)."""

    def run(self, target: Any, table: Any, result: Any) -> None:
        from datasync.core.errors import SourceDataError

        message = os.environ.get("DATASYNC_TEST_POSTPROCESS_FAIL")
        if message:
            raise SourceDataError(message)


@register_post_processor
class LogResultPostProcessor(PostProcessor):
    """Logs the synced row count (its line must carry the sync's log fields)."""

    def run(self, target: Any, table: Any, result: Any) -> None:
        import logging

        logging.getLogger("datasync_test.postprocessor").info("post-processed %d rows of %s", result.rows, table.table_name)


# --------------------------------------------------------------------------- configs


def entry(name: str, fetcher: str = "JdeItemFetcher", source: str = "JDE", **overrides: Any) -> dict[str, Any]:
    """One DataSources entry (seed's PascalCase shape) with all three schedules enabled."""
    return table_entry(name, fetcher, source, **overrides)


def write_config(path: Path, entries: list[dict[str, Any]], **settings: Any) -> Path:
    section = {"CheckInterval": "00:01:00", "MaxDegreeOfParallelism": 4, "BatchSize": 5000, **settings}
    section["DataSources"] = entries
    path.write_text(yaml.safe_dump({"DataSync": section}, sort_keys=False))
    return path


# --------------------------------------------------------------------------- processes


def worker_hostname() -> str:
    """[core] hostname_callable of test workers: $DATASYNC_TEST_HOSTNAME (several workers share one machine)."""
    return os.environ.get("DATASYNC_TEST_HOSTNAME") or socket.getfqdn()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(home: Path, dags_folder: Path, db_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment of an Airflow process with its own home, metadata DB and DAG folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "DATASYNC_"))}
    # Airflow starts many interpreters (workers, task runners): let them cache bytecode, outside the repo
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "datasync-test-pycache"))
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url or f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        }
    )
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str], timeout: float = 300, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run a command; fail with its output if it fails."""
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def migrate(env: dict[str, str]) -> None:
    run([AIRFLOW, "db", "migrate"], env, timeout=600)


def run_python(code: str, env: dict[str, str], timeout: float = 300) -> Any:
    """Run ``code`` in a fresh interpreter; it prints one JSON line prefixed RESULT: that is returned."""
    proc = run([sys.executable, "-c", code], env, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT:"):
            return json.loads(line[len("RESULT:") :])
    raise AssertionError(f"no RESULT line:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- SMTP


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free port that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                msg = message_from_bytes(envelope.content)
                msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
                with sink._lock:
                    sink.messages.append(msg)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def conn_uri(self) -> str:
        """An Airflow SMTP connection (JSON) for AIRFLOW_CONN_SMTP_DEFAULT."""
        return json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": self.port,
                "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10, "retry_limit": 1},
            }
        )

    def matching(self, text: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if text in (m.get("Subject") or "") or text in body_of(m)]

    def wait(self, text: str, timeout: float = 30) -> Message:
        return wait_for(lambda: (self.matching(text) or [None])[0], timeout, 0.2, f"an e-mail containing {text!r}")


def body_of(msg: Message) -> str:
    parts = msg.walk() if msg.is_multipart() else [msg]
    out = []
    for part in parts:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(out)


# --------------------------------------------------------------------------- dag.test()

_TEMPLATE_DB: list[Path] = []


def migrated_env(home: Path, dags_folder: Path, **extra: str) -> dict[str, str]:
    """airflow_env with a migrated SQLite metadata DB (migrated once per test process, then copied)."""
    import atexit
    import shutil

    if not _TEMPLATE_DB:
        template_home = Path(tempfile.mkdtemp(prefix="datasync-airflow-template-"))
        atexit.register(shutil.rmtree, template_home, True)
        migrate(airflow_env(template_home, dags_folder))
        _TEMPLATE_DB.append(template_home / "airflow.db")
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE_DB[0], home / "airflow.db")
    return airflow_env(home, dags_folder, **extra)


DAG_TEST_SCRIPT = r"""
import json, sys
sys.path.insert(0, {tests!r})
import airflow_harness  # registers the test fetchers
from airflow.dag_processing.dagbag import DagBag
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session

steps = json.loads({steps!r})
bag = DagBag({dags!r})
results = []
for step in steps:
    if "touch" in step:
        from datasync_demo import generator as demo
        results.append({{"touched": demo.touch(step["touch"], step["pct"])}})
        continue
    dag = bag.dags[step["dag_id"]]
    dag.deadline = None  # dag.test() with deadline= fails in 3.3.2 (see AIRFLOW3_NOTES)
    dr = dag.test(run_conf=step.get("conf"))
    states = {{ti.task_id: (ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in dr.get_task_instances()}}
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dr.run_id, dag_ids=dag.dag_id, key="return_value")).all()
        xcom = {{row.task_id: XComModel.deserialize_value(row) for row in rows}}
        from airflow.models.dagrun import DagRun
        run = session.query(DagRun).filter(DagRun.dag_id == dag.dag_id, DagRun.run_id == dr.run_id).one()
        notes = {{"run": run.note, **{{ti.task_id: ti.note for ti in run.get_task_instances(session=session)}}}}
    results.append({{"dag_id": dag.dag_id, "run_id": dr.run_id, "state": str(getattr(dr.state, "value", dr.state)), "tasks": states, "xcom": xcom, "notes": notes}})
print("RESULT:" + json.dumps({{"bag_errors": bag.import_errors, "steps": results}}, default=str))
"""


def dag_test(env: dict[str, str], steps: list[dict[str, Any]], dags_folder: Path, timeout: float = 600) -> dict[str, Any]:
    """Run ``dag.test()`` for each step in one fresh interpreter; steps: {dag_id, conf} or {touch, pct}.

    Each DAG step returns dag_id, run_id, state, tasks {task_id: state}, xcom {task_id: return value}
    and notes {"run": the run's note, task_id: the task's note}.
    """
    code = DAG_TEST_SCRIPT.format(tests=str(TESTS), steps=json.dumps(steps), dags=str(dags_folder))
    return run_python(code, env, timeout=timeout)


# --------------------------------------------------------------------------- a real deployment
# api-server, scheduler, dag-processor (and workers) as `airflow ...` processes on fresh PostgreSQL
# databases: test_scheduler.py (LocalExecutor) and test_celery.py (CeleryExecutor) share these.

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def pg_connect(dbname: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(dbname=dbname, autocommit=True, **PG)


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database named ``prefix_<random>``, dropped afterwards (its sessions ended)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with pg_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with pg_connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def pg_url(dbname: str, scheme: str = "postgresql+psycopg2") -> str:
    return f"{scheme}://{PG['user']}@{PG['host']}:{PG['port']}/{dbname}"


def dags_folder(work: Path, prelude: str = "") -> Path:
    """The real DAG file in ``work/dags``, preceded by the test's imports (it registers the test fetchers)."""
    dags = work / "dags"
    dags.mkdir(exist_ok=True)
    (dags / "datasync_dags.py").write_text(
        "import airflow_harness  # noqa: F401 - registers DelayedJdeItemFetcher\n"
        + prelude
        + (REPO / "dags" / "datasync_dags.py").read_text()
    )
    return dags


def deployment_env(work: Path, dags: Path, metadata_db: str, port: int, **extra: str) -> dict[str, str]:
    """airflow_env for a real deployment: api-server on ``port`` (tasks call it there), fast heartbeats."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    settings = {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs / "tasks"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    settings.update(extra)  # a test may override any of these
    return airflow_env(work / "home", dags, pg_url(metadata_db), **settings)


def start_process(name: str, args: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    """``airflow <args>`` in its own session, output in ``logs/<name>.log``."""
    out = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [AIRFLOW, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(logs)
    )


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the process and every process under it (task runners have process groups of their own)."""
    import psutil

    try:
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for p in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    proc.wait(30)


def stop_processes(procs: dict[str, subprocess.Popen], group: bool = True, timeout: float = 30) -> None:
    """SIGTERM each process (its whole group when ``group``), then SIGKILL what is left after ``timeout``."""
    for proc in procs.values():
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM) if group else proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        kill_tree(proc)  # and whatever it left behind


def api_healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001
        return False


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one moment (an end at the same instant as a start does not overlap)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = current = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


class Deployment(SimpleNamespace):
    """The processes of one deployment, its target database, and reads of what they did."""

    env: dict[str, str]
    target: str
    logs: Path
    procs: dict[str, subprocess.Popen]

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.procs[name] = start_process(name, args, env or self.env, self.logs)
        return self.procs[name]

    def ledger(self) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with pg_connect(self.target) as conn:
            try:
                return conn.cursor(row_factory=dict_row).execute('SELECT * FROM "DataUpdate" ORDER BY "DataUpdateID"').fetchall()
            except psycopg.errors.UndefinedTable:
                return []

    def metadata(self, sql: str, params: tuple = ()) -> list[tuple]:
        dbname = self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].rsplit("/", 1)[1]
        with pg_connect(dbname) as conn:
            return conn.execute(sql, params).fetchall()

    def alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"airflow {name} exited with {proc.returncode}:\n{self.log(name)[-6000:]}")

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A call to the api-server's REST API (SimpleAuthManager, every user admin)."""
        import urllib.request

        base = f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}"
        if not getattr(self, "_token", None):
            with urllib.request.urlopen(f"{base}/auth/token", timeout=30) as r:
                self._token = json.loads(r.read())["access_token"]
        request = urllib.request.Request(
            f"{base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """A manual run of ``dag_id`` now; returns its run id."""
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]
