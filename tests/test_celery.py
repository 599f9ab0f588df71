"""CeleryExecutor: scheduler, dag-processor, api-server and Celery workers as separate processes
(own hostnames, own queues) on a fresh PostgreSQL metadata database, Redis as broker (its own key
prefix, deleted afterwards; DATASYNC_TEST_CELERY_BROKER=amqp://... runs it on RabbitMQ with queues
of its own, deleted afterwards) and the metadata database as Celery's result backend. The cache is a
second fresh PostgreSQL database; the source is the JDE demo file.

The dispatcher's task runs on a queue of its own ([datasync] dispatcher_queue) served by a worker
of its own, so the sync workers' slots hold syncs only.

One deployment, phases in order (each asserted on real state: ledger, task instances, target rows):
1. one worker (concurrency 2) syncs the 8 tables that are due at once after the deploy;
2. two workers (2 x 2 slots) sync the 8 tables again: both take syncs, and never more than the
   pool's 3 run at once (sampled from the ledger's in-progress rows and from task instances);
3. a source system with a Queue: its syncs run only on the worker serving that queue; its two new
   tables, added to the config while the dispatcher runs, get their first Masses from the dispatcher;
4. SIGKILL of a worker in the middle of a Mass with PrepurgeData: readers keep the old rows, the
   orphaned ledger row is closed, the retry runs on the other worker and the table converges;
5. SIGTERM of a worker with [datasync] worker_shutdown = cancel: its sync is cancelled (ledger -1
   "cancelled"), the target keeps its rows, the worker exits, the retry converges;
6. SIGTERM with the default (finish): the sync finishes; meanwhile a second sync of the same
   table on the other worker waits for the table lock: never two syncs of a table at once;
7. SIGTERM of the worker running the dispatcher: it exits at once (the dispatcher's task ends, its
   run succeeds), and the dispatcher's next run starts on the other dispatcher worker.
Throughput of phases 1 and 2 (8 tables, 1 vs 2 workers) goes to docs/scaling.md; it is reported
(DATASYNC_SCALING_REPORT=<file> writes it as JSON), never asserted.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_harness import (
    Deployment,
    api_healthy,
    dags_folder,
    deployment_env,
    entry,
    free_port,
    fresh_database,
    kill_tree,
    max_overlap,
    migrate,
    pg_connect,
    pg_url,
    run_python,
    stop_processes,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.timeout(1500)]

SLOTS = 3  # MaxDegreeOfParallelism: the pool "datasync"
CONCURRENCY = 2  # slots of each worker: two workers (4) have more than the pool
TABLES = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel")
CMS_TABLES = ("Kilo", "Lima")  # added in phase 3, on the CMS queue
VICTIM = "Hotel"  # the table of the kill and shutdown phases
DELAY = 6  # seconds each sync waits for its source (a slow ERP link) while it holds its pool slot
BATCH = 20  # rows per batch (the demo source has 60 items): a Mass paused after its first batch has loaded a part of the table
#: the broker: Redis (its own key prefix) or, e.g. amqp://guest:guest@127.0.0.1:5672//, RabbitMQ (own queues)
BROKER_URL = os.environ.get("DATASYNC_TEST_CELERY_BROKER", "redis://127.0.0.1:6379/0")
PRELUDE = (
    "from datetime import timedelta\n"
    "import datasync.airflow.operators as _operators\n"
    "_operators.SYNC_RETRY_DELAY = timedelta(seconds=5)  # the test does not wait a minute for a retry\n"
)


def _entry(name: str, source: str = "JDE", daily: bool = False) -> dict[str, Any]:
    return entry(
        name,
        "DelayedJdeItemFetcher",
        source=source,
        DailyConfig={"Enabled": daily, "IntervalMinutes": 1440},
        HourlyConfig={"Enabled": False, "IntervalMinutes": 60},
    )


def _write_config(path: Path, queue: str, phase3: bool = False) -> Path:
    entries = [_entry(t, daily=phase3 and t == VICTIM) for t in TABLES]
    if phase3:
        entries += [_entry(t, source="CMS") for t in CMS_TABLES]
    return write_config(
        path,
        entries,
        MaxDegreeOfParallelism=SLOTS,
        BatchSize=BATCH,
        LockTimeoutSeconds=600,
        SourceSystems={"JDE": {"ConnId": "datasync_jde"}, "CMS": {"ConnId": "datasync_cms", "Queue": queue}},
    )


# --------------------------------------------------------------------------- the deployment


class CeleryDeployment(Deployment):
    work: Path
    tag: str  # in every name this deployment leaves on the broker
    source: Path
    config: Path
    default_queue: str
    cms_queue: str
    dispatcher_queue: str
    sampler: Sampler
    figures: dict[str, Any]

    def worker(self, name: str, queues: list[str], concurrency: int = CONCURRENCY, **env: str) -> subprocess.Popen:
        """``airflow celery worker`` named ``name`` (its task instances' hostname) on ``queues``."""
        worker_env = {
            **self.env,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_harness.worker_hostname",
            "DATASYNC_TEST_HOSTNAME": name,
            **env,
        }
        args = ["celery", "worker", "--celery-hostname", f"{name}.{self.tag}", "--queues", ",".join(queues),
                "--concurrency", str(concurrency), "--skip-serve-logs", "--without-mingle", "--without-gossip"]  # fmt: skip
        proc = self.start(name, args, worker_env)
        wait_for(lambda: self._ready(name), 120, 0.5, f"Celery worker {name}")
        return proc

    def _ready(self, name: str) -> bool:
        if self.procs[name].poll() is not None:
            raise AssertionError(f"worker {name} exited with {self.procs[name].returncode}:\n{self.log(name)[-6000:]}")
        return f"celery@{name}.{self.tag} ready" in self.log(name)

    def stop_worker(self, name: str) -> int:
        """Warm shutdown (SIGTERM to the worker's main process only, as docker stop with DUMB_INIT_SETSID=0)."""
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            return proc.wait(120)
        finally:
            kill_tree(proc)

    def runs_done(self, dag_ids: list[str], since: int) -> list[dict[str, Any]]:
        """Ledger rows after DataUpdateID ``since`` of these DAGs' tables, once each table has a finished one."""
        self.alive()
        tables = {d.split("__")[1] for d in dag_ids}
        rows = [r for r in self.ledger() if r["DataUpdateID"] > since and r["TableName"] in tables]
        done = {r["TableName"] for r in rows if r["NumberRecords"] != -2}
        return rows if done == tables and all(r["NumberRecords"] != -2 for r in rows) else []

    def tasks_finished(self, dag_ids: list[str]) -> bool:
        """Every sync task of these DAGs has finished (the ledger row commits before the task reports)."""
        rows = self.metadata(
            "SELECT count(*) FROM task_instance WHERE task_id = 'sync' AND dag_id = ANY(%s) "
            "AND state IS DISTINCT FROM 'success' AND state IS DISTINCT FROM 'failed'",
            (dag_ids,),
        )
        return rows[0][0] == 0

    def task_hosts(self, run_ids: list[str]) -> dict[tuple[str, str], tuple[str, str, str]]:
        """{(dag_id, run_id): (state, hostname, queue)} of the sync tasks of ``run_ids``."""
        rows = self.metadata(
            "SELECT dag_id, run_id, state, hostname, queue FROM task_instance WHERE task_id = 'sync' AND run_id = ANY(%s)",
            (run_ids,),
        )
        return {(d, r): (s, h, q) for d, r, s, h, q in rows}

    def last_id(self) -> int:
        return max((r["DataUpdateID"] for r in self.ledger()), default=0)

    def cache(self, sql: str, params: tuple = ()) -> list[tuple]:
        with pg_connect(self.target) as conn:
            return conn.execute(sql, params).fetchall()


class Sampler(threading.Thread):
    """Polls, every 0.2 s, the ledger's in-progress rows and the running task instances of the pool."""

    def __init__(self, target: str, metadata: str, pool: str = "datasync"):
        super().__init__(daemon=True)
        self.target, self.metadata, self.pool = target, metadata, pool
        self.samples: list[tuple[list[str], list[tuple[str, str]]]] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        import psycopg

        try:
            with pg_connect(self.target) as cache, pg_connect(self.metadata) as meta:
                while not self.halt.is_set():
                    try:
                        running = [r[0] for r in cache.execute('SELECT "TableName" FROM "DataUpdate" WHERE "NumberRecords" = -2')]
                    except psycopg.errors.UndefinedTable:
                        running = []
                    tis = meta.execute(
                        "SELECT dag_id, hostname FROM task_instance WHERE pool = %s AND state = 'running'", (self.pool,)
                    ).fetchall()
                    self.samples.append((running, tis))
                    time.sleep(0.2)
        except BaseException as exc:  # noqa: BLE001 - reported by peaks()
            self.error = exc

    def mark(self) -> int:
        return len(self.samples)

    def peaks(self, since: int) -> dict[str, Any]:
        if self.error:
            raise self.error
        window = self.samples[since:]
        assert len(window) > 10, "the sampler took too few samples to mean anything"
        return {
            "ledger_in_progress": max(len(ledger) for ledger, _ in window),
            "running_tasks": max(len(tis) for _, tis in window),
            "same_table_in_progress": max((max(ledger.count(t) for t in set(ledger)) for ledger, _ in window if ledger), default=0),
            "hosts": sorted({host for _, tis in window for _, host in tis if host}),
            "samples": len(window),
        }


INIT = """
import json
import airflow_harness  # registers the test's fetcher, which the config names
from datasync.engine import service
from datasync.airflow.setup import init_airflow
from datasync.engine.configuration import load_config
cfg = load_config()
service.init_db(cfg)
print("RESULT:" + json.dumps(init_airflow(cfg)))
"""


def _redis_options(prefix: str) -> dict[str, str]:
    """On Redis every key (queues, results of control commands) goes under ``prefix``."""
    if not BROKER_URL.startswith("redis"):
        return {}
    return {
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": prefix,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "86400",
    }


def _broker_cleanup(prefix: str, queues: list[str]) -> None:
    """Delete what the deployment left on the broker: Redis keys under its prefix, or its RabbitMQ queues."""
    if BROKER_URL.startswith("redis"):
        import redis

        client = redis.Redis.from_url(BROKER_URL)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
        return
    import kombu

    with kombu.Connection(BROKER_URL) as conn:
        channel = conn.default_channel
        for name in queues:  # Celery names a queue's exchange after the queue
            channel.queue_delete(name)
            channel.exchange_delete(name)


@pytest.fixture(scope="module")
def celery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryDeployment]:
    from datasync_demo import generator as demo

    work = tmp_path_factory.mktemp("celery")
    source = work / "jde.db"
    demo.write_demo_source(source, 3000)
    tag = secrets.token_hex(4)
    prefix = f"datasync_test_{tag}_"
    default_queue, cms_queue, dispatcher_queue = f"{prefix}default", f"{prefix}cms", f"{prefix}dispatcher"
    config = _write_config(work / "datasync.yaml", cms_queue)
    dags = dags_folder(work, PRELUDE)
    port = free_port()
    report = os.environ.get("DATASYNC_SCALING_REPORT")
    with fresh_database("datasync_celery_meta") as meta, fresh_database("datasync_celery_cache") as cache:
        env = deployment_env(
            work,
            dags,
            meta,
            port,
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CELERY__BROKER_URL=BROKER_URL,
            AIRFLOW__CELERY__RESULT_BACKEND=pg_url(meta, "db+postgresql"),
            AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS="datasync.airflow.celery_worker.CELERY_CONFIG",
            AIRFLOW__CELERY__SYNC_PARALLELISM="1",
            AIRFLOW__OPERATORS__DEFAULT_QUEUE=default_queue,
            AIRFLOW__DATASYNC__DISPATCHER_QUEUE=dispatcher_queue,
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="10",
            DATASYNC_CONFIG=str(config),
            AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}",
            AIRFLOW_CONN_DATASYNC_CMS=f"sqlite:///{source}",
            AIRFLOW_CONN_DATASYNC_TARGET=pg_url(cache, "postgres"),
            DATASYNC_TEST_DELAY=str(DELAY),
            **_redis_options(prefix),
        )
        deployment = CeleryDeployment(
            env=env, target=cache, logs=work / "logs", procs={}, work=work, tag=tag, source=source, config=config,
            default_queue=default_queue, cms_queue=cms_queue, dispatcher_queue=dispatcher_queue,
            sampler=Sampler(cache, meta), figures={},
        )  # fmt: skip
        try:
            migrate(env)
            run_python(INIT, env)
            deployment.start("api-server", ["api-server"])
            wait_for(lambda: api_healthy(port), 120, 1, "the api-server")
            deployment.start("scheduler", ["scheduler"])
            deployment.start("dag-processor", ["dag-processor"])
            deployment.worker("wdisp", [dispatcher_queue], concurrency=1)  # the dispatcher's worker
            deployment.sampler.start()
            yield deployment
        finally:
            deployment.sampler.halt.set()
            workers = {k: v for k, v in deployment.procs.items() if k.startswith("w")}
            stop_processes(workers, group=False)  # warm shutdown of the main process, then the whole tree
            stop_processes({k: v for k, v in deployment.procs.items() if k not in workers})
            _broker_cleanup(prefix, [default_queue, cms_queue, dispatcher_queue])
            if report and deployment.figures:
                Path(report).write_text(json.dumps(deployment.figures, indent=2, default=str))


# --------------------------------------------------------------------------- checks


def _source_rows(config: Path, table: str, source: Path) -> dict[tuple, tuple]:
    """What a correct sync leaves in ``table``: the fetcher's rows from the source, by key."""
    from datasync.engine.configuration import load_config
    from datasync.engine.sync import build_fetcher
    from datasync.sources import SqliteSourceReader

    cfg = load_config(config)
    with SqliteSourceReader(str(source)) as reader:
        fetcher = build_fetcher(cfg, cfg.table(table), reader)
        schema = fetcher.schema()
        rows = [r for batch in fetcher.fetch(None) for r in batch.to_pylist()]
    return {tuple(r[k] for k in schema.primary_key): tuple(r[c] for c in schema.column_names) for r in rows}


def _target_rows(cache: str, config: Path, table: str) -> dict[tuple, tuple]:
    from datasync.engine.configuration import load_config
    from datasync.engine.sync import build_fetcher

    cfg = load_config(config)
    schema = build_fetcher(cfg, cfg.table(table)).schema()
    cols = ", ".join(f'"{c}"' for c in schema.column_names)
    key = [schema.column_names.index(k) for k in schema.primary_key]
    with pg_connect(cache) as conn:
        rows = conn.execute(f'SELECT {cols} FROM "{table}"').fetchall()
    return {tuple(r[i] for i in key): tuple(r) for r in rows}


def _assert_targets_equal_sources(d: CeleryDeployment, tables: tuple[str, ...]) -> None:
    for table in tables:
        expected = _source_rows(d.config, table, d.source)
        assert len(expected) > BATCH
        assert _target_rows(d.target, d.config, table) == expected, table


def _no_table_synced_twice_at_once(d: CeleryDeployment) -> None:
    by_table: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in d.ledger():
        if r["EndDT"] is not None:
            by_table.setdefault(r["TableName"], []).append((r["StartDT"], r["EndDT"]))
    for table, intervals in by_table.items():
        assert max_overlap(intervals) == 1, (table, intervals)


def _mass_ids(tables: tuple[str, ...]) -> list[str]:
    return [f"datasync__{t}__mass" for t in tables]


def _figures(rows: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    start, end = min(r["StartDT"] for r in rows), max(r["EndDT"] for r in rows)
    seconds = (end - start).total_seconds()
    return {
        "workers": workers,
        "worker_concurrency": CONCURRENCY,
        "pool_slots": SLOTS,
        "tables": len(rows),
        "source_delay_s": DELAY,
        "rows": sum(r["NumberRecords"] for r in rows),
        "first_start_to_last_end_s": round(seconds, 1),
        "tables_per_minute": round(len(rows) * 60 / seconds, 2),
    }


# --------------------------------------------------------------------------- 1 and 2: the pool across workers


def test_one_worker_syncs_the_tables_due_after_the_deploy(celery: CeleryDeployment) -> None:
    mark = celery.sampler.mark()
    celery.worker("wa", [celery.default_queue])
    rows = wait_for(lambda: celery.runs_done(_mass_ids(TABLES), 0), 420, 1, "the 8 scheduled Mass syncs")
    peaks = celery.sampler.peaks(mark)
    assert [(r["WasSuccessful"], r["UpdateType"]) for r in rows] == [(1, "Mass")] * len(TABLES)
    assert {r["RunId"].split("__")[0] for r in rows} == {"dispatched"}  # started by datasync__dispatcher
    assert peaks["hosts"] == ["wa"]
    # one worker: never more than its own slots (below the pool); the dispatcher starts the Masses a
    # moment apart, so they need not overlap here (the triggered burst below reaches the cap)
    assert 1 <= peaks["running_tasks"] <= CONCURRENCY
    assert 1 <= peaks["ledger_in_progress"] <= CONCURRENCY
    _assert_targets_equal_sources(celery, TABLES)
    celery.figures["one_worker"] = _figures(rows, 1) | {"peaks": peaks}


def test_two_workers_share_the_pool_and_never_exceed_it(celery: CeleryDeployment) -> None:
    from datasync_demo import generator as demo

    celery.worker("wb", [celery.default_queue])
    demo.touch(celery.source, 10, seed=2)  # new contents: the targets prove these syncs ran
    since = celery.last_id()
    mark = celery.sampler.mark()
    run_ids = [celery.trigger(dag_id) for dag_id in _mass_ids(TABLES)]
    rows = wait_for(lambda: celery.runs_done(_mass_ids(TABLES), since), 420, 1, "the 8 triggered Mass syncs")
    wait_for(lambda: celery.tasks_finished(_mass_ids(TABLES)), 120, 0.5, "the 8 sync tasks to report")
    peaks = celery.sampler.peaks(mark)
    assert all(r["WasSuccessful"] == 1 for r in rows) and len(rows) == len(TABLES)
    tasks = celery.task_hosts(run_ids)
    assert {state for state, _, _ in tasks.values()} == {"success"}
    hosts = [host for _, host, _ in tasks.values()]
    assert set(hosts) == {"wa", "wb"}, hosts  # both workers ran syncs
    # the pool caps the syncs across the workers (4 worker slots), and the cap is reached
    assert peaks["running_tasks"] == SLOTS, peaks
    assert peaks["ledger_in_progress"] == SLOTS, peaks
    assert max_overlap([(r["StartDT"], r["EndDT"]) for r in rows]) <= SLOTS
    intervals = celery.metadata(
        "SELECT start_date, end_date FROM task_instance WHERE pool = 'datasync' AND run_id = ANY(%s)", (run_ids,)
    )
    assert max_overlap(intervals) <= SLOTS
    assert peaks["same_table_in_progress"] == 1
    _no_table_synced_twice_at_once(celery)
    _assert_targets_equal_sources(celery, TABLES)
    celery.figures["two_workers"] = _figures(rows, 2) | {"peaks": peaks, "tasks_per_worker": {h: hosts.count(h) for h in set(hosts)}}


# --------------------------------------------------------------------------- 3: queues


def test_a_source_systems_queue_runs_only_on_workers_serving_it(celery: CeleryDeployment) -> None:
    celery.stop_worker("wb")
    celery.worker("wb", [celery.cms_queue])  # wb: only the CMS route; wa: only the default queue
    since = celery.last_id()
    _write_config(celery.config, celery.cms_queue, phase3=True)  # an operator adds two CMS tables
    jde_runs = [celery.trigger(dag_id) for dag_id in _mass_ids(("Alpha", "Bravo"))]
    # nobody triggers the new tables: the running dispatcher re-reads the config every cycle and
    # starts their first Masses once the dag-processor has loaded their DAGs
    dag_ids = _mass_ids(CMS_TABLES + ("Alpha", "Bravo"))
    rows = wait_for(lambda: celery.runs_done(dag_ids, since), 420, 1, "the CMS and JDE syncs")
    wait_for(lambda: celery.tasks_finished(dag_ids), 120, 0.5, "their sync tasks to report")
    assert all(r["WasSuccessful"] == 1 for r in rows)
    cms = celery.metadata(
        "SELECT dag_id, state, hostname, queue FROM task_instance WHERE task_id = 'sync' AND dag_id = ANY(%s)",
        (_mass_ids(CMS_TABLES),),
    )
    assert sorted(cms) == [(d, "success", "wb", celery.cms_queue) for d in _mass_ids(CMS_TABLES)]
    assert {r["RunId"].split("__")[0] for r in rows if r["TableName"] in CMS_TABLES} == {"dispatched"}
    jde = celery.task_hosts(jde_runs)
    assert set(jde.values()) == {("success", "wa", celery.default_queue)}
    _assert_targets_equal_sources(celery, CMS_TABLES)
    # the victim's Daily DAG, new in this config, is loaded (the dispatcher starts it when due: its
    # Mass satisfies it for a day, DESIGN §6)
    wait_for(
        lambda: celery.metadata(
            "SELECT 1 FROM dag WHERE dag_id = %s AND NOT is_stale", (f"datasync__{VICTIM}__daily",)
        ),
        300,
        1,
        f"the Daily DAG of {VICTIM}",
    )
    # the CMS worker still serves nothing else: back to the default queue for the next phases
    celery.stop_worker("wb")


# --------------------------------------------------------------------------- 4: worker loss


class Reader(threading.Thread):
    """One read of a table on its own connection: it waits while a Mass holds the table, then reads."""

    def __init__(self, d: CeleryDeployment, table: str):
        super().__init__(daemon=True)
        self.d, self.table = d, table
        self.result: dict[tuple, tuple] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = _target_rows(self.d.target, self.d.config, self.table)
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def waiting(self) -> bool:
        rows = self.d.cache(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return rows[0][0] > 0 or self.result is not None

    def finish(self) -> dict[tuple, tuple]:
        self.join(120)
        assert not self.is_alive(), "the reader hung"
        if self.error:
            raise self.error
        assert self.result is not None
        return self.result


def _paused_worker(d: CeleryDeployment, name: str, tmp: Path, **env: str) -> Path:
    """A worker whose syncs stop after their first batch is loaded (datasync.core.faults), until released."""
    marker = tmp / f"{name}-paused"
    d.worker(name, [d.default_queue], concurrency=1, DATASYNC_FAULT_AT="load", DATASYNC_FAULT_FILE=str(marker),
             DATASYNC_FAULT_SECONDS="600", **env)  # fmt: skip
    return marker


def _start_victim_mass(d: CeleryDeployment, marker: Path) -> tuple[str, int]:
    """Trigger the victim's Mass and wait until it is paused mid-load; returns run id and ledger id."""
    since = d.last_id()
    run_id = d.trigger(f"datasync__{VICTIM}__mass")
    wait_for(lambda: marker.exists(), 180, 0.5, f"the {VICTIM} Mass to pause after its first batch")
    (row,) = [r for r in d.ledger() if r["DataUpdateID"] > since and r["TableName"] == VICTIM]
    assert row["NumberRecords"] == -2
    return run_id, row["DataUpdateID"]


def _tries(d: CeleryDeployment, run_id: str) -> list[tuple[int, str, str]]:
    """(try_number, state, hostname) of every try of the victim's sync task in ``run_id``."""
    dag_id = f"datasync__{VICTIM}__mass"
    history = d.metadata(
        "SELECT try_number, state, hostname FROM task_instance_history WHERE dag_id = %s AND run_id = %s AND task_id = 'sync'",
        (dag_id, run_id),
    )
    current = d.metadata(
        "SELECT try_number, state, hostname FROM task_instance WHERE dag_id = %s AND run_id = %s AND task_id = 'sync'",
        (dag_id, run_id),
    )
    return sorted(history + current)


def test_sigkill_of_a_worker_mid_mass_keeps_the_old_rows_and_the_retry_converges(
    celery: CeleryDeployment, tmp_path: Path
) -> None:
    from datasync_demo import generator as demo

    celery.stop_worker("wa")
    marker = _paused_worker(celery, "wc", tmp_path)
    before = _target_rows(celery.target, celery.config, VICTIM)
    demo.touch(celery.source, 10, seed=3)
    run_id, row_id = _start_victim_mass(celery, marker)
    celery.worker("wa", [celery.default_queue])  # the worker that is left
    reader = Reader(celery, VICTIM)
    reader.start()
    wait_for(reader.waiting, 60, 0.2, "the reader to wait for the Mass (or to read)")
    kill_tree(celery.procs.pop("wc"))  # the machine is gone: worker, pool, supervisor, task runner
    assert reader.finish() == before  # never empty, never partial: the old contents

    def converged() -> bool:
        celery.alive()
        return [t[1] for t in _tries(celery, run_id)][-1:] == ["success"]

    wait_for(converged, 300, 1, "the retry of the killed sync")
    tries = _tries(celery, run_id)
    assert tries[0][2] == "wc" and tries[-1][1:] == ("success", "wa"), tries
    rows = {r["DataUpdateID"]: r for r in celery.ledger()}
    orphan = rows[row_id]
    assert (orphan["NumberRecords"], orphan["WasSuccessful"]) == (-1, 0)
    assert orphan["ErrorMessage"].startswith("interrupted") and orphan["EndDT"] is not None
    (retry,) = [r for i, r in rows.items() if i > row_id and r["TableName"] == VICTIM]
    assert retry["WasSuccessful"] == 1 and retry["RunId"] == run_id
    _assert_targets_equal_sources(celery, (VICTIM,))
    assert all(r["NumberRecords"] != -2 for r in celery.ledger())


# --------------------------------------------------------------------------- 5 and 6: warm shutdown


def test_sigterm_with_worker_shutdown_cancel_cancels_the_sync_cleanly(celery: CeleryDeployment, tmp_path: Path) -> None:
    from datasync_demo import generator as demo

    celery.stop_worker("wa")
    marker = _paused_worker(celery, "wd", tmp_path, AIRFLOW__DATASYNC__WORKER_SHUTDOWN="cancel")
    before = _target_rows(celery.target, celery.config, VICTIM)
    demo.touch(celery.source, 10, seed=4)
    run_id, row_id = _start_victim_mass(celery, marker)
    assert celery.stop_worker("wd") == 0  # warm shutdown: it cancels its sync and exits by itself
    assert "cancelling task process" in celery.log("wd")
    row = {r["DataUpdateID"]: r for r in celery.ledger()}[row_id]
    assert (row["NumberRecords"], row["WasSuccessful"]) == (-1, 0)
    assert row["ErrorMessage"].startswith("cancelled") and row["EndDT"] is not None
    assert _target_rows(celery.target, celery.config, VICTIM) == before
    first = _tries(celery, run_id)[0]
    assert first[2] == "wd" and first[1] in ("up_for_retry", "failed"), first
    celery.worker("wa", [celery.default_queue])
    wait_for(lambda: [t[1] for t in _tries(celery, run_id)][-1:] == ["success"], 300, 1, "the retry of the cancelled sync")
    assert _tries(celery, run_id)[-1][1:] == ("success", "wa")
    _assert_targets_equal_sources(celery, (VICTIM,))


def test_sigterm_by_default_lets_the_sync_finish_and_a_second_sync_of_the_table_waits(
    celery: CeleryDeployment, tmp_path: Path
) -> None:
    from datasync_demo import generator as demo

    celery.stop_worker("wa")
    marker = _paused_worker(celery, "we", tmp_path)
    demo.touch(celery.source, 10, seed=5)
    run_id, row_id = _start_victim_mass(celery, marker)
    celery.worker("wa", [celery.default_queue])
    worker = celery.procs["we"]
    worker.send_signal(signal.SIGTERM)  # warm shutdown: takes nothing new, finishes what runs
    wait_for(lambda: "Warm shutdown" in celery.log("we"), 60, 0.5, "the warm shutdown to begin")
    # a full refresh of the same table now: only wa can take it; it waits for the table lock
    daily_run = celery.trigger(f"datasync__{VICTIM}__daily", {"full_refresh": True})
    wait_for(
        lambda: celery.task_hosts([daily_run]).get((f"datasync__{VICTIM}__daily", daily_run), ("",))[0] == "running",
        180,
        0.5,
        "the second sync of the table to start on wa",
    )
    assert celery.task_hosts([daily_run])[(f"datasync__{VICTIM}__daily", daily_run)][1] == "wa"
    assert worker.poll() is None  # still finishing its sync
    marker.unlink()  # let the Mass go on
    assert worker.wait(180) == 0
    celery.procs.pop("we")
    kill_tree(worker)
    rows = wait_for(lambda: celery.runs_done([f"datasync__{VICTIM}__daily"], row_id), 300, 1, "the waiting sync")
    mass = {r["DataUpdateID"]: r for r in celery.ledger()}[row_id]
    assert mass["WasSuccessful"] == 1 and mass["RunId"] == run_id
    (daily,) = [r for r in rows if r["UpdateType"] == "Daily"]
    assert daily["WasSuccessful"] == 1 and daily["StartDT"] >= mass["EndDT"]  # it waited for the lock
    assert _tries(celery, run_id)[-1][1:] == ("success", "we")
    _no_table_synced_twice_at_once(celery)
    _assert_targets_equal_sources(celery, (VICTIM,))


# --------------------------------------------------------------------------- 7: the dispatcher's worker


def _dispatcher_tis() -> str:
    return "SELECT run_id, state, hostname FROM task_instance WHERE dag_id = 'datasync__dispatcher' ORDER BY start_date"


def test_sigterm_of_the_dispatchers_worker_ends_its_run_and_the_next_starts_on_another(
    celery: CeleryDeployment,
) -> None:
    (run_id, state, host), *_ = [r for r in celery.metadata(_dispatcher_tis()) if r[1] == "running"]
    assert host == "wdisp", celery.metadata(_dispatcher_tis())  # on its own queue's worker since the deploy
    celery.worker("wdisp2", [celery.dispatcher_queue], concurrency=1)
    started = time.monotonic()
    assert celery.stop_worker("wdisp") == 0  # default worker_shutdown (finish): it does not wait out the hour
    assert time.monotonic() - started < 60
    assert "ending the dispatcher's task process" in celery.log("wdisp")
    assert (run_id, "success", "wdisp") in celery.metadata(_dispatcher_tis())  # ended cleanly, not failed

    def next_run() -> list[tuple]:
        celery.alive()
        return [r for r in celery.metadata(_dispatcher_tis()) if r[0] != run_id and r[1] == "running"]

    # one CheckInterval at most (the timetable fires every CheckInterval while no run is active)
    ((_, _, host),) = wait_for(next_run, 120, 1, "the dispatcher's next run")
    assert host == "wdisp2"
