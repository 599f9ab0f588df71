"""datasync benchmark: datasync against dlt, Sling and the floor, on one JDE-shaped source.

    uv run --group bench python bench/run.py                 # 1M rows, 3 repeats, 4M RSS run, DAG import
    uv run --group bench python bench/run.py --rows 200000 --repeats 1 --no-scale   # a quick look

What one run does (docs/benchmark.md has the details and the latest figures):

1. generates the demo JDE source (SQLite) with ``--rows`` F4111 rows;
2. per repeat, on a fresh copy of that source: the mass syncs (the floors,
   datasync into PostgreSQL and SQLite, datasync through ODBC, dlt with
   ``replace``, Sling ``full-refresh``), then touches ``--touch-pct`` % of the
   rows (and adds half as many), then the incremental syncs (datasync Daily,
   dlt ``merge`` with an incremental cursor, Sling ``incremental``);
3. checks after every sync that the target equals the source (row count,
   key sum, LastUpdateDT checksum, a sample of whole rows);
4. datasync mass at 4x the rows, for the peak-RSS growth;
5. the import time of dags/datasync_dags.py with a generated 200-table config.

Each tool runs in its own process; its peak RSS is that process's high-water
mark, VmHWM (for the floor, the larger of sqlite3 and psql). Python tools are
timed in-process around the sync call (imports excluded); Sling and the floor
as whole processes. Medians of the repeats are reported, and the figures are written to
bench/results/<timestamp>.json and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNER = HERE / "runner.py"
RESULTS = HERE / "results"

DATASYNC = Path(sys.executable).with_name("datasync")  # the command a user runs
ODBC_DRIVER = "SQLite3"
SEED = 20240229


@dataclass(frozen=True)
class BenchTable:
    """One source table and what every tool does with it."""

    source: str  # the JDE physical table
    table: str  # datasync's target table (suffixes: _odbc, _rows, _scale)
    fetcher: str
    floor_sql: Path  # the JDE conversions in SQLite's SQL: the floor's query and the expected contents
    key: str  # target key column (checksum)
    qty: str  # a target number column (checksum)
    raw_key: str  # source key (dlt primary_key, Sling --primary-key)
    raw_cursor: str  # source audit date (dlt incremental, Sling --update-key)
    raw_checks: tuple[str, ...]  # source columns summed to compare raw copies


TABLES = {
    # item ledger: datasync keeps the 75% of rows with a lot number and converts them
    "F4111": BenchTable("F4111", "LotUsage", "JdeLotUsageFetcher", HERE / "sql" / "lot_usage_floor.sql",
                        "UKID", "TRQT", "ILUKID", "ILCRDJ", ("ILUKID", "ILCRDJ", "ILTRQT", "ILTDAY")),
    # work orders: wide, every row kept, so every tool writes the same rows
    "F4801": BenchTable("F4801", "WorkOrder_Curr", "JdeWorkOrderFetcher", HERE / "sql" / "work_order_floor.sql",
                        "DOCO", "UORG", "WADOCO", "WAUPMJ", ("WADOCO", "WAUPMJ", "WAUORG", "WATDAY")),
}  # fmt: skip

# issue 16's goals, on whole-process times; the ratio goals hold for every table
GOALS = {
    "mass_ratio_vs_sling": (">=", 2.5),
    "mass_ratio_vs_dlt": (">=", 6.0),
    "incremental_ratio_vs_sling": (">=", 2.0),
    "mass_time_over_floor_F4801": ("<=", 1.5),
    "sqlite_mass_over_pg_mass": ("<=", 1.3),
    "peak_rss_mb": ("<=", 300.0),
    "rss_growth_1m_to_4m": ("<", 0.15),
    "dag_import_s_200_tables": ("<", 2.0),
}


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# --------------------------------------------------------------------------- processes


def wait_rusage(proc: subprocess.Popen) -> tuple[int, float]:
    """Wait for ``proc``; (exit status, its peak RSS in MB).

    The peak is the process's VmHWM (a high-water mark, so the last reading before
    it exits is its peak). The kernel's ru_maxrss would not do: for a child started
    with fork or vfork it includes the parent's RSS at that moment, here the
    benchmark's own, which holds the generated source for a while.
    Children count too: every 20 ms the RSS of the whole process tree is summed (psutil),
    and the peak is the larger of the two figures.
    """
    import psutil

    status_file = f"/proc/{proc.pid}/status"
    peak_kb = 0
    tree_peak = 0
    polls = 0
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        root = None
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            with open(status_file) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
                        break
        except OSError:
            pass
        if root is not None and polls % 4 == 0:
            try:
                tree = root.memory_info().rss + sum(c.memory_info().rss for c in root.children(recursive=True))
                tree_peak = max(tree_peak, tree)
            except psutil.Error:
                pass
        polls += 1
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, max(peak_kb / 1024, tree_peak / 1024 / 1024)


def run_python(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """bench/runner.py in a fresh interpreter: its whole-process and in-process times, rows, peak RSS."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(RUNNER), json.dumps(spec)], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO
        )
        code, rss = wait_rusage(proc)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    if code != 0 or not lines:
        raise RuntimeError(f"{spec['tool']} {spec['mode']} failed (exit {code}):\n{text[-4000:]}")
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update(peak_rss_mb=max(rss, result.pop("own_peak_rss_mb", 0.0)), in_process_s=result["seconds"])
    result["seconds"] = wall  # the figure the ratios use: the process as a user runs it
    return result


def run_binary(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a program; (wall seconds, peak RSS MB, output)."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        code, rss = wait_rusage(proc)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if code != 0:
        raise RuntimeError(f"{cmd[0]} failed (exit {code}):\n{text[-4000:]}")
    return wall, rss, text


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    def __init__(self, host: str, port: int, user: str, database: str):
        self.host, self.port, self.user, self.database = host, port, user, database

    def connect(self, database: str | None = None) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=database or self.database, autocommit=True
        )

    def recreate(self) -> None:
        with self.connect("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.database}"')

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str) -> None:
        with self.connect() as conn:
            conn.execute(sql)

    @property
    def airflow_uri(self) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{self.database}"

    @property
    def url(self) -> str:
        # dlt insists on a password; trust authentication ignores it
        return f"postgresql://{self.user}:bench@{self.host}:{self.port}/{self.database}"

    @property
    def sling_url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}?sslmode=disable"

    def version(self) -> str:
        return str(self.query("SHOW server_version")[0][0])

    def settle(self, timeout_s: float = 120.0) -> float:
        """Wait for autovacuum to finish in the bench database, then CHECKPOINT; the seconds waited.

        A tool's Mass sets off autovacuum on its million rows, and a checkpoint makes the next
        write of every page carry a full-page image: without this, whichever tool runs next pays
        for the previous one's load (CPU on 2 cores, and WAL).
        """
        started = time.monotonic()
        with self.connect() as conn:
            while time.monotonic() - started < timeout_s:
                busy = conn.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND datname = %s",
                    (self.database,),
                ).fetchone()[0]
                if not busy:
                    break
                time.sleep(0.5)
            conn.execute("CHECKPOINT")
        return time.monotonic() - started


# --------------------------------------------------------------------------- verification


def expected_target(source: Path, t: BenchTable) -> dict[str, Any]:
    """What a correct datasync target holds, computed by SQLite from the source (the floor's SQL)."""
    floor = t.floor_sql.read_text()
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as conn:
        agg = conn.execute(
            f"""SELECT COUNT(*), SUM("{t.key}"), SUM(CAST(strftime('%s', "LastUpdateDT") AS INTEGER)),
                       MIN("LastUpdateDT"), MAX("LastUpdateDT"), SUM("{t.qty}")
                FROM ({floor})"""
        ).fetchone()
        sample = conn.execute(f'SELECT * FROM ({floor}) WHERE "{t.key}" % 997 = 7 ORDER BY "{t.key}"').fetchall()
    return {"aggregates": _norm(agg), "sample": [_norm(r) for r in sample]}


def _norm(row: Any) -> list[Any]:
    """Values in one comparable form: numbers as rounded decimals text, times as text."""
    out = []
    for v in row:
        if v is None:
            out.append(None)
            continue
        try:  # numbers, and numbers as text (the floor's printf, SQLite's REAL decimals)
            out.append(format(Decimal(str(v)).quantize(Decimal("0.0001")), "f"))
        except ArithmeticError:
            out.append(str(v)[:19])
    return out


def actual_target_pg(pg: Postgres, t: BenchTable, table: str) -> dict[str, Any]:
    agg = pg.query(
        f"""SELECT COUNT(*), SUM("{t.key}"), SUM(EXTRACT(EPOCH FROM "LastUpdateDT"))::bigint,
                   MIN("LastUpdateDT")::text, MAX("LastUpdateDT")::text, SUM("{t.qty}") FROM "{table}" """
    )[0]
    sample = pg.query(f'SELECT * FROM "{table}" WHERE "{t.key}" % 997 = 7 ORDER BY "{t.key}"')
    return {"aggregates": _norm(agg), "sample": [_norm(r) for r in sample]}


def actual_target_sqlite(path: Path, t: BenchTable, table: str) -> dict[str, Any]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        agg = conn.execute(
            f"""SELECT COUNT(*), SUM("{t.key}"), SUM(CAST(strftime('%s', "LastUpdateDT") AS INTEGER)),
                       MIN("LastUpdateDT"), MAX("LastUpdateDT"), SUM("{t.qty}") FROM "{table}" """
        ).fetchone()
        sample = conn.execute(f'SELECT * FROM "{table}" WHERE "{t.key}" % 997 = 7 ORDER BY "{t.key}"').fetchall()
    return {"aggregates": _norm(agg), "sample": [_norm(r) for r in sample]}


def expected_raw(source: Path, t: BenchTable) -> list[Any]:
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as conn:
        sums = ", ".join(f'SUM(ROUND(COALESCE("{c}", 0)))' for c in t.raw_checks)
        return _norm(conn.execute(f'SELECT COUNT(*), {sums} FROM "{t.source}"').fetchone())


def actual_raw_pg(pg: Postgres, t: BenchTable, schema: str, table: str) -> list[Any]:
    columns = {
        name.lower(): name
        for (name,) in pg.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        )
    }
    # Sling types an untyped SQLite column (ILTDAY) as text
    sums = ", ".join(f"SUM(ROUND(COALESCE(NULLIF(\"{columns[c.lower()]}\"::text, ''), '0')::numeric))" for c in t.raw_checks)
    return _norm(pg.query(f'SELECT COUNT(*), {sums} FROM "{schema}"."{table}"')[0])


def compare(what: str, expected: Any, actual: Any) -> dict[str, Any]:
    ok = expected == actual
    if not ok:
        detail = {"expected": expected, "actual": actual}
        if isinstance(expected, dict):
            detail = {
                "aggregates": {"expected": expected["aggregates"], "actual": actual["aggregates"]},
                "sample_rows_differing": sum(1 for a, b in zip(expected["sample"], actual["sample"]) if a != b)
                + abs(len(expected["sample"]) - len(actual["sample"])),
            }
        log(f"  !! {what}: target differs from the source: {json.dumps(detail, default=str)[:1500]}")
        return {"ok": False, **detail}
    return {"ok": True}


# --------------------------------------------------------------------------- the benchmark


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.workdir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.pristine = self.work / "source.pristine.db"
        self.source = self.work / "source.db"
        self.sqlite_target = self.work / "target.db"
        self.config = self.work / "datasync_bench.yaml"
        self.pg = Postgres(args.pg_host, args.pg_port, args.pg_user, args.pg_database)
        self.env = self._env()
        self.tables = [TABLES[name.strip()] for name in args.tables.split(",") if name.strip()]
        # runs[source table][mode][tool] = one result per repeat
        self.runs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {
            t.source: {"mass": {}, "incremental": {}} for t in self.tables
        }
        self.checks: list[dict[str, Any]] = []
        self.tools = [t.strip() for t in args.tools.split(",") if t.strip()]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("AIRFLOW_HOME", str(self.work / "airflow_home"))
        env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        env["AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA"] = "True"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "plugins"), env.get("PYTHONPATH", "")) if p)
        env["SLING_HOME_DIR"] = str(self.work / "sling_home")
        env["SLING_DISABLE_TELEMETRY"] = "true"
        env["BENCH_SOURCE"] = f"sqlite://{self.source}"
        env["BENCH_PG"] = self.pg.sling_url
        env["DATASYNC_CONFIG"] = str(self.config)
        return env

    # ------------------------------------------------------------------ setup

    def generate(self) -> None:
        sys.path.insert(0, str(REPO / "plugins"))
        from datasync_demo import generator as demo

        if self.pristine.exists() and not self.args.regenerate and self._rows_in(self.pristine) == self.args.rows:
            log(f"source: reusing {self.args.rows:,} rows in {self.pristine.name}")
            return
        log(f"source: generating {self.args.rows:,} JDE-shaped rows (F4111, F4801, ...): datasync demo-source")
        demo.write_demo_source(self.pristine, self.args.rows, seed=SEED)

    @staticmethod
    def _rows_in(path: Path) -> int:
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                return int(conn.execute('SELECT COUNT(*) FROM "F4801"').fetchone()[0])
        except sqlite3.Error:
            return -1

    def fresh_source(self) -> None:
        shutil.copyfile(self.pristine, self.source)

    def write_config(self) -> None:
        """The DataSync config every `datasync run` of the benchmark reads: each table in each variant."""
        import yaml

        mass = {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True}
        entries = [
            {
                "TableName": t.table + suffix,
                "SourceSystem": "JDE",
                "FetcherTypeName": t.fetcher,
                "MassConfig": mass,
                "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
                "HourlyConfig": {"Enabled": False},
            }
            for t in TABLES.values()
            for suffix in ("", "_odbc", "_rows", "_scale")
        ]
        config = {
            "BatchSize": self.args.batch_size,
            "BulkCopyBatchSize": 10_000,
            "SourceSystems": {"JDE": {"ConnId": "datasync_jde", "TimeZone": "UTC"}},
            "DataSources": entries,
        }
        self.config.write_text(yaml.safe_dump({"DataSync": config}, sort_keys=False))

    def prepare_targets(self) -> None:
        """Fresh PostgreSQL database and SQLite file; datasync's tables created by `datasync init-db`."""
        self.pg.recreate()
        self.sqlite_target.unlink(missing_ok=True)
        self.write_config()
        env = dict(self.env, AIRFLOW_CONN_DATASYNC_TARGET=self.pg.airflow_uri)
        subprocess.run([str(DATASYNC), "init-db"], check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
        self.floor_indexes = {
            t.table: self.pg.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE 'PK%%' "
                "ORDER BY indexname",
                (t.table,),
            )
            for t in self.tables
        }

    # ------------------------------------------------------------------ tools

    def _connections(self, target: str, source: Path) -> dict[str, str]:
        if target == "odbc":
            # the ODBC source adds StepAPI=1 for the SQLite ODBC driver (it streams instead of holding the result)
            source_conn = json.dumps({"conn_type": "odbc", "schema": str(source), "extra": {"driver": self.args.odbc_driver}})
        else:
            source_conn = f"sqlite:///{source}"
        target_conn = f"sqlite:///{self.sqlite_target}" if target == "sqlite" else self.pg.airflow_uri
        return {"AIRFLOW_CONN_DATASYNC_JDE": source_conn, "AIRFLOW_CONN_DATASYNC_TARGET": target_conn}

    def _runner_spec(self, t: BenchTable, target: str, mode: str, table: str) -> dict[str, Any]:
        conns = self._connections(target, self.source)
        spec = {
            "tool": "datasync", "mode": mode, "table": table, "fetcher": t.fetcher,
            "source_conn": conns["AIRFLOW_CONN_DATASYNC_JDE"], "target_conn": conns["AIRFLOW_CONN_DATASYNC_TARGET"],
            "batch_size": self.args.batch_size,
        }  # fmt: skip
        if target == "rows":
            spec["arrow"] = False
        return spec

    def run_datasync_command(self, table: str, mode: str, target: str, source: Path) -> dict[str, Any]:
        """`datasync run TABLE --type mass|daily`, as a user runs it: whole process, and the sync's own time."""
        env = dict(self.env, **self._connections(target, source))
        wall, rss, output = run_binary([str(DATASYNC), "run", table, "--type", "mass" if mode == "mass" else "daily"], env)
        found = re.search(r"([\d,]+) rows, ([\d,]+) inserted, ([\d,]+) updated in ([\d.]+) s", output)
        if not found:
            raise RuntimeError(f"datasync run {table}: no result line in its output:\n{output[-2000:]}")
        rows, inserted, updated = (int(found.group(i).replace(",", "")) for i in (1, 2, 3))
        return {"seconds": wall, "in_process_s": float(found.group(4)), "rows": rows, "inserted": inserted,
                "updated": updated, "peak_rss_mb": rss}  # fmt: skip

    def datasync(self, t: BenchTable, target: str, mode: str) -> dict[str, Any]:
        table = t.table + {"odbc": "_odbc", "rows": "_rows"}.get(target, "")
        if target == "rows" or self.args.profile:  # in-process variants: bench/runner.py
            spec = self._runner_spec(t, target, mode, table)
            if self.args.profile:
                profiles = RESULTS / "profiles"
                profiles.mkdir(parents=True, exist_ok=True)
                spec["profile"] = str(profiles / f"datasync_{t.source}_{target}_{mode}.txt")
            result = run_python(spec, self.env)
        else:
            result = self.run_datasync_command(table, mode, target, self.source)
        expected = expected_target(self.source, t)
        if target == "sqlite":
            actual = actual_target_sqlite(self.sqlite_target, t, table)
        else:
            actual = actual_target_pg(self.pg, t, table)
        result["check"] = compare(f"datasync {t.source} {target} {mode}", expected, actual)
        return result

    def dlt(self, t: BenchTable, mode: str) -> dict[str, Any]:
        pipelines = self.work / f"dlt_pipelines_{t.source}"
        dataset = f"dlt_{t.source.lower()}"
        if mode == "mass":  # a fresh pipeline: no state from the previous repeat, locally or in the target
            shutil.rmtree(pipelines, ignore_errors=True)
            for schema in (dataset, f"{dataset}_staging"):
                self.pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        spec = {
            "tool": "dlt",
            "mode": mode,
            "source": str(self.source),
            "source_table": t.source,
            "cursor": t.raw_cursor,
            "primary_key": t.raw_key,
            "pg_url": self.pg.url,
            "dataset": dataset,
            "pipelines_dir": str(pipelines),
            "data_dir": str(self.work / "dlt_data"),
        }
        result = run_python(spec, self.env)
        expected = expected_raw(self.source, t)
        result["check"] = compare(f"dlt {t.source} {mode}", expected, actual_raw_pg(self.pg, t, dataset, t.source.lower()))
        return result

    def sling(self, t: BenchTable, mode: str) -> dict[str, Any]:
        import sling_linux_amd64

        obj = f"sling.{t.source.lower()}"
        cmd = [
            sling_linux_amd64.SLING_BIN, "run",
            "--src-conn", "BENCH_SOURCE", "--src-stream", f"main.{t.source}",
            "--tgt-conn", "BENCH_PG", "--tgt-object", obj,
        ]  # fmt: skip
        if mode == "mass":
            cmd += ["--mode", "full-refresh"]
        else:
            cmd += ["--mode", "incremental", "--primary-key", t.raw_key, "--update-key", t.raw_cursor]
        wall, rss, output = run_binary(cmd, self.env)
        rows = 0
        for line in output.splitlines():
            if "inserted" in line and " rows" in line:
                words = line.split()
                rows = int(words[words.index("inserted") + 1])
        schema, table = obj.split(".")
        result = {"seconds": wall, "in_process_s": wall, "rows": rows, "peak_rss_mb": rss}
        result["check"] = compare(f"sling {t.source} {mode}", expected_raw(self.source, t), actual_raw_pg(self.pg, t, schema, table))
        return result

    def floor(self, t: BenchTable) -> dict[str, Any]:
        """sqlite3 CLI → CSV → psql \\copy, doing the same database work as datasync's mass."""
        columns = ", ".join(
            f'"{name}"'
            for (name,) in self.pg.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                (t.table,),
            )
        )
        indexes = self.floor_indexes[t.table]
        statements = ["BEGIN", f'TRUNCATE TABLE "{t.table}"']
        statements += [f'DROP INDEX IF EXISTS "{name}"' for name, _ in indexes]
        statements += [f"\\copy \"{t.table}\" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"]
        statements += [definition for _, definition in indexes]
        statements += [f'ANALYZE "{t.table}"', "COMMIT"]
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.host, "-p", str(self.pg.port)]
        psql += ["-U", self.pg.user, "-d", self.pg.database]
        for statement in statements:
            psql += ["-c", statement]
        sqlite = ["sqlite3", "-batch", "-csv", "-nullvalue", "\\N", f"file:{self.source}?mode=ro"]
        with open(t.floor_sql) as sql:
            wall, rss = self._pipe(sqlite, psql, "floor", stdin=sql)
        expected = expected_target(self.source, t)
        result = {"seconds": wall, "in_process_s": wall, "rows": int(expected["aggregates"][0].split(".")[0]), "peak_rss_mb": rss}
        result["check"] = compare(f"floor {t.source}", expected, actual_target_pg(self.pg, t, t.table))
        return result

    def _pipe(self, sqlite: list[str], psql: list[str], label: str, stdin: Any = None) -> tuple[float, float]:
        """Run ``sqlite | psql`` and time it: (wall seconds, peak RSS MB of the larger process)."""
        with tempfile.TemporaryFile("w+") as err:
            started = time.perf_counter()
            reader = subprocess.Popen(sqlite, stdin=stdin, stdout=subprocess.PIPE, stderr=err)
            writer = subprocess.Popen(psql, stdin=reader.stdout, stderr=err, env=self.env)
            assert reader.stdout is not None
            reader.stdout.close()
            code_r, rss_r = wait_rusage(reader)
            code_w, rss_w = wait_rusage(writer)
            wall = time.perf_counter() - started
            err.seek(0)
            if code_r or code_w:
                raise RuntimeError(f"{label} failed (sqlite3 {code_r}, psql {code_w}): {err.read()[-3000:]}")
        return wall, max(rss_r, rss_w)

    def floor_raw(self, t: BenchTable) -> dict[str, Any]:
        """The peers' floor: the raw table (every row, no conversions) through sqlite3 | psql \\copy."""
        schema, table = "floor_raw", t.source.lower()
        with sqlite3.connect(f"file:{self.source}?mode=ro", uri=True) as conn:
            declared = conn.execute(f"SELECT name, type FROM pragma_table_info('{t.source}')").fetchall()
        pg_type = {"NUMERIC": "numeric", "FLOAT": "double precision", "": "double precision"}
        columns = ", ".join(f'"{n}" {pg_type.get(ty, "text")}' for n, ty in declared)
        self.pg.execute(f'CREATE SCHEMA IF NOT EXISTS {schema}; DROP TABLE IF EXISTS {schema}.{table}; '
                        f'CREATE TABLE {schema}.{table} ({columns})')  # fmt: skip
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.host, "-p", str(self.pg.port)]
        psql += ["-U", self.pg.user, "-d", self.pg.database, "-c", "BEGIN", "-c", f"TRUNCATE {schema}.{table}"]
        psql += ["-c", f"\\copy {schema}.{table} FROM STDIN WITH (FORMAT csv, NULL '\\N')", "-c", "COMMIT"]
        sqlite = ["sqlite3", "-batch", "-csv", "-nullvalue", "\\N", f"file:{self.source}?mode=ro", f'SELECT * FROM "{t.source}"']
        wall, rss = self._pipe(sqlite, psql, "raw floor")
        expected = expected_raw(self.source, t)
        result = {"seconds": wall, "in_process_s": wall, "rows": int(expected[0].split(".")[0]), "peak_rss_mb": rss}
        result["check"] = compare(f"raw floor {t.source}", expected, actual_raw_pg(self.pg, t, schema, table))
        return result

    # ------------------------------------------------------------------ phases

    def steps(self, t: BenchTable, mode: str) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = []
        if mode == "mass" and "floor" in self.tools:
            steps.append(("floor", lambda: self.floor(t)))
        if mode == "mass" and "floor_raw" in self.tools:
            steps.append(("floor_raw", lambda: self.floor_raw(t)))
        for target in ("pg", "sqlite", "odbc", "rows"):
            if f"datasync_{target}" in self.tools:
                steps.append((f"datasync_{target}", lambda m=mode, x=target: self.datasync(t, x, m)))
        if "dlt" in self.tools:
            steps.append(("dlt", lambda m=mode: self.dlt(t, m)))
        if "sling" in self.tools:
            steps.append(("sling", lambda m=mode: self.sling(t, m)))
        return steps

    def phase(self, t: BenchTable, mode: str, repeat: int) -> None:
        steps = self.steps(t, mode)
        # the floor first (it loads datasync's table, which datasync's mass then reloads); the rest rotate
        fixed = [s for s in steps if s[0] == "floor"]
        rest = [s for s in steps if s[0] != "floor"]
        shift = repeat % len(rest) if rest else 0
        for name, step in fixed + rest[shift:] + rest[:shift]:
            self.pg.settle()
            result = step()
            self.runs[t.source][mode].setdefault(name, []).append(result)
            self.checks.append({"repeat": repeat, "table": t.source, "mode": mode, "tool": name, **result["check"]})
            log(
                f"  {t.source} {mode:<11} {name:<16} {result['seconds']:7.2f} s (in-process {result['in_process_s']:6.2f} s) "
                f"{result['rows']:>9,} rows  {result['peak_rss_mb']:6.0f} MB  {'ok' if result['check']['ok'] else 'TARGET DIFFERS'}"
            )

    def touch(self) -> dict[str, Any]:
        from datasync_demo import generator as demo

        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        return demo.touch(self.source, self.args.touch_pct, seed=SEED + 1, now=now)

    def scale(self) -> dict[str, Any]:
        """datasync mass at ``--scale-factor`` × rows, each table and path: peak RSS must stay flat."""
        from datasync_demo import generator as demo

        rows = self.args.rows * self.args.scale_factor
        big = self.work / "source.scale.db"
        if self._rows_in(big) != rows:
            log(f"scale: generating {rows:,} rows")
            demo.write_demo_source(big, rows, seed=SEED)
        out: dict[str, Any] = {"rows_source": rows}
        for t in self.tables:
            for target in [x.strip() for x in self.args.scale_tools.split(",") if x.strip()]:
                runs = []
                for _ in range(self.args.scale_repeats):
                    runs.append(self.run_datasync_command(t.table + "_scale", "mass", target.removeprefix("datasync_"), big))
                    log(f"  scale {t.source} mass {target} {runs[-1]['seconds']:7.2f} s  {runs[-1]['rows']:>9,} rows  "
                        f"{runs[-1]['peak_rss_mb']:6.0f} MB")  # fmt: skip
                out.setdefault(t.source, {})[target] = {
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "in_process_s": statistics.median(r["in_process_s"] for r in runs),
                    "rows": runs[0]["rows"],
                    "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                }
        if not self.args.keep_scale_source:
            big.unlink(missing_ok=True)
        return out

    def dag_import(self, tables: int = 200) -> dict[str, Any]:
        """Seconds to import dags/datasync_dags.py in a fresh process with a ``tables``-table config.

        Airflow itself is imported first (the DAG processor has it loaded); the cold figure includes it.
        """
        import yaml

        fetchers = ["JdeWorkOrderFetcher", "JdeLotUsageFetcher", "JdeItemFetcher", "JdeLotMasterFetcher", "CmsMisDataFetcher"]
        entries = []
        for i in range(tables):
            fetcher = fetchers[i % len(fetchers)]
            entries.append(
                {
                    "TableName": f"Table{i:03d}_{fetcher.removesuffix('Fetcher')}",
                    "SourceSystem": "CMS" if fetcher.startswith("Cms") else "JDE",
                    "FetcherTypeName": fetcher,
                    "MassConfig": {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True},
                    "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
                    "HourlyConfig": {"Enabled": True, "IntervalMinutes": 60},
                }
            )
        config = self.work / f"datasync_{tables}_tables.yaml"
        config.write_text(yaml.safe_dump({"DataSync": {"DataSources": entries}}, sort_keys=False))
        dag_file = REPO / "dags" / "datasync_dags.py"
        code = (
            "import sys, time, runpy\n"
            "cold = time.perf_counter()\n"
            "if sys.argv[2] == 'warm':\n"
            "    import airflow.sdk\n"
            "started = time.perf_counter()\n"
            "runpy.run_path(sys.argv[1], run_name='datasync_dags')\n"
            "done = time.perf_counter()\n"
            "from datasync.airflow.dag_factory import build_dags\n"
            "dags = len(build_dags(sys.argv[1]).dags)\n"
            "print('RESULT', done - started, done - cold, dags)\n"
        )
        env = dict(self.env, DATASYNC_CONFIG=str(config))
        warm, cold, dags = [], [], 0
        for _ in range(max(3, self.args.repeats)):
            for variant, into in (("warm", warm), ("cold", cold)):
                out = subprocess.run(
                    [sys.executable, "-c", code, str(dag_file), variant],
                    capture_output=True, text=True, env=env, cwd=REPO, check=True,
                )  # fmt: skip
                line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")][-1].split()
                into.append(float(line[1] if variant == "warm" else line[2]))
                dags = int(line[3])
        return {"tables": tables, "dags": dags, "seconds": statistics.median(warm), "cold_seconds": statistics.median(cold)}


# --------------------------------------------------------------------------- report


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = statistics.median(r["seconds"] for r in runs)
    rows = runs[0]["rows"]
    return {
        "seconds": round(seconds, 3),
        "rows": rows,
        "rows_per_s": round(rows / seconds) if seconds else None,
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        "in_process_s": round(statistics.median(r["in_process_s"] for r in runs), 3),
        "runs_s": [round(r["seconds"], 3) for r in runs],
        "in_process_runs_s": [round(r["in_process_s"], 3) for r in runs],
    }


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b or not b["seconds"]:
        return None
    return round(a["seconds"] / b["seconds"], 2)


def machine() -> dict[str, Any]:
    memory = None
    try:
        with open("/proc/meminfo") as f:
            memory = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def versions(pg: Postgres) -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for package in ("dlt", "sling-linux-amd64", "pyarrow", "adbc-driver-sqlite", "arrow-odbc", "psycopg"):
        try:
            out[package] = version(package)
        except Exception:  # noqa: BLE001
            out[package] = "?"
    out["postgresql"] = pg.version()
    sqlite_cli = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True, check=False).stdout.split()
    out["sqlite3_cli"] = sqlite_cli[0] if sqlite_cli else "?"
    return out


def print_table(report: dict[str, Any]) -> None:
    rows = []
    for source, by_mode in report["results"].items():
        for mode in ("mass", "incremental"):
            results = by_mode[mode]
            dlt, sling, floor = results.get("dlt"), results.get("sling"), results.get("floor")
            for name, r in results.items():
                rows.append(
                    [
                        source,
                        mode,
                        name,
                        f"{r['seconds']:.2f}",
                        f"{r['in_process_s']:.2f}",
                        f"{r['rows']:,}",
                        f"{r['peak_rss_mb']:.0f}",
                        _x(ratio(dlt, r)),
                        _x(ratio(sling, r)),
                        _x(ratio(r, floor)) if mode == "mass" and floor else "-",
                    ]
                )
    head = ["table", "sync", "tool", "whole s", "in-process s", "rows", "peak RSS MB", "dlt/tool", "sling/tool", "tool/floor"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).rjust(w) if i >= 3 else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()
    for key, goal in report["goals"].items():
        value = goal["value"]
        print(f"  {key:<28} {'-' if value is None else value:>8}  goal {goal['goal']:<7} {'met' if goal['met'] else 'NOT met'}")
    print()


def _ratio_in(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    """Like ratio, on the in-process figures (imports and process start excluded)."""
    if not a or not b or not b.get("in_process_s"):
        return None
    return round(a["in_process_s"] / b["in_process_s"], 2)


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="F4111 and F4801 rows in the source (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per tool; the median is reported")
    parser.add_argument("--touch-pct", type=float, default=1.0, help="%% of rows updated before the incremental sync (half as many added)")
    parser.add_argument("--batch-size", type=int, default=1_000_000, help="datasync BatchSize")
    parser.add_argument(
        "--tools",
        default="floor,floor_raw,datasync_pg,datasync_sqlite,datasync_odbc,dlt,sling",
        help="comma-separated; also datasync_rows (the row-by-row SQLite reader)",
    )
    parser.add_argument("--tables", default="F4111,F4801", help="source tables: F4111 (item ledger), F4801 (work orders, wide)")
    parser.add_argument("--no-scale", dest="scale", action="store_false", help="skip the 4x-rows RSS run")
    parser.add_argument("--scale-tools", default="datasync_pg,datasync_odbc", help="datasync paths of the 4x-rows run")
    parser.add_argument("--scale-factor", type=int, default=4)
    parser.add_argument("--scale-repeats", type=int, default=1)
    parser.add_argument("--keep-scale-source", action="store_true")
    parser.add_argument("--no-dag-import", dest="dag_import", action="store_false")
    parser.add_argument("--regenerate", action="store_true", help="regenerate the source even if one exists")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles of datasync into bench/results/profiles")
    parser.add_argument("--odbc-driver", default=ODBC_DRIVER, help="unixODBC driver name for datasync_odbc")
    parser.add_argument("--workdir", default=str(HERE / "work"))
    parser.add_argument("--pg-host", default=os.environ.get("DATASYNC_BENCH_PG_HOST", "127.0.0.1"))
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("DATASYNC_BENCH_PG_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("DATASYNC_BENCH_PG_USER", "postgres"))
    parser.add_argument("--pg-database", default="datasync_bench")
    parser.add_argument("--no-save", dest="save", action="store_false", help="do not write bench/results")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO / "plugins"))
    # installed as scripts/setup installs it: datasync's own modules compiled to bytecode (an edited
    # checkout would otherwise compile them in every `datasync` process under PYTHONDONTWRITEBYTECODE)
    compileall.compile_dir(REPO / "plugins", quiet=1)
    bench = Bench(args)
    load_start = os.getloadavg()
    started = time.time()
    bench.generate()
    bench.prepare_targets()
    touched: dict[str, Any] = {}
    for repeat in range(args.repeats):
        log(f"repeat {repeat + 1}/{args.repeats}")
        bench.fresh_source()
        for t in bench.tables:
            bench.phase(t, "mass", repeat)
        touched = bench.touch()
        log(f"  touched the source: {touched} (rows updated, added)")
        for t in bench.tables:
            bench.phase(t, "incremental", repeat)
    scale = bench.scale() if args.scale else None
    dags = bench.dag_import() if args.dag_import else None

    results = {
        source: {mode: {name: summarise(runs) for name, runs in by_mode[mode].items()} for mode in by_mode}
        for source, by_mode in bench.runs.items()
    }
    by_table: dict[str, dict[str, Any]] = {}
    peaks: list[float] = []
    for source, by_mode in results.items():
        mass, inc = by_mode["mass"], by_mode["incremental"]
        ds_mass, ds_inc = mass.get("datasync_pg"), inc.get("datasync_pg")
        by_table[source] = {
            "mass_ratio_vs_dlt": ratio(mass.get("dlt"), ds_mass),
            "incremental_ratio_vs_dlt": ratio(inc.get("dlt"), ds_inc),
            "mass_ratio_vs_sling": ratio(mass.get("sling"), ds_mass),
            "incremental_ratio_vs_sling": ratio(inc.get("sling"), ds_inc),
            "mass_time_over_floor": ratio(ds_mass, mass.get("floor")),
            "mass_time_over_raw_floor": ratio(ds_mass, mass.get("floor_raw")),
            "sqlite_mass_over_pg_mass": ratio(mass.get("datasync_sqlite"), ds_mass),
            "odbc_mass_over_direct_mass": ratio(mass.get("datasync_odbc"), ds_mass),
            "in_process": {
                "mass_ratio_vs_dlt": _ratio_in(mass.get("dlt"), ds_mass),
                "mass_ratio_vs_sling": _ratio_in(mass.get("sling"), ds_mass),
                "incremental_ratio_vs_sling": _ratio_in(inc.get("sling"), ds_inc),
                "incremental_ratio_vs_dlt": _ratio_in(inc.get("dlt"), ds_inc),
            },
            "datasync_peak_rss_mb": max(
                (r["peak_rss_mb"] for m in (mass, inc) for n, r in m.items() if n.startswith("datasync")), default=None
            ),
        }
        if by_table[source]["datasync_peak_rss_mb"] is not None:
            peaks.append(by_table[source]["datasync_peak_rss_mb"])
    growth: dict[str, float] = {}
    if scale:
        for source, by_tool in scale.items():
            if source == "rows_source":
                continue
            for tool, r in by_tool.items():
                base = results[source]["mass"].get(tool)
                if base:
                    growth[f"{source} {tool}"] = round(r["peak_rss_mb"] / base["peak_rss_mb"] - 1, 3)
                peaks.append(r["peak_rss_mb"])

    def worst(key: str, low: bool = True) -> float | None:
        values = [t[key] for t in by_table.values() if t.get(key) is not None]
        return (min(values) if low else max(values)) if values else None

    report: dict[str, Any] = {
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "uv run --group bench python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows_source": args.rows,
        "tables": list(results),
        "repeats": args.repeats,
        "touch_pct": args.touch_pct,
        "touched": touched,
        # headline ratios: whole processes, the worst table
        "mass_ratio_vs_dlt": worst("mass_ratio_vs_dlt"),
        "incremental_ratio_vs_dlt": worst("incremental_ratio_vs_dlt"),
        "mass_ratio_vs_sling": worst("mass_ratio_vs_sling"),
        "incremental_ratio_vs_sling": worst("incremental_ratio_vs_sling"),
        "mass_time_over_floor_F4801": by_table.get("F4801", {}).get("mass_time_over_floor"),
        "sqlite_mass_over_pg_mass": worst("sqlite_mass_over_pg_mass", low=False),
        "peak_rss_mb": max(peaks) if peaks else None,
        "rss_growth_1m_to_4m": max(growth.values()) if growth else None,
        "rss_growth_by_run": growth,
        "dag_import_s_200_tables": round(dags["seconds"], 3) if dags else None,
        "by_table": by_table,
        "machine": {**machine(), "load_average_at_start": [round(x, 2) for x in load_start]},
        "versions": versions(bench.pg),
        "results": results,
        "scale": scale,
        "dag_import": dags,
        "all_targets_equal_source": all(c["ok"] for c in bench.checks),
        "checks": bench.checks,
        "elapsed_s": round(time.time() - started, 1),
        "notes": [
            "Every figure is a whole process as a user runs it: `datasync run TABLE --type mass|daily` as a command, "
            "dlt's pipeline script in its own interpreter, Sling's binary, the floor's sqlite3 | psql pipe. "
            "in_process_s is the tool's own view (datasync's printed sync time, dlt's pipeline.run).",
            "Ratios are peer time over datasync time (PostgreSQL target, direct SQLite reader); "
            "mass_time_over_floor is datasync time over floor time. Headline ratios are the worst table's.",
            "F4111: datasync keeps the rows with a lot number (about 75%) and applies the JDE conversions; dlt and "
            "Sling copy the raw table. F4801: every row is kept, so every tool writes the same rows.",
            "The floor is the sqlite3 CLI running the same conversions in SQL (bench/sql/*_floor.sql), piped as CSV "
            "into psql \\copy, with the same database work as datasync's mass (TRUNCATE, drop and rebuild the "
            "secondary indexes, ANALYZE, one transaction). floor_raw copies the raw table.",
            "Peak RSS: the larger of the process's VmHWM and the summed RSS of its process tree (psutil, 20 ms).",
        ],
    }
    report["goals"] = {
        key: {
            "goal": f"{op} {target:g}",
            "value": report[key],
            "met": report[key] is not None and (report[key] >= target if op == ">=" else report[key] <= target if op == "<=" else report[key] < target),
        }
        for key, (op, target) in GOALS.items()
    }
    print_table(report)
    if not report["all_targets_equal_source"]:
        log("some targets differ from the source: see 'checks' in the results")
    if args.save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = report["timestamp"].replace(":", "").replace("-", "")
        text = json.dumps(report, indent=2, default=str) + "\n"
        (RESULTS / f"{stamp}.json").write_text(text)
        (RESULTS / "latest.json").write_text(text)
        log(f"figures written to bench/results/{stamp}.json and bench/results/latest.json")
    return 0 if report["all_targets_equal_source"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
