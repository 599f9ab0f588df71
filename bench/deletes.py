"""Delete detection benchmark: the key scan and delete of a 1,000,000-row table with 0.1 % deleted.

    uv run python bench/deletes.py                          # 1M F4111 rows, PostgreSQL and SQLite targets
    uv run python bench/deletes.py --rows 200000 --target sqlite   # a quick look

Whole processes, as a user runs them (``datasync run …``), on the demo JDE source:

1. ``datasync run LotUsage --type mass``: the table's Mass (the yardstick);
2. 0.1 % of the source's F4111 rows deleted (every 1000th UKID);
3. ``datasync run LotUsage --type hourly --minimum-dt 2100-01-01`` with
   ``DeleteDetection: {RunWith: Hourly}``: the window is empty, so the run is the
   process start, an empty fetch, the key scan of every source row, the
   anti-join and the delete (plus the ledger);
4. the same run once more without DeleteDetection: what the process costs without
   the detection, so the detection's own share is the difference;
5. ``datasync verify LotUsage``: cache = source after the detection (exit 0), its
   wall time and peak RSS (verify streams both sides: bounded memory).

After step 3 the target must hold exactly the source's rows (count and key sum),
and the run must report the expected number of deletes. Goal: step 3 under a
quarter of step 1. Peak RSS is each process's VmHWM. No peer tool is run: dlt and
Sling detect deletes only through a soft-delete column or CDC (see docs/deletes.md).
Figures go to bench/results/deletes-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
TABLE = "LotUsage"
SEED = 20240229
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
PG_DB = "datasync_bench_deletes"
GOAL_RATIO = 0.25


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def wait_rusage(proc: subprocess.Popen) -> tuple[int, float]:
    """Wait for ``proc``; (exit code, its peak RSS in MB from /proc VmHWM, polled until it exits)."""
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
    return os.waitstatus_to_exitcode(status), peak_kb / 1024


def datasync(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One ``datasync`` process: wall seconds, peak RSS, the sync's own seconds and counts from its output."""
    exe = Path(sys.executable).with_name("datasync")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from datasync.cli import main; main()"]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd + args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        code, rss = wait_rusage(proc)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if code != 0:
        raise RuntimeError(f"datasync {' '.join(args)} failed (exit {code}):\n{text[-4000:]}")
    m = re.search(r"([\d,]+) rows, ([\d,]+) inserted, ([\d,]+) updated(?:, ([\d,]+) deleted)? in ([\d.]+) s", text)
    if not m:
        raise RuntimeError(f"no result line in:\n{text[-2000:]}")
    num = lambda s: None if s is None else int(s.replace(",", ""))  # noqa: E731
    return {
        "process_s": round(wall, 3),
        "sync_s": float(m.group(5)),
        "peak_rss_mb": round(rss, 1),
        "rows": num(m.group(1)),
        "deleted": num(m.group(4)),
    }


def verify(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """``datasync verify`` as a process: wall seconds and peak RSS; it must find the table equal (exit 0)."""
    exe = Path(sys.executable).with_name("datasync")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from datasync.cli import main; main()"]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd + args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        code, rss = wait_rusage(proc)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    if code != 0 or ": equal:" not in text:
        raise RuntimeError(f"datasync {' '.join(args)} did not find the table equal (exit {code}):\n{text[-4000:]}")
    return {"process_s": round(wall, 3), "peak_rss_mb": round(rss, 1)}


def config(detect: bool) -> dict[str, Any]:
    table: dict[str, Any] = {
        "TableName": TABLE,
        "SourceSystem": "JDE",
        "FetcherTypeName": "JdeLotUsageFetcher",
        "MassConfig": {"Enabled": True, "IntervalMinutes": 10080, "PrepurgeData": True, "ReIndexData": True},
        "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
        "HourlyConfig": {"Enabled": True, "IntervalMinutes": 60},
    }
    if detect:
        table["DeleteDetection"] = {"Enabled": True, "RunWith": "Hourly", "MaxDeletePercent": 5}
    return {"DataSync": {"SourceSystems": {"JDE": {"ConnId": "datasync_jde", "TimeZone": "UTC"}}, "DataSources": [table]}}


def delete_source_rows(source: Path) -> int:
    """Delete every 1000th F4111 row; the deletes a sync must find (rows the fetcher keeps: LOTN not blank)."""
    with sqlite3.connect(source) as conn:
        expected = conn.execute(
            "SELECT COUNT(*) FROM F4111 WHERE ILUKID % 1000 = 0 AND RTRIM(ILLOTN) <> ''"
        ).fetchone()[0]
        conn.execute("DELETE FROM F4111 WHERE ILUKID % 1000 = 0")
    return int(expected)


def source_truth(source: Path) -> tuple[int, int]:
    with sqlite3.connect(source) as conn:
        n, s = conn.execute("SELECT COUNT(*), SUM(ILUKID) FROM F4111 WHERE RTRIM(ILLOTN) <> ''").fetchone()
    return int(n), int(s)


class Target:
    def __init__(self, kind: str, work: Path):
        self.kind = kind
        self.path = work / "cache.db"

    def reset(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(**PG_ADMIN, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{PG_DB}"')

    @property
    def uri(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        return f"postgres://{PG_ADMIN['user']}@{PG_ADMIN['host']}:{PG_ADMIN['port']}/{PG_DB}"

    def truth(self) -> tuple[int, int]:
        sql = f'SELECT COUNT(*), SUM("UKID") FROM "{TABLE}"'
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as conn:
                n, s = conn.execute(sql).fetchone()
        else:
            import psycopg

            with psycopg.connect(**PG_ADMIN, dbname=PG_DB) as conn:
                n, s = conn.execute(sql).fetchone()
        return int(n), int(s)


def run_target(kind: str, pristine: Path, work: Path) -> dict[str, Any]:
    source = work / "source.db"
    shutil.copyfile(pristine, source)
    target = Target(kind, work)
    target.reset()
    on, off = work / "detect.yaml", work / "plain.yaml"
    import yaml

    on.write_text(yaml.safe_dump(config(True)))
    off.write_text(yaml.safe_dump(config(False)))
    env = dict(os.environ, AIRFLOW_CONN_DATASYNC_JDE=f"sqlite:///{source}", AIRFLOW_CONN_DATASYNC_TARGET=target.uri)
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    log(f"{kind}: mass")
    mass = datasync(["run", TABLE, "--type", "mass", "--config", str(off)], env)
    expected = delete_source_rows(source)
    log(f"{kind}: {expected:,} source rows deleted; hourly with delete detection (empty window)")
    detect = datasync(["run", TABLE, "--type", "hourly", "--minimum-dt", "2100-01-01", "--config", str(on)], env)
    if detect["deleted"] != expected or target.truth() != source_truth(source):
        raise RuntimeError(f"{kind}: deleted {detect['deleted']} (expected {expected}); target {target.truth()} "
                           f"!= source {source_truth(source)}")
    log(f"{kind}: the same hourly without delete detection")
    plain = datasync(["run", TABLE, "--type", "hourly", "--minimum-dt", "2100-01-01", "--config", str(off)], env)
    log(f"{kind}: datasync verify (cache = source after the detection)")
    verified = verify(["verify", TABLE, "--config", str(off)], env)
    return {
        "mass": mass,
        "delete_detection": detect,
        "hourly_without_detection": plain,
        "verify": verified,
        "expected_deleted": expected,
        "ratio_process": round(detect["process_s"] / mass["process_s"], 3),
        "ratio_sync": round(detect["sync_s"] / mass["sync_s"], 3),
        "detection_only_s": round(detect["sync_s"] - plain["sync_s"], 3),
        "goal_met": detect["process_s"] / mass["process_s"] < GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="F4111 rows in the source")
    parser.add_argument("--target", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "datasync-bench-deletes")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "plugins"))
    from datasync_demo import generator as demo

    args.work.mkdir(parents=True, exist_ok=True)
    pristine = args.work / f"source-{args.rows}.db"
    if not pristine.exists():
        log(f"source: generating {args.rows:,} JDE-shaped rows")
        demo.write_demo_source(pristine, args.rows, seed=SEED)
    kinds = ["postgres", "sqlite"] if args.target == "both" else [args.target]
    report: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": args.rows,
        "deleted_pct": 0.1,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "goal": f"delete detection process < {GOAL_RATIO} x the table's mass process",
        "targets": {k: run_target(k, pristine, args.work) for k in kinds},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "deletes-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'target':<10} {'mass':>9} {'detect':>9} {'ratio':>6} {'no-detect':>10} {'RSS mass':>9} {'RSS detect':>11}"
          f" {'verify':>8} {'RSS verify':>11}")
    for kind, r in report["targets"].items():
        m, d, p, v = r["mass"], r["delete_detection"], r["hourly_without_detection"], r["verify"]
        print(f"{kind:<10} {m['process_s']:>8.2f}s {d['process_s']:>8.2f}s {r['ratio_process']:>6.3f} "
              f"{p['process_s']:>9.2f}s {m['peak_rss_mb']:>7.0f}MB {d['peak_rss_mb']:>9.0f}MB"
              f" {v['process_s']:>7.2f}s {v['peak_rss_mb']:>9.0f}MB")
    return 0 if all(r["goal_met"] for r in report["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
