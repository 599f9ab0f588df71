"""``datasync init-db --check``: the configured tables against the ones in the target, before any sync.

For every configured table: missing (init-db or the first sync creates it), or
every difference between what its fetcher declares (after its ``Columns`` map)
and what the catalog has (datasync.targets.catalog). For DataUpdate: missing,
datasync's, or the .NET service's and what its upgrade will do. Nothing is
changed. An ``error`` means a sync of that table would fail (or silently change
data); the command then exits non-zero.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from datasync.config import DataSyncConfig
from datasync.engine import ledger_upgrade
from datasync.engine.columnmap import aliases, target_schema
from datasync.engine.sync import build_fetcher
from datasync.targets.base import LEDGER_TABLE, Target
from datasync.targets.catalog import Difference, compare


def check_ledger(target: Target, zone: ZoneInfo) -> list[Difference]:
    existing = target.describe_table(LEDGER_TABLE)
    if existing is None:
        return [Difference(LEDGER_TABLE, "note", "missing: init-db (or the first sync) creates it")]
    problems = ledger_upgrade.shape_problems(existing, target.catalog_rules)
    if problems:
        return [Difference(LEDGER_TABLE, "error", f"cannot be upgraded: {p}") for p in problems]
    todo = ledger_upgrade.plan(target, existing)
    return [Difference(LEDGER_TABLE, "note", f"upgrade: {step}") for step in todo.describe(zone)]


def check_tables(config: DataSyncConfig, target: Target) -> list[Difference]:
    out = []
    for ds in config.data_sources:
        fetched = build_fetcher(config, ds).schema()
        schema = target_schema(fetched, ds)
        existing = target.describe_table(schema.name)
        if existing is None:
            out.append(Difference(schema.name, "note", "missing: init-db (or the first sync) creates it"))
            continue
        out += compare(schema, target.column_types(schema), existing, target.catalog_rules, aliases(fetched, schema))
    return out


def check_target(config: DataSyncConfig, target: Target) -> list[Difference]:
    """Every difference of DataUpdate and the configured tables, DataUpdate first."""
    return check_ledger(target, config.ledger_zone) + check_tables(config, target)
