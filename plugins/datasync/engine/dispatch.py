"""One dispatch cycle, the seed's loop step: every table's decision from one read of the ledger.

The Airflow dispatcher and ``datasync run-due`` both start here, so they run
the same (table, type) at the same moment; what "start" means (trigger a DAG
run, run the sync in this process) is the caller's.
"""

from __future__ import annotations

import logging
from datetime import datetime

from datasync.config import DataSyncConfig
from datasync.engine.ledger import Ledger
from datasync.engine.schedule import Decision, plan

log = logging.getLogger(__name__)


def decisions(config: DataSyncConfig, ledger: Ledger, now: datetime) -> list[Decision]:
    """Every enabled table's decision now: runs first (highest type first), then busy and idle tables."""
    out = plan(config, ledger.schedule_facts(), now)
    for d in out:
        (log.info if d.run else log.debug)("dispatch: %s", d.reason)
    return out


def runs(config: DataSyncConfig, ledger: Ledger, now: datetime) -> list[Decision]:
    """Only the decisions that start a sync."""
    return [d for d in decisions(config, ledger, now) if d.run]
