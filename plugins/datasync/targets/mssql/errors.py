"""pymssql errors in datasync's terms: transient (retry), duplicate key, or neither."""

from __future__ import annotations

#: Server and client error numbers worth a retry: deadlock victim, lock request timeout, the
#: DB-Library connection errors (timeout, dead or refused connection, write/read failure),
#: transport errors, and the Azure SQL "service busy / database unavailable" family.
_TRANSIENT_ERRORS = frozenset(
    {1205, 1222, 233, 10053, 10054, 10060, 20003, 20004, 20006, 20009, 20017, 20047,
     40197, 40501, 40613, 49918, 49919, 49920}
)


def _is_driver_error(exc: BaseException) -> bool:
    import pymssql
    from pymssql import _mssql

    return isinstance(exc, pymssql.Error | _mssql.MSSQLException)


def error_number(exc: BaseException) -> int | None:
    """SQL Server / DB-Library error number of a pymssql error (bulk copy raises the _mssql one)."""
    number = getattr(exc, "number", None)
    if isinstance(number, int) and number:
        return number
    first = exc.args[0] if exc.args else None
    if isinstance(first, tuple) and first and isinstance(first[0], int):
        return first[0]
    return first if isinstance(first, int) else None


def is_transient(exc: BaseException) -> bool:
    """Deadlock, lock timeout, a lost or refused connection: worth a retry."""
    if not _is_driver_error(exc):
        return False
    if error_number(exc) in _TRANSIENT_ERRORS:
        return True
    text = str(exc)
    return "DBPROCESS is dead" in text or "Adaptive Server connection failed" in text


def is_duplicate_key(exc: BaseException) -> bool:
    """2627: PRIMARY KEY / UNIQUE constraint violated; 2601: duplicate key in a unique index."""
    return _is_driver_error(exc) and error_number(exc) in (2627, 2601)
