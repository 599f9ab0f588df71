"""The SQL Server target: the production reporting cache (target, bulk-copy values, driver errors)."""

from datasync.targets.mssql.bulk import bulk_rows
from datasync.targets.mssql.errors import error_number
from datasync.targets.mssql.target import MAX_TEMP_NAME_LENGTH, MssqlTarget, lock_resource, quote_temp

__all__ = ["MAX_TEMP_NAME_LENGTH", "MssqlTarget", "bulk_rows", "error_number", "lock_resource", "quote_temp"]
