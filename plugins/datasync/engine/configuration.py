"""The configuration as the engine accepts it: the models' checks plus the registries'.

FetcherTypeName and PostProcessorTypeName must name registered plugins. The
config layer cannot know the registries (they are configured by it), so the
complete check lives here and is what the CLI and the DAG factory call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from datasync import config as cfg
from datasync.config import DataSyncConfig, Layered
from datasync.fetchers.registry import is_known_fetcher, known_fetchers
from datasync.engine.postprocessors import is_known_post_processor, known_post_processors


def _registry_problems(
    raw: dict[str, Any], field: str, what: str, is_known: Callable[[str], bool], known: Callable[[], list[str]]
) -> list[str]:
    """Entries whose ``field`` (PascalCase, or snake_case) names nothing registered.

    ``is_known`` answers a built-in name without reading the installed packages' entry points
    (~20 ms); ``known``, the full list for the message, is asked only when a name is wrong.
    """
    from pydantic.alias_generators import to_snake

    problems = []
    for entry in cfg.entries(raw):
        name = entry.get(field, entry.get(to_snake(field)))
        if isinstance(name, str) and not is_known(name):
            table = entry.get("TableName", entry.get("table_name"))
            problems.append(
                f"table {table}, field {field}: unknown {what} {name!r}; known: {', '.join(known()) or '(none registered)'}"
            )
    return problems


def fetcher_problems(raw: dict[str, Any]) -> list[str]:
    return _registry_problems(raw, "FetcherTypeName", "fetcher", is_known_fetcher, known_fetchers)


def post_processor_problems(raw: dict[str, Any]) -> list[str]:
    return _registry_problems(
        raw, "PostProcessorTypeName", "post-processor", is_known_post_processor, known_post_processors
    )


def schema_problems(raw: dict[str, Any]) -> list[str]:
    """ColumnDecimals and Columns checked against the fetcher's declared columns (entries otherwise valid)."""
    from pydantic import ValidationError

    from datasync.config import DataSourceConfig, SourceSystemConfig
    from datasync.core.errors import ConfigError
    from datasync.engine.columnmap import target_schema
    from datasync.fetchers.registry import fetcher_class

    problems = []
    for entry in cfg.entries(raw):
        name = entry.get("FetcherTypeName")
        declares = entry.get("Columns") or entry.get("ColumnDecimals")
        if not declares or not isinstance(name, str) or not is_known_fetcher(name):
            continue  # nothing to check here; an unknown name is fetcher_problems' to report
        try:
            table = DataSourceConfig.model_validate(entry)
        except ValidationError:
            continue  # reported by the model check
        fetcher = fetcher_class(table.fetcher_type_name)(table, SourceSystemConfig(conn_id="-"), None, 1)
        try:
            target_schema(fetcher.schema(), table)
        except ConfigError as exc:
            problems += exc.problems
    return problems


REGISTRY_CHECKS: tuple[cfg.Check, ...] = (fetcher_problems, post_processor_problems, schema_problems)


def config_problems(raw: dict[str, Any] | Layered, path: str | None = None) -> list[str]:
    return cfg.config_problems(raw, REGISTRY_CHECKS, path)


def parse_config(raw: dict[str, Any] | Layered, path: str | None = None) -> DataSyncConfig:
    return cfg.parse_config(raw, path, REGISTRY_CHECKS)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> DataSyncConfig:
    return cfg.load_config(path, REGISTRY_CHECKS, environ)
