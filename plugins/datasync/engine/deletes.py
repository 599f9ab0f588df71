"""Delete detection: rows deleted in the source leave the cache too, never by accident.

An incremental sync cannot see a deleted row. When a table's ``DeleteDetection``
is due, the sync also scans the source's keys (only the key columns, converted
by the fetcher's own JDE rules, so a padded key never looks deleted), loads them
into a session temp key table on the target and, inside the transaction that
merges and finishes the ledger row, deletes the target's rows whose key the
source no longer has (an anti-join on the target itself).

The guard: if more than ``MaxDeletePercent`` of the table would go, or the
source returned no key at all while the table has rows, nothing is deleted and
the run fails with the table, the count and the percentage: a source outage or
a wrong connection must never empty the cache. A manual run with
``allow_mass_delete`` lets one such delete through.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import pyarrow as pa

from datasync.config import DataSourceConfig
from datasync.core.errors import PermanentSyncError
from datasync.core.faults import checkpoint
from datasync.core.schema import TableSchema
from datasync.targets.base import Target

log = logging.getLogger(__name__)

#: the fault point inside the delete (datasync.core.faults): rows deleted, transaction open
DELETE_POINT = "delete"
SAMPLE_KEYS = 5


class MassDeleteRefused(PermanentSyncError):
    """Delete detection would delete more of a table than its MaxDeletePercent allows."""


def is_due(table: DataSourceConfig, sync_type: str, last_detection: datetime | None, now: datetime) -> bool:
    """Whether this sync of ``table`` also detects deletes (``last_detection``: the ledger's last one)."""
    age = None if last_detection is None else now - last_detection
    return table.delete_detection.due(sync_type, age)


def load_keys(target: Target, schema: TableSchema, keys: str, batches: Iterable[pa.RecordBatch]) -> int:
    """The source's keys (batches named like ``schema``'s key) into the temp key table ``keys``; the count."""
    keys_schema = schema.keys_only()
    target.create_key_staging(keys_schema, keys)
    names = list(keys_schema.column_names)
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if batch.schema.names != names:
            batch = batch.rename_columns(names)
        target.load_key_batch(keys_schema, keys, batch)
        count += batch.num_rows
    target.index_key_staging(keys_schema, keys)
    return count


def delete_missing(
    target: Target,
    schema: TableSchema,
    keys: str,
    source_keys: int,
    max_percent: float,
    allow_mass_delete: bool,
) -> int:
    """Inside the sync's transaction: delete the rows the source no longer has, or refuse (guard).

    One anti-join in the usual case: the delete itself, whose count the guard then checks (a
    refusal raises, and the transaction rolls the delete back). When the source's key count alone
    shows the guard must refuse (an empty source, an outage), the rows are counted and sampled
    for the message and nothing is deleted at all.
    """
    total = target.count_rows(schema)
    if not total:
        return 0
    allowed = int(total * max_percent / 100)
    empty_source = source_keys == 0
    if not allow_mass_delete and (empty_source or total - source_keys > allowed):
        missing = target.count_missing(schema, keys)
        if empty_source or missing > allowed:
            sample = target.sample_missing(schema, keys, SAMPLE_KEYS)
            raise _refusal(schema, missing, total, max_percent, empty_source, sample, exact=True)
    deleted = target.delete_missing(schema, keys, None if allow_mass_delete else allowed)
    if deleted > allowed and not allow_mass_delete:
        raise _refusal(schema, deleted, total, max_percent, False, [], exact=False)  # rolls the delete back
    checkpoint(DELETE_POINT)
    percent = 100.0 * deleted / total
    if deleted > allowed or (empty_source and deleted):
        log.warning("%s: allow_mass_delete: deleted %d of %d rows (%.1f%%)", schema.name, deleted, total, percent)
    elif deleted:
        log.info("%s: deleted %d row(s) the source no longer has (%.2f%% of %d)", schema.name, deleted, percent, total)
    return deleted


def _refusal(
    schema: TableSchema,
    missing: int,
    total: int,
    max_percent: float,
    empty_source: bool,
    sample: list[tuple],
    exact: bool,
) -> MassDeleteRefused:
    """``exact``: ``missing`` is the count (else a batched delete stopped past the bound: at least that many)."""
    percent = 100.0 * missing / total
    reason = "the source returned no rows at all" if empty_source else f"more than MaxDeletePercent {max_percent:g}%"
    keys = f" First keys: {', '.join(_key_text(r) for r in sample)}." if sample else ""
    return MassDeleteRefused(
        f"table {schema.name}: delete detection would delete {'' if exact else 'at least '}"
        f"{missing} of {total} rows ({percent:.1f}%): {reason}; nothing was deleted.{keys} "
        "If the source really lost these rows, trigger one run with allow_mass_delete"
    )


def _key_text(row: tuple) -> str:
    return "(" + ", ".join(repr(v) for v in row) + ")" if len(row) > 1 else repr(row[0])
