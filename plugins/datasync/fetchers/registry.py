"""Fetchers by type name (the config's FetcherTypeName).

The built-in fetchers are named in a static table (name → module), so checking a
config or running one table imports only the module that table needs. Other
packages add theirs through the ``datasync.fetchers`` entry-point group (names
read from the metadata, a class loaded only when asked for), and any class
decorated with ``@register`` counts once its module is imported, so new fetchers
never touch the engine.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import EntryPoint
from typing import TYPE_CHECKING

from datasync.core.entrypoints import plugin_entry_points
from datasync.core.errors import UnknownFetcher

if TYPE_CHECKING:
    from datasync.fetchers.base import Fetcher

#: every built-in fetcher and the module that registers it (tests/test_registry.py keeps it complete)
BUILTIN: dict[str, str] = {
    "JdeWorkOrderFetcher": "datasync.fetchers.jde",
    "JdeLotUsageFetcher": "datasync.fetchers.jde",
    "JdeItemFetcher": "datasync.fetchers.jde",
    "JdeLotMasterFetcher": "datasync.fetchers.jde",
    "CmsMisDataFetcher": "datasync.fetchers.cms",
}
_REGISTRY: dict[str, type[Fetcher]] = {}


def register(cls: type[Fetcher]) -> type[Fetcher]:
    """Class decorator: make ``cls`` available under its class name."""
    name = cls.__dict__.get("type_name") or cls.__name__  # a subclass never inherits its parent's name
    cls.type_name = name
    _REGISTRY[name] = cls
    return cls


@lru_cache(maxsize=1)
def _plugins() -> dict[str, EntryPoint]:
    """The entry-point fetchers by name (metadata only: nothing is imported), once per process."""
    return {ep.name: ep for ep in plugin_entry_points("datasync.fetchers")}


def known_fetchers() -> list[str]:
    return sorted(set(BUILTIN) | set(_plugins()) | set(_REGISTRY))


def is_known_fetcher(name: str) -> bool:
    """Whether ``name`` is a fetcher; the installed packages' metadata is read only for a name not built in."""
    return name in BUILTIN or name in _REGISTRY or name in _plugins()


def fetcher_class(name: str) -> type[Fetcher]:
    """The class for ``name``, importing only the module that defines it."""
    if name not in _REGISTRY:
        if name in BUILTIN:
            import_module(BUILTIN[name])
        elif name in _plugins():
            register(_plugins()[name].load())
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownFetcher(f"unknown fetcher {name!r}; known fetchers: {', '.join(known_fetchers())}") from None
