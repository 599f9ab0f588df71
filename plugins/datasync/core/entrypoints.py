"""datasync's plugin entry points, read from the installed packages' metadata once per process.

Every lookup of ``importlib.metadata.entry_points(group=...)`` reads the metadata
of every installed distribution (hundreds beside Airflow: about 20 ms each
time); fetchers and post-processors share one read. Nothing is imported here.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

GROUPS = ("datasync.fetchers", "datasync.postprocessors")


@lru_cache(maxsize=1)
def _all() -> dict[str, tuple[EntryPoint, ...]]:
    found = entry_points()
    return {group: tuple(found.select(group=group)) for group in GROUPS}


def plugin_entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of one of datasync's groups (``GROUPS``)."""
    return _all()[group]
