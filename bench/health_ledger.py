"""How long one health check takes on a big ledger: 200 tables, 30 days of Hourly, Daily and
weekly Mass history (about 151,000 DataUpdate rows) in a fresh PostgreSQL database.

    uv run python bench/health_ledger.py [--tables 200] [--days 30]

Prints the row count, the median and max of 20 health evaluations (one ledger read each) and
the query plan of that read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone

import psycopg

from datasync.engine import health
from datasync.engine.configuration import parse_config
from datasync.engine.ledger import Ledger
from datasync.targets.postgres import PostgresTarget

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def main() -> int:
    args = argparse.ArgumentParser()
    args.add_argument("--tables", type=int, default=200)
    args.add_argument("--days", type=int, default=30)
    opts = args.parse_args()
    name = f"datasync_bench_health_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        target = PostgresTarget.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}")
        Ledger(target).ensure()
        raw = target.conn
        with raw.cursor() as cur:
            # per table: hourly runs, daily runs, weekly masses; one in 50 hourly runs failed
            cur.execute(
                """
                INSERT INTO "DataUpdate" ("TableName", "UpdateType", "OperationId", "StartDT", "EndDT",
                                          "NumberRecords", "WasSuccessful", "RowsInserted", "RowsUpdated", "ErrorMessage")
                SELECT 'T' || t, k.type, md5(t || k.type || s::text), now() - s * k.step, now() - s * k.step + interval '1 minute',
                       CASE WHEN k.type = 'Hourly' AND s %% 50 = 7 THEN -1 ELSE 100 END,
                       CASE WHEN k.type = 'Hourly' AND s %% 50 = 7 THEN 0 ELSE 1 END, 10, 5,
                       CASE WHEN k.type = 'Hourly' AND s %% 50 = 7 THEN 'TimeoutError: source' END
                FROM generate_series(1, %(tables)s) t
                CROSS JOIN (VALUES ('Hourly', interval '1 hour', %(days)s * 24),
                                   ('Daily', interval '1 day', %(days)s),
                                   ('Mass', interval '7 days', %(days)s / 7 + 1)) AS k(type, step, n)
                CROSS JOIN LATERAL generate_series(0, k.n - 1) s
                """,
                {"tables": opts.tables, "days": opts.days},
            )
            cur.execute('ANALYZE "DataUpdate"')
            rows = cur.execute('SELECT COUNT(*) FROM "DataUpdate"').fetchone()[0]
        raw.commit()
        entries = [
            {"TableName": f"T{i}", "FetcherTypeName": "JdeItemFetcher", "SourceSystem": "JDE",
             "MassConfig": {"Enabled": True, "IntervalMinutes": 10080}, "DailyConfig": {"Enabled": True, "IntervalMinutes": 1440},
             "HourlyConfig": {"Enabled": True, "IntervalMinutes": 60}}
            for i in range(1, opts.tables + 1)
        ]
        config = parse_config({"DataSources": entries})
        ledger = Ledger(target)
        times = []
        for _ in range(20):
            start = time.perf_counter()
            report = health.evaluate(config, ledger, datetime.now(timezone.utc))
            times.append(time.perf_counter() - start)
        sql = target.render("ledger", "latest")
        with raw.cursor() as cur:
            plan = [r[0] for r in cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql).fetchall()]
        raw.rollback()
        target.close()
        print(f"ledger rows: {rows:,}; tables: {opts.tables}; status: {report.status}")
        print(f"health evaluate (one ledger read): median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms (20 runs)")
        print("\n".join(plan))
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
