"""Reading the DataSync section from JSON or YAML and collecting every problem at once.

``config_problems`` names file, table and field of each problem, so an operator
fixes a config in one pass. Checks that need the registries (fetcher and
post-processor names) live above this layer and are passed in as ``checks``
(datasync.engine.configuration does), so the config never imports the plugins
that are configured by it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from datasync.config.model import DataSyncConfig
from datasync.core.errors import ConfigError

DEFAULT_CONFIG_PATH = "include/datasync.yaml"
#: a check of the raw section beyond the models: returns problems, each naming table and field
Check = Callable[[dict[str, Any]], list[str]]

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~20x faster, same safe subset


def read_section(path: str | Path) -> dict[str, Any]:
    """Read the ``DataSync`` section of a JSON or YAML file (the whole file if it has none)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError([f"cannot read config: {exc.strerror or exc}"], str(p)) from None
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.load(text, Loader=_YAML_LOADER)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError([f"malformed {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {exc}"], str(p)) from None
    if not isinstance(data, dict):
        raise ConfigError(["top level must be a mapping with a DataSync section"], str(p))
    section = data.get("DataSync", data.get("data_sync", data))
    if not isinstance(section, dict):
        raise ConfigError(["DataSync section must be a mapping"], str(p))
    return section


def _location(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic error location into 'table WorkOrder_Curr, field MassConfig.IntervalMinutes'."""
    parts = list(loc)
    if len(parts) >= 2 and parts[0] in ("DataSources", "data_sources") and isinstance(parts[1], int):
        entries = raw.get("DataSources", raw.get("data_sources")) or []
        entry = entries[parts[1]] if parts[1] < len(entries) else {}
        name = entry.get("TableName", entry.get("table_name")) if isinstance(entry, dict) else None
        table = f"table {name}" if name else f"DataSources[{parts[1]}]"
        field = ".".join(str(p) for p in parts[2:])
        return f"{table}, field {field}" if field else table
    return "field " + ".".join(str(p) for p in parts) if parts else "DataSync"


def config_problems(raw: dict[str, Any], checks: Iterable[Check] = ()) -> list[str]:
    """Every problem in a raw section, each naming table and field; empty if valid."""
    problems: list[str] = []
    try:
        DataSyncConfig.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_location(tuple(err['loc']), raw)}: {msg}")
    # checks on the raw entries, so that one bad field does not hide the others
    for problem in _duplicate_problems(raw) + [p for check in checks for p in check(raw)]:
        if problem not in problems:
            problems.append(problem)
    return problems


def entries(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The DataSources entries of a raw section that are mappings."""
    entries = raw.get("DataSources", raw.get("data_sources")) or []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _duplicate_problems(raw: dict[str, Any]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for entry in entries(raw):
        name = entry.get("TableName", entry.get("table_name"))
        if isinstance(name, str):
            if name.lower() in seen:
                problems.append(f"DataSync: DataSources: duplicate TableName {name!r}")
            seen.add(name.lower())
    return problems


def parse_config(raw: dict[str, Any], path: str | None = None, checks: Iterable[Check] = ()) -> DataSyncConfig:
    problems = config_problems(raw, checks)
    if problems:
        raise ConfigError(problems, path)
    return DataSyncConfig.model_validate(raw)


def config_path(path: str | Path | None = None) -> Path:
    """``path``, else $DATASYNC_CONFIG, else include/datasync.yaml."""
    return Path(path or os.environ.get("DATASYNC_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path | None = None, checks: Iterable[Check] = ()) -> DataSyncConfig:
    """Load and validate the file at ``config_path(path)``."""
    resolved = config_path(path)
    return parse_config(read_section(resolved), str(resolved), checks)
