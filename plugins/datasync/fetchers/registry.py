"""Fetchers by type name (the config's FetcherTypeName).

Built-in fetchers register on import of their modules; other packages add
theirs through the ``datasync.fetchers`` entry-point group, so new fetchers
never touch the engine.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from datasync.core.errors import UnknownFetcher

if TYPE_CHECKING:
    from datasync.fetchers.base import Fetcher

_BUILTIN_MODULES = ("datasync.fetchers.jde", "datasync.fetchers.cms")
_REGISTRY: dict[str, type[Fetcher]] = {}


def register(cls: type[Fetcher]) -> type[Fetcher]:
    """Class decorator: make ``cls`` available under its class name."""
    name = cls.__dict__.get("type_name") or cls.__name__  # a subclass never inherits its parent's name
    cls.type_name = name
    _REGISTRY[name] = cls
    return cls


@lru_cache(maxsize=1)
def _load_plugins() -> None:
    """Import the built-in fetchers and the entry-point ones, once per process."""
    for module in _BUILTIN_MODULES:
        import_module(module)
    for ep in entry_points(group="datasync.fetchers"):
        if ep.name not in _REGISTRY:
            register(ep.load())


def _load() -> dict[str, type[Fetcher]]:
    _load_plugins()
    return _REGISTRY


def known_fetchers() -> list[str]:
    return sorted(_load())


def fetcher_class(name: str) -> type[Fetcher]:
    registry = _load()
    try:
        return registry[name]
    except KeyError:
        raise UnknownFetcher(f"unknown fetcher {name!r}; known fetchers: {', '.join(sorted(registry))}") from None
