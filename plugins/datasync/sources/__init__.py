"""Source readers: run a fetcher's query and stream raw Arrow record batches.

One module per source kind (sqlite, postgres, odbc); base holds what they share.
Which reader serves which connection type is datasync.connections.open.
"""

from datasync.sources.base import build_column, rows_to_batch
from datasync.sources.postgres import PostgresSourceReader
from datasync.sources.sqlite import SqliteSourceReader

__all__ = ["PostgresSourceReader", "SqliteSourceReader", "build_column", "rows_to_batch"]
