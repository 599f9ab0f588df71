"""Every fetcher's source query as each source dialect renders it, parsed without a server.

The queries come from include/sql/fetchers/ rendered through the real readers'
quoting and placeholders (and include/sql/fetchers/dialect/ for what a database
spells differently). Each is parsed twice:

- sqlglot's tsql and oracle readers (ErrorLevel.RAISE): the structure, on the
  parse tree (every identifier quoted, the schema, NOLOCK hints, the pushed-down
  Julian bound, Oracle's bind names, no comparison with '' on Oracle);
- sqlfluff's tsql and oracle dialects: strict grammar, no unparsable segment.

T-SQL is parsed as pymssql sends it: after its own client-side substitution of
the parameters (datasync.sources.mssql.server_value first), as the target's T-SQL
is in tests/test_tsql.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlglot
from pymssql import _mssql
from source_fetch import FETCHERS
from source_fetch import build as build_fetcher
from sqlfluff.core import Linter
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from datasync.core.errors import ConfigError
from datasync.fetchers.base import Fetcher
from datasync.sources import SqliteSourceReader
from datasync.sources.mssql import MssqlSourceReader, server_value
from datasync.sources.oracle import OracleSourceReader

PARAMS = {"min_julian": 124060, "minimum_dt": datetime(2024, 2, 29, 9, 30, 15)}
LINTERS = {"tsql": Linter(dialect="tsql"), "oracle": Linter(dialect="oracle")}


def build(reader: Any, fetcher: str, schema: str | None = None, read_uncommitted: bool = False) -> Fetcher:
    return build_fetcher(reader, fetcher, 1000, schema, ReadUncommitted=read_uncommitted)


def as_pymssql_sends(sql: str) -> str:
    """The statement after pymssql's own substitution of the parameters (what SQL Server receives)."""
    return _mssql.substitute_params(sql, {k: server_value(v) for k, v in PARAMS.items()}, True, "utf-8").decode()


def strict_parse(sql: str, dialect: str) -> exp.Select:
    tree = sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
    assert isinstance(tree, exp.Select), f"{dialect}: not read as a SELECT: {sql}"
    parsed = LINTERS[dialect].parse_string(sql)
    assert not parsed.violations, f"{dialect}: {parsed.violations} in {sql}"
    unparsable = [seg.raw for seg in parsed.tree.recursive_crawl("unparsable")]
    assert not unparsable, f"{dialect}: sqlfluff cannot parse {unparsable} in {sql}"
    return tree


def cases(dialect: str) -> list[Any]:
    nolock = (False, True) if dialect == "tsql" else (False,)
    return [
        pytest.param(f, inc, schema, ru, id=f"{f}-{'daily' if inc else 'mass'}-{schema or 'noschema'}{'-nolock' if ru else ''}")
        for f in FETCHERS
        for inc in (False, True)
        for schema in (None, "PRODDTA")
        for ru in nolock
    ]


def check_common(tree: exp.Select, fetcher: Fetcher, schema: str | None, incremental: bool) -> exp.Table:
    assert [c.name for c in tree.expressions] == fetcher.source_columns()  # type: ignore[attr-defined]
    identifiers = list(tree.find_all(exp.Identifier))
    assert identifiers and all(i.quoted for i in identifiers), [i.sql() for i in identifiers if not i.quoted]
    (table,) = tree.find_all(exp.Table)
    assert table.name == (getattr(fetcher, "physical_table", None) or "MIS_DATA")
    assert table.db == (schema or "")
    assert (tree.args.get("where") is not None) == (incremental or fetcher.type_name == "JdeLotUsageFetcher")
    return table


def bound(tree: exp.Select) -> exp.GTE | None:
    """The pushed-down change filter: ``audit column >= value``."""
    return next(iter(tree.find_all(exp.GTE)), None)


@pytest.mark.parametrize("fetcher_name, incremental, schema, read_uncommitted", cases("tsql"))
def test_tsql_source_queries_parse(fetcher_name: str, incremental: bool, schema: str | None, read_uncommitted: bool) -> None:
    fetcher = build(MssqlSourceReader(None), fetcher_name, schema, read_uncommitted)
    sql = as_pymssql_sends(fetcher.sql(incremental))  # type: ignore[attr-defined]
    tree = strict_parse(sql, "tsql")
    table = check_common(tree, fetcher, schema, incremental)
    hints = [h.sql("tsql") for h in table.args.get("hints") or []]
    assert hints == (["WITH (NOLOCK)"] if read_uncommitted else [])
    gte = bound(tree)
    if not incremental:
        assert gte is None
    elif fetcher_name.startswith("Cms"):
        assert (gte.this.name, gte.expression.name) == ("LastModified", "2024-02-29T09:30:15.000")
    else:
        audit = fetcher.physical(fetcher.audit_date)  # type: ignore[attr-defined]
        assert (gte.this.name, gte.expression.is_number, gte.expression.name) == (audit, True, "124060")


@pytest.mark.parametrize("fetcher_name, incremental, schema, read_uncommitted", cases("oracle"))
def test_oracle_source_queries_parse(fetcher_name: str, incremental: bool, schema: str | None, read_uncommitted: bool) -> None:
    fetcher = build(OracleSourceReader(None), fetcher_name, schema)
    sql = fetcher.sql(incremental)  # type: ignore[attr-defined]
    tree = strict_parse(sql, "oracle")
    check_common(tree, fetcher, schema, incremental)
    placeholders = {p.name for p in tree.find_all(exp.Placeholder)}
    assert placeholders == ({"minimum_dt" if fetcher_name.startswith("Cms") else "min_julian"} if incremental else set())
    empty = [c.sql("oracle") for c in tree.find_all(exp.EQ, exp.NEQ) if any(
        isinstance(side, exp.Literal) and side.is_string and side.name == "" for side in (c.this, c.expression))]
    assert not empty, f"'' is NULL in Oracle: {empty}"  # fmt: skip


def test_blank_lots_are_skipped_the_way_each_dialect_can() -> None:
    sqlite = build(SqliteSourceReader("unused.db"), "JdeLotUsageFetcher").sql(False)
    mssql = build(MssqlSourceReader(None), "JdeLotUsageFetcher").sql(False)
    oracle = build(OracleSourceReader(None), "JdeLotUsageFetcher").sql(False)
    assert """WHERE RTRIM("ILLOTN") <> ''""" in sqlite
    assert "WHERE RTRIM([ILLOTN]) <> ''" in mssql
    assert 'WHERE RTRIM("ILLOTN") IS NOT NULL' in oracle


def test_incremental_conditions_are_joined_one_per_line() -> None:
    sql = build(OracleSourceReader(None), "JdeLotUsageFetcher", "PRODDTA").sql(True)
    assert sql.splitlines()[-2:] == ['WHERE RTRIM("ILLOTN") IS NOT NULL', '  AND "ILCRDJ" >= :min_julian']


@pytest.mark.parametrize("reader", [OracleSourceReader(None), SqliteSourceReader("unused.db")], ids=["oracle", "sqlite"])
def test_read_uncommitted_where_a_reader_cannot_is_a_config_error(reader: Any) -> None:
    fetcher = build(reader, "JdeWorkOrderFetcher", read_uncommitted=True)
    with pytest.raises(ConfigError) as err:
        fetcher.sql(False)  # type: ignore[attr-defined]
    message = str(err.value)
    assert "SourceSystems.JDE.ReadUncommitted" in message and "datasync_jde" in message and reader.dialect in message


@pytest.mark.parametrize(
    "sql, dialect",
    [
        ("SELECT [A] FROM [X] WITH NOLOCK) WHERE [B] >= 1", "tsql"),
        ('SELECT "A" FROM "X" WHERE "B" >= %(min_julian)s', "oracle"),
        ("SELECT [A] FROM [X] WHERE [B] >= %(min_julian)s", "tsql"),  # not substituted: never sent like this
    ],
)
def test_the_strict_parse_rejects_broken_statements(sql: str, dialect: str) -> None:
    with pytest.raises((AssertionError, sqlglot.errors.ParseError)):
        strict_parse(sql, dialect)
