"""Post-processors: optional work after a successful sync (the seed's PostProcessorTypeName).

Registered by name like fetchers; other packages add theirs through the
``datasync.postprocessors`` entry-point group. A post-processor runs on the
sync's own target connection after the data is committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from datasync.core.entrypoints import plugin_entry_points
from datasync.core.errors import ConfigError

if TYPE_CHECKING:
    from datasync.config import DataSourceConfig
    from datasync.engine.sync import SyncResult
    from datasync.targets.base import Target

_REGISTRY: dict[str, type[PostProcessor]] = {}


class PostProcessor(ABC):
    type_name: ClassVar[str]

    @abstractmethod
    def run(self, target: Target, table: DataSourceConfig, result: SyncResult) -> None:
        """Do the follow-up work; raise to report a failure."""


def register_post_processor(cls: type[PostProcessor]) -> type[PostProcessor]:
    cls.type_name = cls.__dict__.get("type_name") or cls.__name__
    _REGISTRY[cls.type_name] = cls
    return cls


def known_post_processors() -> list[str]:
    for ep in plugin_entry_points("datasync.postprocessors"):
        if ep.name not in _REGISTRY:
            register_post_processor(ep.load())
    return sorted(_REGISTRY)


def is_known_post_processor(name: str) -> bool:
    """Whether ``name`` is a post-processor; the metadata is read only for a name not registered yet."""
    return name in _REGISTRY or name in known_post_processors()


def post_processor(name: str) -> PostProcessor:
    if not is_known_post_processor(name):
        raise ConfigError([f"unknown post-processor {name!r}; known: {', '.join(known_post_processors())}"])
    return _REGISTRY[name]()
