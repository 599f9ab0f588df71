"""The DataSync section read the way .NET's configuration reads an appsettings.json.

An existing .NET service's configuration must work unchanged, so this follows
Microsoft.Extensions.Configuration (the default host builder):

- Sources, later ones winning: the file (``appsettings.json``), its environment
  overlay next to it (``appsettings.{Environment}.json``; Environment from
  DOTNET_ENVIRONMENT, else ASPNETCORE_ENVIRONMENT, else ``Production``: the
  order of .NET 7+ hosts), then environment variables (``DataSync__BatchSize=5``,
  ``DataSync__DataSources__0__IsEnabled=false``; ``__`` or ``:`` separate keys).
  YAML files get their overlay the same way (``datasync.Production.yaml``).
- Keys are case-insensitive at every level (``dataSync``, ``maxDegreeOfParallelism``);
  snake_case keys keep working. Field names are brought to one spelling per
  model here, so a snake_case file and a PascalCase variable override the same
  field; map keys (SourceSystems, ColumnDecimals, Columns) compare case-blind and
  keep the first spelling.
- Arrays merge by index, as .NET's flattened keys do: an overlay's
  ``DataSources[0]`` changes the first table, its other tables stay; an index one
  past the end adds a table; a gap is an error (.NET would silently renumber).

Every leaf value remembers where it came from (``Origin``): check-config shows it,
and an error caused by an overlay or a variable names that source.
"""

from __future__ import annotations

import functools
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel

SECTION_NAMES = ("datasync", "data_sync")
ENVIRONMENT_VARIABLES = ("DOTNET_ENVIRONMENT", "ASPNETCORE_ENVIRONMENT")
DEFAULT_ENVIRONMENT = "Production"

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Origin:
    """Where one effective value came from."""

    kind: Literal["file", "overlay", "environment", "default"]
    where: str = ""  # the file, or the environment variable

    def __str__(self) -> str:
        if self.kind == "environment":
            return f"environment variable {self.where}"
        return f"{self.kind} {self.where}".strip()


DEFAULT = Origin("default")


@dataclass(frozen=True)
class Sourced:
    """A leaf value with its own origin (environment variables: one origin per value)."""

    value: Any
    origin: Origin


class Indexed(dict):
    """List items by index from environment variables (``DataSources__0__IsEnabled``)."""


@dataclass
class Layered:
    """The merged section, the origin of each leaf, and problems found while merging."""

    raw: dict[str, Any] = field(default_factory=dict)
    #: keyed by ``normalized(path)``: keys compare case-blind, as they do everywhere else
    origins: dict[Path_, Origin] = field(default_factory=dict)
    #: (path, message): problems found while merging, placed by datasync.config.loading
    problems: list[tuple[Path_, str]] = field(default_factory=list)
    _by_prefix: dict[Path_, Origin] | None = field(default=None, repr=False)

    def origin(self, path: Path_) -> Origin | None:
        """The origin of ``path``, or of the values below it (the first recorded among them)."""
        if self._by_prefix is None:
            self._by_prefix = {}
            for p, o in self.origins.items():
                for n in range(len(p), -1, -1):
                    self._by_prefix.setdefault(p[:n], o)
        path = normalized(path)
        return self.origins.get(path) or self._by_prefix.get(path)

    def record(self, path: Path_, origin: Origin) -> None:
        self.origins[normalized(path)] = origin
        self._by_prefix = None


def normalized(path: Path_) -> Path_:
    return tuple(p.lower() if isinstance(p, str) else p for p in path)


# ----------------------------------------------------------------------------- sections and sources


def find_section(document: Mapping[str, Any]) -> tuple[bool, Any]:
    """(found, section): the DataSync section of a document, its key matched case-insensitively."""
    for key, value in document.items():
        if str(key).lower() in SECTION_NAMES:
            return True, value
    return False, document


def environment_name(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    for var in ENVIRONMENT_VARIABLES:
        if env.get(var, "").strip():
            return env[var].strip()
    return DEFAULT_ENVIRONMENT


def overlay_path(path: Path, environment: str) -> Path:
    """``appsettings.json`` -> ``appsettings.Production.json`` (next to it)."""
    return path.with_name(f"{path.stem}.{environment}{path.suffix}")


def environment_tree(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``DataSync__…`` variables as a nested section whose leaves carry their variable's name."""
    env = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    for name, value in sorted(env.items()):
        parts = name.replace(":", "__").split("__")
        if len(parts) < 2 or parts[0].lower() not in SECTION_NAMES or not all(parts[1:]):
            continue
        node = tree
        for part in parts[1:-1]:
            part = _find_key(node, part)  # names differing only in case are one key
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[_find_key(node, parts[-1])] = Sourced(value, Origin("environment", name))
    return tree


# ----------------------------------------------------------------------------- one spelling per key


@functools.lru_cache(maxsize=None)
def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@functools.lru_cache(maxsize=None)
def _key_spellings(model: type[BaseModel]) -> dict[str, tuple[str, Any]]:
    """Every accepted spelling of every field, lower-cased -> (canonical key, annotation)."""
    out: dict[str, tuple[str, Any]] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        choices = [c for c in alias.choices if isinstance(c, str)] if isinstance(alias, AliasChoices) else []
        if isinstance(alias, str):
            choices = [alias]
        canonical = choices[0] if choices else name
        for spelling in (*choices, name):
            out.setdefault(spelling.lower(), (canonical, info.annotation))
    return out


def spellings_by_field_name(model: type[BaseModel], out: dict[str, str] | None = None) -> dict[str, str]:
    """Every field name of ``model`` and the models inside it -> its canonical spelling."""
    out = {} if out is None else out
    for name, info in model.model_fields.items():
        out.setdefault(name, _key_spellings(model)[name.lower()][0])
        annotation = _unwrap(info.annotation)
        for inner in (annotation, *typing.get_args(annotation)):
            inner = _unwrap(inner)
            if _is_model(inner) and inner is not model:
                spellings_by_field_name(inner, out)
    return out


def canonical(value: Any, annotation: Any, path: Path_, problems: list[tuple[Path_, str]]) -> Any:
    """``value`` with every field key in its model's spelling (unknown keys kept, for the model to reject)."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if _is_model(annotation) and isinstance(value, dict):
        spellings = _key_spellings(annotation)
        out: dict[str, Any] = {}
        given: dict[str, str] = {}
        for key, item in value.items():
            key_s = str(key)
            canonical_key, field_type = spellings.get(key_s.lower(), (key_s, Any))
            if canonical_key in given:
                problems.append((path + (canonical_key,), f"given twice ({given[canonical_key]}, {key_s})"))
                continue
            given[canonical_key] = key_s
            out[canonical_key] = canonical(item, field_type, path + (canonical_key,), problems)
        return out
    if origin is list and isinstance(value, (list, dict)):
        (item_type,) = typing.get_args(annotation) or (Any,)
        if isinstance(value, list):
            return [canonical(v, item_type, path + (i,), problems) for i, v in enumerate(value)]
        if all(str(k).isdigit() for k in value):
            return Indexed({int(k): canonical(v, item_type, path + (int(k),), problems) for k, v in value.items()})
        return value
    if origin is dict and isinstance(value, dict):
        _, item_type = typing.get_args(annotation) or (str, Any)
        out = {}
        spelled: dict[str, str] = {}
        for key, item in value.items():
            key_s = str(key)
            first = spelled.get(key_s.lower())
            if first is not None:
                problems.append((path, f"{first} and {key_s} are the same key (keys are case-insensitive)"))
                continue
            spelled[key_s.lower()] = key_s
            out[key_s] = canonical(item, item_type, path + (key_s,), problems)
        return out
    return value


# ----------------------------------------------------------------------------- merging


def _find_key(mapping: dict[str, Any], key: str) -> str:
    """``key`` as ``mapping`` spells it (case-blind), else ``key``."""
    if key in mapping:
        return key
    return next((k for k in mapping if k.lower() == key.lower()), key)


def merge(base: Any, over: Any, origin: Origin, path: Path_, result: Layered) -> Any:
    """``over`` laid onto ``base`` the .NET way; records the origin of every leaf ``over`` sets."""
    if isinstance(over, Sourced):
        origin, over = over.origin, over.value
    if isinstance(over, Indexed):
        items = list(base) if isinstance(base, list) else []
        for index in sorted(over):
            if index < len(items):
                items[index] = merge(items[index], over[index], origin, path + (index,), result)
            elif index == len(items):
                items.append(merge(None, over[index], origin, path + (index,), result))
            else:
                result.problems.append(
                    (
                        path + (index,),
                        f"index {index} leaves a gap after the {len(items)} item(s) configured "
                        f"({_origin_text(over[index], origin)})",
                    )
                )
        return items
    if isinstance(over, dict):
        merged = dict(base) if isinstance(base, dict) else {}
        for key, value in over.items():
            key = _find_key(merged, key)
            merged[key] = merge(merged.get(key), value, origin, path + (key,), result)
        if not over and path:  # an empty mapping or list is a value too (not an empty source)
            result.record(path, origin)
        return merged
    if isinstance(over, list):
        items = list(base) if isinstance(base, list) else []
        for index, value in enumerate(over):
            if index < len(items):
                items[index] = merge(items[index], value, origin, path + (index,), result)
            else:
                items.append(merge(None, value, origin, path + (index,), result))
        if not over and path:  # an empty mapping or list is a value too (not an empty source)
            result.record(path, origin)
        return items
    if over is None and isinstance(base, (dict, list)):
        return base  # .NET: a null does not remove the values below a key
    result.record(path, origin)
    return over


def _origin_text(value: Any, origin: Origin) -> str:
    while isinstance(value, dict) and value:
        value = next(iter(value.values()))
    return str(value.origin if isinstance(value, Sourced) else origin)


def layer(sources: list[tuple[dict[str, Any], Origin]], model: type[BaseModel]) -> Layered:
    """Merge ``(section, origin)`` sources, later ones winning, into one section with origins."""
    result = Layered()
    merged: dict[str, Any] = {}
    for section, origin in sources:
        merged = merge(merged, canonical(section, model, (), result.problems), origin, (), result)
    result.raw = merged
    return result
