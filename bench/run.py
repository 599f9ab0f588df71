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
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNER = HERE / "runner.py"
FLOOR_SQL = HERE / "sql" / "lot_usage_floor.sql"
RESULTS = HERE / "results"

TABLE = "LotUsage"  # datasync's target table (direct SQLite reader)
TABLE_ODBC = "LotUsage_odbc"  # datasync reading the same file through the SQLite ODBC driver
TABLE_ROWS = "LotUsage_rows"  # datasync with the row-by-row SQLite reader (optional, for comparison)
TABLE_SCALE = "LotUsage_scale"
DLT_DATASET = "dlt_bench"
SLING_OBJECT = "sling.f4111"
ODBC_DRIVER = "SQLite3"
SEED = 20240229

GOALS = {
    "mass_ratio_vs_sling": (">=", 2.0),
    "mass_ratio_vs_dlt": (">=", 4.0),
    "mass_time_over_floor": ("<=", 2.0),
    "incremental_ratio_vs_sling": (">=", 2.0),
    "incremental_ratio_vs_dlt": (">=", 3.0),
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
    """
    status_file = f"/proc/{proc.pid}/status"
    peak_kb = 0
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
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, peak_kb / 1024


def run_python(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """bench/runner.py in a fresh interpreter: its in-process time, rows, and peak RSS."""
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
    result.update(peak_rss_mb=max(rss, result.pop("own_peak_rss_mb", 0.0)), process_s=wall)
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


# --------------------------------------------------------------------------- verification


def expected_lot_usage(source: Path) -> dict[str, Any]:
    """What a correct LotUsage target holds, computed by SQLite from the source (the floor's SQL)."""
    floor = FLOOR_SQL.read_text()
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as conn:
        agg = conn.execute(
            f"""SELECT COUNT(*), SUM("UKID"), SUM(CAST(strftime('%s', "LastUpdateDT") AS INTEGER)),
                       MIN("LastUpdateDT"), MAX("LastUpdateDT"), SUM("TRQT")
                FROM ({floor})"""
        ).fetchone()
        sample = conn.execute(f'SELECT * FROM ({floor}) WHERE "UKID" % 997 = 7 ORDER BY "UKID"').fetchall()
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


def actual_lot_usage_pg(pg: Postgres, table: str) -> dict[str, Any]:
    agg = pg.query(
        f"""SELECT COUNT(*), SUM("UKID"), SUM(EXTRACT(EPOCH FROM "LastUpdateDT"))::bigint,
                   MIN("LastUpdateDT")::text, MAX("LastUpdateDT")::text, SUM("TRQT") FROM "{table}" """
    )[0]
    sample = pg.query(f'SELECT * FROM "{table}" WHERE "UKID" % 997 = 7 ORDER BY "UKID"')
    return {"aggregates": _norm(agg), "sample": [_norm(r) for r in sample]}


def actual_lot_usage_sqlite(path: Path, table: str) -> dict[str, Any]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        agg = conn.execute(
            f"""SELECT COUNT(*), SUM("UKID"), SUM(CAST(strftime('%s', "LastUpdateDT") AS INTEGER)),
                       MIN("LastUpdateDT"), MAX("LastUpdateDT"), SUM("TRQT") FROM "{table}" """
        ).fetchone()
        sample = conn.execute(f'SELECT * FROM "{table}" WHERE "UKID" % 997 = 7 ORDER BY "UKID"').fetchall()
    return {"aggregates": _norm(agg), "sample": [_norm(r) for r in sample]}


RAW_CHECK = ("ILUKID", "ILCRDJ", "ILTRQT", "ILTDAY")


def expected_raw(source: Path) -> list[Any]:
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as conn:
        sums = ", ".join(f'SUM(ROUND(COALESCE("{c}", 0)))' for c in RAW_CHECK)
        return _norm(conn.execute(f'SELECT COUNT(*), {sums} FROM "F4111"').fetchone())


def actual_raw_pg(pg: Postgres, schema: str, table: str) -> list[Any]:
    columns = {
        name.lower(): name
        for (name,) in pg.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        )
    }
    # Sling types an untyped SQLite column (ILTDAY) as text
    sums = ", ".join(f"SUM(ROUND(COALESCE(NULLIF(\"{columns[c.lower()]}\"::text, ''), '0')::numeric))" for c in RAW_CHECK)
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
        self.pg = Postgres(args.pg_host, args.pg_port, args.pg_user, args.pg_database)
        self.env = self._env()
        self.runs: dict[str, dict[str, list[dict[str, Any]]]] = {"mass": {}, "incremental": {}}
        self.checks: list[dict[str, Any]] = []
        self.tools = [t.strip() for t in args.tools.split(",") if t.strip()]

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("AIRFLOW_HOME", str(self.work / "airflow_home"))
        env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "plugins"), env.get("PYTHONPATH", "")) if p)
        env["SLING_HOME_DIR"] = str(self.work / "sling_home")
        env["SLING_DISABLE_TELEMETRY"] = "true"
        env["BENCH_SOURCE"] = f"sqlite://{self.source}"
        env["BENCH_PG"] = self.pg.sling_url
        return env

    # ------------------------------------------------------------------ setup

    def generate(self) -> None:
        sys.path.insert(0, str(REPO / "plugins"))
        from datasync_demo import generator as demo

        if self.pristine.exists() and not self.args.regenerate and self._rows_in(self.pristine) == self.args.rows:
            log(f"source: reusing {self.args.rows:,} rows in {self.pristine.name}")
            return
        log(f"source: generating {self.args.rows:,} JDE-shaped rows (F4111, F4801, ...)")
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

    def prepare_targets(self) -> None:
        """Fresh PostgreSQL database and SQLite file; datasync's tables created like `datasync init-db`."""
        self.pg.recreate()
        self.sqlite_target.unlink(missing_ok=True)
        for table in (TABLE, TABLE_ODBC, TABLE_ROWS):
            spec = self._datasync_spec("pg", "init", table)
            code = (
                "import json, os, sys; sys.path.insert(0, 'bench'); from runner import datasync_config; "
                "spec = json.loads(sys.argv[1]); os.environ['AIRFLOW_CONN_DATASYNC_TARGET'] = spec['target_conn']; "
                "from datasync.engine.configuration import parse_config; from datasync.engine.service import init_db; "
                "init_db(parse_config(datasync_config(spec)))"
            )
            subprocess.run([sys.executable, "-c", code, json.dumps(spec)], check=True, env=self.env, cwd=REPO)
        self.floor_indexes = self.pg.query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE 'PK%%' "
            "ORDER BY indexname",
            (TABLE,),
        )

    # ------------------------------------------------------------------ tools

    def _datasync_spec(self, target: str, mode: str, table: str = TABLE, source: Path | None = None) -> dict[str, Any]:
        source = source or self.source
        if target == "odbc":
            source_conn = json.dumps(
                # The SQLite ODBC driver holds the whole result unless StepAPI=1, but only without it does
                # it type the demo's untyped ILTDAY column as a number: its peak RSS is the driver's.
                {"conn_type": "odbc", "schema": str(source), "extra": {"driver": self.args.odbc_driver}}
            )
        else:
            source_conn = f"sqlite:///{source}"
        target_conn = f"sqlite:///{self.sqlite_target}" if target == "sqlite" else self.pg.airflow_uri
        spec = {
            "tool": "datasync",
            "mode": mode,
            "table": table,
            "source_conn": source_conn,
            "target_conn": target_conn,
            "batch_size": self.args.batch_size,
        }
        if target == "rows":
            spec["arrow"] = False
        return spec

    def datasync(self, target: str, mode: str) -> dict[str, Any]:
        table = {"odbc": TABLE_ODBC, "rows": TABLE_ROWS}.get(target, TABLE)
        spec = self._datasync_spec(target, mode, table)
        if self.args.profile:
            profiles = RESULTS / "profiles"
            profiles.mkdir(parents=True, exist_ok=True)
            spec["profile"] = str(profiles / f"datasync_{target}_{mode}.txt")
        result = run_python(spec, self.env)
        expected = expected_lot_usage(self.source)
        if target == "sqlite":
            actual = actual_lot_usage_sqlite(self.sqlite_target, table)
        else:
            actual = actual_lot_usage_pg(self.pg, table)
        result["check"] = compare(f"datasync {target} {mode}", expected, actual)
        return result

    def dlt(self, mode: str) -> dict[str, Any]:
        pipelines = self.work / "dlt_pipelines"
        if mode == "mass":  # a fresh pipeline: no state from the previous repeat, locally or in the target
            shutil.rmtree(pipelines, ignore_errors=True)
            for schema in (DLT_DATASET, f"{DLT_DATASET}_staging"):
                self.pg.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        spec = {
            "tool": "dlt",
            "mode": mode,
            "source": str(self.source),
            "pg_url": self.pg.url,
            "dataset": DLT_DATASET,
            "pipelines_dir": str(pipelines),
            "data_dir": str(self.work / "dlt_data"),
        }
        result = run_python(spec, self.env)
        result["check"] = compare(f"dlt {mode}", expected_raw(self.source), actual_raw_pg(self.pg, DLT_DATASET, "f4111"))
        return result

    def sling(self, mode: str) -> dict[str, Any]:
        import sling_linux_amd64

        cmd = [
            sling_linux_amd64.SLING_BIN, "run",
            "--src-conn", "BENCH_SOURCE", "--src-stream", "main.F4111",
            "--tgt-conn", "BENCH_PG", "--tgt-object", SLING_OBJECT,
        ]  # fmt: skip
        if mode == "mass":
            cmd += ["--mode", "full-refresh"]
        else:
            cmd += ["--mode", "incremental", "--primary-key", "ILUKID", "--update-key", "ILCRDJ"]
        wall, rss, output = run_binary(cmd, self.env)
        rows = 0
        for line in output.splitlines():
            if "inserted" in line and " rows" in line:
                words = line.split()
                rows = int(words[words.index("inserted") + 1])
        schema, table = SLING_OBJECT.split(".")
        result = {"seconds": wall, "rows": rows, "peak_rss_mb": rss, "process_s": wall}
        result["check"] = compare(f"sling {mode}", expected_raw(self.source), actual_raw_pg(self.pg, schema, table))
        return result

    def floor(self) -> dict[str, Any]:
        """sqlite3 CLI → CSV → psql \\copy, doing the same database work as datasync's mass."""
        columns = ", ".join(
            f'"{c}"'
            for c in (
                "UKID ITM LITM MCU LOCN LOTN DOC DCT KCO DOCO DCTO LNID TRDJ TRQT TRUM UNCS LastUpdateDT".split()
            )
        )
        statements = ["BEGIN", f'TRUNCATE TABLE "{TABLE}"']
        statements += [f'DROP INDEX IF EXISTS "{name}"' for name, _ in self.floor_indexes]
        statements += [f"\\copy \"{TABLE}\" ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"]
        statements += [definition for _, definition in self.floor_indexes]
        statements += [f'ANALYZE "{TABLE}"', "COMMIT"]
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.host, "-p", str(self.pg.port)]
        psql += ["-U", self.pg.user, "-d", self.pg.database]
        for statement in statements:
            psql += ["-c", statement]
        sqlite = ["sqlite3", "-batch", "-csv", "-nullvalue", "\\N", f"file:{self.source}?mode=ro"]
        with open(FLOOR_SQL) as sql:
            wall, rss = self._pipe(sqlite, psql, "floor", stdin=sql)
        expected = expected_lot_usage(self.source)
        result = {"seconds": wall, "rows": int(expected["aggregates"][0].split(".")[0]), "peak_rss_mb": rss}
        result["check"] = compare("floor", expected, actual_lot_usage_pg(self.pg, TABLE))
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

    def floor_raw(self) -> dict[str, Any]:
        """The peers' floor: the raw F4111 table (every row, no conversions) through sqlite3 | psql \\copy."""
        schema, table = "floor_raw", "f4111"
        with sqlite3.connect(f"file:{self.source}?mode=ro", uri=True) as conn:
            declared = conn.execute('SELECT name, type FROM pragma_table_info(\'F4111\')').fetchall()
        pg_type = {"NUMERIC": "numeric", "FLOAT": "double precision", "": "double precision"}
        columns = ", ".join(f'"{n}" {pg_type.get(t, "text")}' for n, t in declared)
        self.pg.execute(f'CREATE SCHEMA IF NOT EXISTS {schema}; DROP TABLE IF EXISTS {schema}.{table}; '
                        f'CREATE TABLE {schema}.{table} ({columns})')  # fmt: skip
        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.host, "-p", str(self.pg.port)]
        psql += ["-U", self.pg.user, "-d", self.pg.database, "-c", "BEGIN", "-c", f"TRUNCATE {schema}.{table}"]
        psql += ["-c", f"\\copy {schema}.{table} FROM STDIN WITH (FORMAT csv, NULL '\\N')", "-c", "COMMIT"]
        sqlite = ["sqlite3", "-batch", "-csv", "-nullvalue", "\\N", f"file:{self.source}?mode=ro", 'SELECT * FROM "F4111"']
        wall, rss = self._pipe(sqlite, psql, "raw floor")
        expected = expected_raw(self.source)
        result = {"seconds": wall, "rows": int(expected[0].split(".")[0]), "peak_rss_mb": rss}
        result["check"] = compare("raw floor", expected, actual_raw_pg(self.pg, schema, table))
        return result

    # ------------------------------------------------------------------ phases

    def steps(self, mode: str) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = []
        if mode == "mass" and "floor" in self.tools:
            steps.append(("floor", self.floor))
        if mode == "mass" and "floor_raw" in self.tools:
            steps.append(("floor_raw", self.floor_raw))
        for target in ("pg", "sqlite", "odbc", "rows"):
            if f"datasync_{target}" in self.tools:
                steps.append((f"datasync_{target}", lambda m=mode, t=target: self.datasync(t, m)))
        if "dlt" in self.tools:
            steps.append(("dlt", lambda m=mode: self.dlt(m)))
        if "sling" in self.tools:
            steps.append(("sling", lambda m=mode: self.sling(m)))
        return steps

    def phase(self, mode: str, repeat: int) -> None:
        steps = self.steps(mode)
        # the floor first (it loads datasync's table, which datasync's mass then reloads); the rest rotate
        fixed = [s for s in steps if s[0] == "floor"]
        rest = [s for s in steps if s[0] != "floor"]
        shift = repeat % len(rest) if rest else 0
        for name, step in fixed + rest[shift:] + rest[:shift]:
            result = step()
            self.runs[mode].setdefault(name, []).append(result)
            self.checks.append({"repeat": repeat, "mode": mode, "tool": name, **result["check"]})
            log(
                f"  {mode:<11} {name:<16} {result['seconds']:7.2f} s  {result['rows']:>9,} rows  "
                f"{result['peak_rss_mb']:6.0f} MB  {'ok' if result['check']['ok'] else 'TARGET DIFFERS'}"
            )

    def touch(self) -> dict[str, Any]:
        from datasync_demo import generator as demo

        now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        return demo.touch(self.source, self.args.touch_pct, seed=SEED + 1, now=now)

    def scale(self) -> dict[str, Any]:
        """datasync mass at ``--scale-factor`` × rows: peak RSS must stay flat."""
        from datasync_demo import generator as demo

        rows = self.args.rows * self.args.scale_factor
        big = self.work / "source.scale.db"
        if self._rows_in(big) != rows:
            log(f"scale: generating {rows:,} rows")
            demo.write_demo_source(big, rows, seed=SEED)
        results = []
        for _ in range(self.args.scale_repeats):
            spec = self._datasync_spec("pg", "mass", TABLE_SCALE, source=big)
            results.append(run_python(spec, self.env))
            log(f"  scale mass datasync_pg {results[-1]['seconds']:7.2f} s  {results[-1]['rows']:>9,} rows  "
                f"{results[-1]['peak_rss_mb']:6.0f} MB")  # fmt: skip
        if not self.args.keep_scale_source:
            big.unlink(missing_ok=True)
        return {
            "rows_source": rows,
            "seconds": statistics.median(r["seconds"] for r in results),
            "rows": results[0]["rows"],
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in results),
            "runs": results,
        }

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
        "runs_s": [round(r["seconds"], 3) for r in runs],
        "process_s": [round(r.get("process_s", r["seconds"]), 3) for r in runs],
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
    for mode in ("mass", "incremental"):
        results = report["results"][mode]
        dlt, sling, floor = results.get("dlt"), results.get("sling"), results.get("floor")
        for name, r in results.items():
            rows.append(
                [
                    mode,
                    name,
                    f"{r['seconds']:.2f}",
                    f"{r['rows']:,}",
                    f"{r['rows_per_s']:,}" if r["rows_per_s"] else "-",
                    f"{r['peak_rss_mb']:.0f}",
                    _x(ratio(dlt, r)),
                    _x(ratio(sling, r)),
                    _x(ratio(r, floor)) if mode == "mass" and floor else "-",
                ]
            )
    head = ["sync", "tool", "wall s", "rows", "rows/s", "peak RSS MB", "dlt/tool", "sling/tool", "tool/floor"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).rjust(w) if i >= 2 else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    print()
    for key, goal in report["goals"].items():
        value = goal["value"]
        print(f"  {key:<28} {'-' if value is None else value:>8}  goal {goal['goal']:<7} {'met' if goal['met'] else 'NOT met'}")
    print()


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="F4111 rows in the source (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per tool; the median is reported")
    parser.add_argument("--touch-pct", type=float, default=1.0, help="%% of rows updated before the incremental sync (half as many added)")
    parser.add_argument("--batch-size", type=int, default=1_000_000, help="datasync BatchSize")
    parser.add_argument(
        "--tools",
        default="floor,floor_raw,datasync_pg,datasync_sqlite,datasync_odbc,dlt,sling",
        help="comma-separated; also datasync_rows (the row-by-row SQLite reader)",
    )
    parser.add_argument("--no-scale", dest="scale", action="store_false", help="skip the 4x-rows RSS run")
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
    bench = Bench(args)
    load_start = os.getloadavg()
    started = time.time()
    bench.generate()
    bench.prepare_targets()
    touched: dict[str, Any] = {}
    for repeat in range(args.repeats):
        log(f"repeat {repeat + 1}/{args.repeats}")
        bench.fresh_source()
        bench.phase("mass", repeat)
        touched = bench.touch()
        log(f"  touched the source: {touched.get('F4111')} (F4111 rows updated, added)")
        bench.phase("incremental", repeat)
    scale = bench.scale() if args.scale else None
    dags = bench.dag_import() if args.dag_import else None

    results = {mode: {name: summarise(runs) for name, runs in bench.runs[mode].items()} for mode in bench.runs}
    mass, inc = results["mass"], results["incremental"]
    ds_mass, ds_inc = mass.get("datasync_pg"), inc.get("datasync_pg")
    peak = max((r["peak_rss_mb"] for r in (ds_mass, ds_inc) if r), default=None)
    report: dict[str, Any] = {
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "uv run --group bench python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows_source": args.rows,
        "repeats": args.repeats,
        "touch_pct": args.touch_pct,
        "touched_f4111": touched.get("F4111"),
        "mass_ratio_vs_dlt": ratio(mass.get("dlt"), ds_mass),
        "incremental_ratio_vs_dlt": ratio(inc.get("dlt"), ds_inc),
        "mass_ratio_vs_sling": ratio(mass.get("sling"), ds_mass),
        "incremental_ratio_vs_sling": ratio(inc.get("sling"), ds_inc),
        "mass_time_over_floor": ratio(ds_mass, mass.get("floor")),
        "mass_time_over_raw_floor": ratio(ds_mass, mass.get("floor_raw")),
        "peak_rss_mb": peak,
        "rss_growth_1m_to_4m": round(scale["peak_rss_mb"] / ds_mass["peak_rss_mb"] - 1, 3) if scale and ds_mass else None,
        "dag_import_s_200_tables": round(dags["seconds"], 3) if dags else None,
        "machine": {**machine(), "load_average_at_start": [round(x, 2) for x in load_start]},
        "versions": versions(bench.pg),
        "results": results,
        "scale": scale,
        "dag_import": dags,
        "all_targets_equal_source": all(c["ok"] for c in bench.checks),
        "checks": bench.checks,
        "elapsed_s": round(time.time() - started, 1),
        "notes": [
            "Ratios are peer time over datasync time (PostgreSQL target, direct SQLite reader); "
            "mass_time_over_floor is datasync time over floor time.",
            "datasync reads all F4111 rows, keeps those with a lot number (about 75%) and applies the JDE "
            "conversions (Julian dates, HHMMSS times, implied decimals, trimming); dlt and Sling copy the raw "
            "F4111 table (every row, no conversions: they cannot apply JDE rules).",
            "The floor is the sqlite3 CLI running the same conversions in SQL, piped as CSV into psql \\copy, "
            "with the same database work as datasync's mass (TRUNCATE, drop and rebuild the secondary "
            "indexes, ANALYZE, one transaction).",
            "floor_raw copies the raw F4111 table (every row, all columns, no conversions, no indexes) the same "
            "way: the floor of what dlt and Sling do; mass_time_over_raw_floor compares datasync with it.",
            "Python tools are timed in-process around the sync call (imports excluded); Sling and the floor as "
            "whole processes. Peak RSS is the tool process's VmHWM (the floor: the larger of sqlite3 and psql).",
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
