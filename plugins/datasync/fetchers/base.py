"""The fetcher contract: declare a target schema, stream Arrow record batches.

``fetch(minimum_dt)`` never holds the table in memory: it reads the source in
batches of BatchSize rows and converts each batch with Arrow compute kernels.
``None`` means a full fetch. Every batch conforms to ``schema().arrow_schema()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from datasync.core.errors import ConfigError
from datasync.core.signatures import accepts
from datasync.core.reading import SourceQuery, SourceReader
from datasync.core.schema import TableSchema, match_columns

__all__ = ["Fetcher", "SourceQuery", "SourceReader"]

if TYPE_CHECKING:
    from datasync.config import DataSourceConfig, SourceSystemConfig


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
            raise ConfigError([f"{self.type_name} for table {self.table.table_name} has no source reader"])
        return self.reader

    def decimal_places(self, defaults: dict[str, int]) -> dict[str, int]:
        """Decimal places per column: the fetcher's ``defaults``, overridden by the table's ColumnDecimals.

        Names match case-insensitively; a name that is not one of ``defaults`` is a config error.
        """
        places = dict(defaults)
        found, unknown = match_columns(self.table.column_decimals, places)
        for given, column in found.items():
            places[column] = self.table.column_decimals[given]
        if unknown:
            raise ConfigError(
                [
                    f"table {self.table.table_name}, field ColumnDecimals: {', '.join(unknown)} "
                    f"{'is not a decimal column' if len(unknown) == 1 else 'are not decimal columns'} "
                    f"of {self.type_name}; its decimal columns: {', '.join(sorted(places)) or '(none)'}"
                ]
            )
        return places

    def render_select(self, **params: Any) -> str:
        """Macro ``select`` of include/sql/fetchers/<type_name>.sql (else a parent fetcher's) in the reader's dialect.

        Quoting and placeholders are the reader's; ``dialect`` in the templates holds the
        macros of include/sql/fetchers/dialect/<reader.dialect>.sql, falling back to ansi.sql;
        ``read_uncommitted`` is the source system's ReadUncommitted.
        """
        templates = self._templates()
        families = [c.__dict__["type_name"] for c in type(self).__mro__ if "type_name" in c.__dict__]
        for family in families:  # a subclass without a file of its own uses its parent's query
            try:
                return templates.render(family, "select", schema=self.source.schema_name, **params)
            except KeyError:
                continue
        raise KeyError(f"no select statement for {self.type_name} in include/sql/fetchers/ ({', '.join(families)})")

    def bounds_query(self, maximum_dt: datetime | None) -> bool:
        """Whether this fetch's query carries the backfill's upper bound: asked for, and ``sql`` takes ``bounded``.

        A subclass's ``sql(incremental)`` override from before the bound keeps working: its query
        reads up to now, and the fetcher's exact filter in Arrow still ends at ``maximum_dt``.
        """
        return maximum_dt is not None and accepts(self.sql, "bounded")  # type: ignore[attr-defined]

    def bounded_sql(self, incremental: bool, bounded: bool) -> str:
        """``self.sql(incremental)``, with ``bounded=True`` only when the query carries the bound."""
        return self.sql(incremental, **({"bounded": True} if bounded else {}))  # type: ignore[attr-defined]

    def render_key_select(self, table: str, columns: list[str]) -> str:
        """The key scan: a plain SELECT of the key columns (include/sql/fetchers/keys.sql), no filter."""
        return self._templates().render("keys", "select", schema=self.source.schema_name, table=table, columns=columns)

    def _templates(self) -> Any:
        from datasync.core.sqltemplates import SqlTemplates

        reader = self.require_reader()
        self._check_read_uncommitted(reader)
        templates = SqlTemplates("fetchers", reader.quote, reader.placeholder)
        templates.env.globals["read_uncommitted"] = self.source.read_uncommitted  # before the modules are made
        templates.env.globals["casts"] = self.source_casts()
        templates.env.globals["dialect"] = templates.macros(
            f"fetchers/dialect/{reader.dialect}.sql", "fetchers/dialect/ansi.sql"
        )
        return templates

    def source_casts(self) -> dict[str, str]:
        """Physical columns the query casts (name → SQL type), so every driver reports their type."""
        return {}

    def _check_read_uncommitted(self, reader: SourceReader) -> None:
        """ReadUncommitted on a source that cannot honour it is a ConfigError, never silently ignored."""
        if self.source.read_uncommitted and not getattr(reader, "reads_uncommitted", False):
            raise ConfigError(
                [
                    f"SourceSystems.{self.table.source_system}.ReadUncommitted: only SQL Server (mssql) sources read "
                    f"uncommitted; connection {self.source.conn_id!r} is read as {reader.dialect!r} "
                    "(Oracle and PostgreSQL readers never wait for writers: leave it off)"
                ]
            )

    @abstractmethod
    def schema(self) -> TableSchema:
        """The target table this fetcher fills (name = the configured TableName)."""

    @abstractmethod
    def fetch(self, minimum_dt: datetime | None, maximum_dt: datetime | None = None) -> Iterator[pa.RecordBatch]:
        """Stream rows changed at or after ``minimum_dt`` (source local time, naive); None = all.

        ``maximum_dt`` (a backfill's interval end) also keeps only rows changed before it.
        """

    def lineage_table(self) -> str | None:
        """The source table this fetcher reads (F4801), for lineage; None when it reads no one table."""
        return None

    def column_sources(self) -> dict[str, tuple[str, ...]]:
        """Target column (the fetcher's name) → the source columns it is made of (DOCO → WADOCO), for lineage."""
        return {}

    def fetch_keys(self) -> Iterator[pa.RecordBatch]:
        """Stream every source row's key, converted as ``fetch`` converts it (delete detection, verify).

        Columns: ``schema().primary_key``, in that order. This default projects a full fetch;
        fetchers with a source query override it with a key-only SELECT.
        """
        keys = list(self.schema().primary_key)
        for batch in self.fetch(None):
            yield batch.select(keys)
