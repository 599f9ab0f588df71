"""Reading the DataSync section from JSON or YAML and collecting every problem at once.

JSON is read with pyjson5, so an appsettings.json keeps its ``//`` and ``/* */``
comments and trailing commas, which .NET's JSON configuration provider accepts.
pyjson5 (a maintained C extension) parses a 200-table appsettings.json in under
a millisecond where the pure-Python json5 package needs about two seconds, and
the DAG file reads the config on every parse. JSON5 accepts a little more than
.NET does (single quotes, unquoted keys); nothing .NET accepts is refused.
YAML is read with PyYAML's safe loader.

The file, its environment overlay and ``DataSync__…`` variables are layered as
.NET layers them (datasync.config.layers). ``config_problems`` names file, table
and field of each problem, so an operator fixes a config in one pass. Checks that
need the registries (fetcher and post-processor names) live above this layer and
are passed in as ``checks`` (datasync.engine.configuration does), so the config
never imports the plugins that are configured by it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from datasync.config.layers import (
    Layered,
    Origin,
    environment_name,
    environment_tree,
    find_section,
    layer,
    overlay_path,
    spellings_by_field_name,
)
from datasync.config.model import DataSyncConfig
from datasync.core.errors import ConfigError

DEFAULT_CONFIG_PATH = "include/datasync.yaml"
#: a check of the raw section beyond the models: returns problems, each naming table and field
Check = Callable[[dict[str, Any]], list[str]]


def _line_column(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def read_document(path: str | Path) -> Any:
    """A whole JSON (comments and trailing commas allowed) or YAML file.

    Each parser is imported when its kind of file is read (PyYAML alone takes ~15 ms to import).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError([f"cannot read config: {exc.strerror or exc}"], str(p)) from None
    if p.suffix.lower() == ".json":
        import pyjson5

        try:
            return pyjson5.decode(text)
        except pyjson5.Json5Exception as exc:
            message = str(exc.args[0]) if exc.args else str(exc)
            near = re.search(r"near (\d+)", message)
            where = f" at {_line_column(text, int(near.group(1)))}" if near else ""
            raise ConfigError([f"malformed JSON{where}: {message}"], str(p)) from None
    import yaml

    try:  # libyaml's loader where PyYAML has it: ~20x faster, the same safe subset
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ConfigError([f"malformed YAML: {exc}"], str(p)) from None


def _section(document: Any, path: Path, require: bool) -> dict[str, Any] | None:
    """The DataSync section (the whole document if it has none, unless ``require``)."""
    if document is None and require:
        return None  # an empty overlay adds nothing
    if not isinstance(document, dict):
        raise ConfigError(["top level must be a mapping with a DataSync section"], str(path))
    found, section = find_section(document)
    if not found and require:
        return None
    if not isinstance(section, dict):
        raise ConfigError(["DataSync section must be a mapping"], str(path))
    return section


def read_section(path: str | Path) -> dict[str, Any]:
    """Read the ``DataSync`` section of one JSON or YAML file (the whole file if it has none)."""
    p = Path(path)
    section = _section(read_document(p), p, require=False)
    assert section is not None
    return section


def read_layers(path: str | Path, environ: Mapping[str, str] | None = None) -> Layered:
    """The file, its ``{name}.{Environment}{ext}`` overlay and the ``DataSync__…`` variables, layered."""
    p = Path(path)
    document = read_document(p)
    sectioned = isinstance(document, dict) and find_section(document)[0]
    sources = [(_section(document, p, require=False), Origin("file", str(p)))]
    overlay = overlay_path(p, environment_name(environ))
    if overlay.is_file():
        section = _section(read_document(overlay), overlay, require=sectioned)
        if section is not None:
            sources.append((section, Origin("overlay", str(overlay))))
    sources.append((environment_tree(environ), Origin("environment")))
    return layer(sources, DataSyncConfig)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- problems


_SPELLINGS = spellings_by_field_name(DataSyncConfig)


def _spelled(loc: Iterable[Any]) -> tuple[Any, ...]:
    """An error location in the seed's spelling (a default's location uses the snake_case name)."""
    return tuple(_SPELLINGS.get(p, p) if isinstance(p, str) else p for p in loc)


def _table_index(raw: dict[str, Any], name: str) -> int | None:
    for i, entry in enumerate(raw.get("DataSources") or []):
        if isinstance(entry, dict) and str(entry.get("TableName", "")).lower() == name.lower():
            return i
    return None


def _location(path: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """A path as 'table WorkOrder_Curr, field MassConfig.IntervalMinutes'."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "DataSources" and isinstance(parts[1], int):
        all_entries = raw.get("DataSources") or []
        entry = all_entries[parts[1]] if isinstance(all_entries, list) and parts[1] < len(all_entries) else {}
        name = entry.get("TableName") if isinstance(entry, dict) else None
        table = f"table {name}" if name else f"DataSources[{parts[1]}]"
        field = ".".join(str(p) for p in parts[2:])
        return f"{table}, field {field}" if field else table
    return "field " + ".".join(str(p) for p in parts) if parts else "DataSync"


_PLACED = re.compile(r"^(?:table (?P<table>[^,:]+), )?field (?P<field>[\w.]+):")


def _path_of(problem: str, raw: dict[str, Any]) -> tuple[Any, ...] | None:
    """The config path a 'table X, field F: ...' problem is about."""
    m = _PLACED.match(problem)
    if not m:
        return None
    field = tuple(int(p) if p.isdigit() else p for p in m.group("field").split("."))
    if m.group("table"):
        index = _table_index(raw, m.group("table"))
        return None if index is None else ("DataSources", index, *field)
    return field


def _with_source(problem: str, path: tuple[Any, ...] | None, layered: Layered) -> str:
    """Name the overlay or environment variable a problem's value came from (the file is the header)."""
    while path:
        origin = layered.origin(path)
        if origin is not None:
            return f"{problem} (set by {origin})" if origin.kind in ("overlay", "environment") else problem
        path = path[:-1]
    return problem


def _layered(raw: dict[str, Any] | Layered, path: str | None) -> Layered:
    if isinstance(raw, Layered):
        return raw
    return layer([(raw, Origin("file", path or ""))], DataSyncConfig)  # type: ignore[arg-type]


def config_problems(raw: dict[str, Any] | Layered, checks: Iterable[Check] = (), path: str | None = None) -> list[str]:
    """Every problem in a section (raw, or layered sources), each naming table and field; empty if valid."""
    layered = _layered(raw, path)
    section = layered.raw
    placed: list[tuple[str, tuple[Any, ...] | None]] = [
        (f"{_location(p, section)}: {msg}", p) for p, msg in layered.problems
    ]
    try:
        DataSyncConfig.model_validate(section)
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = _spelled(err["loc"])
            placed.append((f"{_location(loc, section)}: {msg}", loc))
    # checks on the raw entries, so that one bad field does not hide the others
    for problem in _duplicate_problems(section) + [p for check in checks for p in check(section)]:
        placed.append((problem, _path_of(problem, section)))
    problems: list[str] = []
    for problem, at in placed:
        text = _with_source(problem, at, layered)
        if text not in problems:
            problems.append(text)
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


def parse_config(
    raw: dict[str, Any] | Layered, path: str | None = None, checks: Iterable[Check] = ()
) -> DataSyncConfig:
    layered = _layered(raw, path)
    problems = config_problems(layered, checks, path)
    if problems:
        raise ConfigError(problems, path)
    return DataSyncConfig.model_validate(layered.raw)


def config_path(path: str | Path | None = None) -> Path:
    """``path``, else $DATASYNC_CONFIG, else include/datasync.yaml."""
    return Path(path or os.environ.get("DATASYNC_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(
    path: str | Path | None = None, checks: Iterable[Check] = (), environ: Mapping[str, str] | None = None
) -> DataSyncConfig:
    """Load and validate the file at ``config_path(path)`` with its overlay and environment overrides."""
    resolved = config_path(path)
    return parse_config(read_layers(resolved, environ), str(resolved), checks)
