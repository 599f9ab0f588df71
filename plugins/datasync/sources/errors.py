"""Driver errors as the engine's errors: the source changed, try again, or bad data.

Every driver words its errors differently (SQLSTATEs through ODBC, SQL Server
message numbers through pymssql, ORA- and DPY- codes through python-oracledb),
so the one classification reads the message text: a missing column or table is
SchemaDriftError (naming the column where the text does), a lost connection,
deadlock or timeout is TransientSyncError (the task retries), anything else is
SourceDataError.
"""

from __future__ import annotations

import re

from datasync.core.errors import SchemaDriftError, SourceDataError, TransientSyncError

MISSING_COLUMN = ("42S22", "42703", "no such column", "invalid column name", "ORA-00904")
MISSING_TABLE = ("42S02", "42P01", "no such table", "invalid object name", "ORA-00942")
TRANSIENT = (
    "State: 08", "HYT00", "HYT01", "40001", "deadlock", "timeout expired",  # ODBC
    "Could not continue scan with NOLOCK",  # SQL Server 601: pages moved under a NOLOCK scan
    "DBPROCESS is dead", "connection timed out", "Write to the server failed",  # FreeTDS
    "Read from the server failed", "Unable to connect",
    "ORA-00060", "ORA-01555", "ORA-03113", "ORA-03114", "ORA-03135", "ORA-12170", "ORA-12541",  # Oracle
    "DPY-4011", "DPY-6005",  # python-oracledb: connection closed, cannot connect
)  # fmt: skip

_COLUMN_NAME = (
    re.compile(r'column "([^"]+)" does not exist'),  # PostgreSQL
    re.compile(r"invalid column name '([^']+)'", re.IGNORECASE),  # SQL Server
    re.compile(r'no such column: "?([\w.]+)'),  # SQLite
    re.compile(r'"([^"]+)": invalid identifier', re.IGNORECASE),  # Oracle
)


def classify(message: str, table: str, hint: str = "") -> Exception:
    """``message`` (a driver's error text) as SchemaDriftError, TransientSyncError or SourceDataError.

    ``hint`` is appended to schema-drift messages (e.g. how the source spells names).
    """
    text = " ".join(message.split())
    lower = text.lower()
    if any(k.lower() in lower for k in MISSING_COLUMN):
        name = next((m.group(1).split(".")[-1] for p in _COLUMN_NAME if (m := p.search(text))), "?")
        return SchemaDriftError(f"source table {table} has no column {name} ({text}){hint}")
    if any(k.lower() in lower for k in MISSING_TABLE):
        return SchemaDriftError(f"source table {table} does not exist ({text}){hint}")
    if any(k.lower() in lower for k in TRANSIENT):
        return TransientSyncError(f"source {table}: {text}")
    return SourceDataError(f"source {table}: {text}")
