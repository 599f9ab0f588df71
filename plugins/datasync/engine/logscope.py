"""The log scope of a sync: every line logged during it carries TableName, UpdateType, OperationId.

The seed opened a logger scope per operation; here the three fields live in a
context variable for the duration of the sync. Two consumers read them:

- stdlib logging: a record factory (installed once, chaining the previous
  one) sets them as attributes of every record created in the scope, whatever
  the logger (engine, targets, fetchers, drivers), so any handler or
  ``%(TableName)s`` format sees them; ``ScopeFormatter`` appends them to a
  plain line (the CLI).
- structlog (Airflow 3 task logs): when structlog is loaded the fields are
  also bound as its context variables, which Airflow's processors merge into
  every task log line, stdlib ones included. structlog is never imported here.

Threads do not inherit context variables: code that hands work to a thread
runs it in ``contextvars.copy_context()`` (see engine.prefetch).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("TableName", "UpdateType", "OperationId")

_scope: ContextVar[dict[str, str] | None] = ContextVar("datasync_log_scope", default=None)
_installed: list[bool] = []  # the record factory is process-wide, installed once


def current() -> dict[str, str]:
    """The fields of the scope this code runs in (empty outside a sync)."""
    return dict(_scope.get() or {})


@contextmanager
def sync_scope(table: str, update_type: str, operation_id: str) -> Iterator[dict[str, str]]:
    """Bind the three fields for the ``with`` block (nested scopes replace them, then restore)."""
    fields = {"TableName": table, "UpdateType": str(update_type), "OperationId": operation_id}
    install()
    token = _scope.set(fields)
    structlog_tokens = _bind_structlog(fields)
    try:
        yield fields
    finally:
        if structlog_tokens is not None:
            sys.modules["structlog.contextvars"].reset_contextvars(**structlog_tokens)
        _scope.reset(token)


def install() -> None:
    """Wrap the log record factory so records carry the scope's fields (idempotent)."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        fields = _scope.get()
        if fields:
            for key, value in fields.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return record

    logging.setLogRecordFactory(factory)
    _installed.append(True)


def _bind_structlog(fields: dict[str, str]) -> dict | None:
    module = sys.modules.get("structlog.contextvars")
    if module is None:
        return None
    return module.bind_contextvars(**fields)


class ScopeFormatter(logging.Formatter):
    """A plain formatter that appends ``TableName=… UpdateType=… OperationId=…`` when a record has them."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        values = [f"{key}={getattr(record, key)}" for key in FIELDS if getattr(record, key, None)]
        return f"{line} [{' '.join(values)}]" if values else line
