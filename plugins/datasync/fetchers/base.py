"""The fetcher contract: declare a target schema, stream Arrow record batches.

``fetch(minimum_dt)`` never holds the table in memory: it reads the source in
batches of BatchSize rows and converts each batch with Arrow compute kernels.
``None`` means a full fetch. Every batch conforms to ``schema().arrow_schema()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pyarrow as pa

from datasync.core.schema import TableSchema

if TYPE_CHECKING:
    from datasync.config import DataSourceConfig, SourceSystemConfig


class SourceReader(Protocol):
    """An open source connection that runs a query and yields raw Arrow batches."""

    dialect: str  # 'sqlite', 'postgres', 'odbc'

    def placeholder(self, name: str) -> str:
        """The driver's placeholder for bound value ``name`` in query text."""

    def quote(self, name: str) -> str:
        """The source's quoting of a validated identifier (table, column, schema)."""

    def read(
        self,
        sql: str,
        params: dict[str, Any],
        batch_size: int,
        schema: pa.Schema | None = None,
        *,
        table: str = "source",
        key_columns: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """Run ``sql`` and yield batches of at most ``batch_size`` rows (columns in ``schema`` cast to it).

        ``table`` and ``key_columns`` only name the source table and row in error messages.
        """

    def close(self) -> None: ...


class Fetcher(ABC):
    """Base of every fetcher; subclasses register with ``@register``."""

    type_name: ClassVar[str]
    source_system: ClassVar[str] = "JDE"

    def __init__(
        self,
        table: DataSourceConfig,
        source: SourceSystemConfig,
        reader: SourceReader | None = None,
        batch_size: int = 1_000_000,
    ):
        self.table = table
        self.source = source
        self.reader = reader
        self.batch_size = batch_size

    def require_reader(self) -> SourceReader:
        if self.reader is None:
            from datasync.core.errors import ConfigError

            raise ConfigError([f"{self.type_name} for table {self.table.table_name} has no source reader"])
        return self.reader

    def render_select(self, **params: Any) -> str:
        """Macro ``select`` of include/sql/fetchers/<type_name>.sql, with the reader's quoting and placeholders."""
        from datasync.core.sqltemplates import SqlTemplates

        reader = self.require_reader()
        templates = SqlTemplates("fetchers", reader.quote, reader.placeholder)
        return templates.render(self.type_name, "select", schema=self.source.schema_name, **params)

    @abstractmethod
    def schema(self) -> TableSchema:
        """The target table this fetcher fills (name = the configured TableName)."""

    @abstractmethod
    def fetch(self, minimum_dt: datetime | None) -> Iterator[pa.RecordBatch]:
        """Stream rows changed at or after ``minimum_dt`` (source local time, naive); None = all."""
