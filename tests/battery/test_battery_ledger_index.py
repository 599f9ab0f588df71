"""Health's one ledger read is index-driven (issue 12 item 4): the indexes come with a new
ledger and are added in place to an existing one (the .NET service's, an earlier datasync's),
the read returns what the former GROUP BY read returned, and PostgreSQL plans it as index
seeks on a ledger of realistic size.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from datasync.engine import ledger_upgrade
from datasync.engine.ledger import Ledger
from datasync.engine.ledger_upgrade import LATEST_INDEXES

from battery.test_battery_dotnet import ZONE, dotnet_ledger

#: the read health made before the indexes (per pair GROUP BY over the whole ledger): the reference
FORMER_LATEST = """
SELECT "DataUpdateID", "TableName", "UpdateType", "NumberRecords", "WasSuccessful" FROM "DataUpdate"
WHERE "DataUpdateID" IN (
    SELECT MAX("DataUpdateID") FROM "DataUpdate" WHERE "WasSuccessful" = 1 GROUP BY "TableName", "UpdateType"
    UNION SELECT MAX("DataUpdateID") FROM "DataUpdate" WHERE "NumberRecords" <> -2 GROUP BY "TableName", "UpdateType"
    UNION SELECT MAX("DataUpdateID") FROM "DataUpdate" WHERE "NumberRecords" = -1 GROUP BY "TableName", "UpdateType"
    UNION SELECT "DataUpdateID" FROM "DataUpdate" WHERE "NumberRecords" = -2
)
ORDER BY "DataUpdateID"
"""


def indexes(target: Any) -> set[str]:
    return target.index_names("DataUpdate")


def test_a_new_ledger_has_healths_indexes(backend, target):
    Ledger(target).ensure()
    assert set(LATEST_INDEXES) <= indexes(target)


def test_an_earlier_datasyncs_ledger_gains_the_indexes_in_place_once(backend, target):
    ledger = Ledger(target)
    ledger.ensure()
    row = ledger.start("Items", "Daily", "op1", None, None)
    ledger.finish(row, 3, 2, 1)
    with target.transaction():
        for name in LATEST_INDEXES:
            target.execute(f"DROP INDEX {target.quote(name)}" + (" ON [DataUpdate]" if backend.name == "mssql" else ""))
    assert not set(LATEST_INDEXES) & indexes(target)
    fresh = backend.open()
    try:
        Ledger(fresh).ensure(None)  # no columns to add, nothing to convert: only the indexes
        assert set(LATEST_INDEXES) <= indexes(fresh)
        if backend.name == "postgres":
            defs = dict(fresh.query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'DataUpdate'"))
            assert defs["IX_DataUpdate_LatestSuccess"].endswith('("TableName", "UpdateType", "DataUpdateID") WHERE ("WasSuccessful" = 1)')
            assert defs["IX_DataUpdate_LatestFailure"].endswith("WHERE (\"NumberRecords\" = '-1'::integer)")
            assert 'INCLUDE ("NumberRecords")' in defs["IX_DataUpdate_Latest"]
        # idempotent: a second check finds nothing to do
        assert not ledger_upgrade.plan(fresh, fresh.describe_table("DataUpdate")).needed
        assert ledger_upgrade.ensure(fresh, None) is None
        (kept,) = Ledger(fresh).recent("Items")
        assert (kept.operation_id, kept.number_records) == ("op1", 3)
    finally:
        fresh.close()


def test_the_dotnet_ledger_gains_the_indexes_with_its_upgrade(backend, target):
    dotnet_ledger(target, backend.name)
    assert not set(LATEST_INDEXES) & indexes(target)
    todo = ledger_upgrade.ensure(target, ZONE)
    assert todo is not None and todo.missing_indexes == LATEST_INDEXES
    assert set(LATEST_INDEXES) <= indexes(target)
    assert ledger_upgrade.ensure(target, ZONE) is None


def history(ledger: Ledger) -> None:
    """Successes, failures (some pairs only fail), running rows, a pair never finished."""
    for t in range(6):
        for i in range(8):
            for kind in ("Mass", "Daily", "Hourly"):
                row = ledger.start(f"T{t}", kind, f"op{t}{kind}{i}", None, None)
                if (t == 1 and kind == "Hourly") or (i % 3 == 2 and kind == "Daily"):
                    ledger.fail(row, "boom")
                elif not (i == 7 and t in (2, 3)):
                    ledger.finish(row, 10 + i, i, 0)
    ledger.start("Never", "Mass", "op-running", None, None)  # only a running row


def test_the_read_returns_what_the_former_read_returned(backend, target):
    if backend.name == "mssql":
        pytest.skip("the reference statement is quoted the ANSI way")
    ledger = Ledger(target)
    ledger.ensure()
    history(ledger)
    former = [(int(i), n, u, int(r), bool(s)) for i, n, u, r, s in target.query(FORMER_LATEST)]
    now = [(r.data_update_id, r.table_name, r.update_type, r.number_records, r.was_successful) for r in ledger.latest()]
    assert now == former
    assert len(now) > 6 * 3  # last success, last run and last failure are different rows for some pairs


def plan_nodes(node: dict) -> list[dict]:
    out = [node]
    for child in node.get("Plans", []):
        out += plan_nodes(child)
    return out


def test_postgres_plans_the_read_as_index_seeks_on_a_realistic_ledger(backend, target):
    if backend.name != "postgres":
        pytest.skip("PostgreSQL's plan")
    Ledger(target).ensure()
    # 200 tables x 30 days of Hourly, Daily and weekly Mass (one in 50 Hourly failed): 151,000 rows
    target.execute(
        """
        INSERT INTO "DataUpdate" ("TableName", "UpdateType", "OperationId", "StartDT", "EndDT", "NumberRecords", "WasSuccessful")
        SELECT 'T' || t, k.type, md5(t || k.type || s::text), now() - s * k.step, now() - s * k.step + interval '1 minute',
               CASE WHEN k.type = 'Hourly' AND s % 50 = 7 THEN -1 ELSE 100 END,
               CASE WHEN k.type = 'Hourly' AND s % 50 = 7 THEN 0 ELSE 1 END
        FROM generate_series(1, 200) t
        CROSS JOIN (VALUES ('Hourly', interval '1 hour', 720), ('Daily', interval '1 day', 30),
                           ('Mass', interval '7 days', 5)) AS k(type, step, n)
        CROSS JOIN LATERAL generate_series(0, k.n - 1) s
        """
    )
    target.execute('VACUUM ANALYZE "DataUpdate"')  # as autovacuum keeps a real ledger
    assert target.query('SELECT COUNT(*) FROM "DataUpdate"') == [(151000,)]
    (plan,) = target.query("EXPLAIN (FORMAT JSON) " + target.render("ledger", "latest"))[0]
    nodes = plan_nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    scans = [(n["Node Type"], n.get("Index Name")) for n in nodes if n.get("Relation Name") == "DataUpdate"]
    assert not [s for s in scans if s[0] == "Seq Scan"], scans
    used = {name for kind, name in scans if kind in ("Index Scan", "Index Only Scan")}
    assert {"IX_DataUpdate_Latest", "IX_DataUpdate_LatestSuccess", "IX_DataUpdate_LatestFailure"} <= used, scans
    # and the facts: 600 pairs' last success / run / failure (the failures of Hourly only) in 800 rows
    assert len(Ledger(target).latest()) == 800
