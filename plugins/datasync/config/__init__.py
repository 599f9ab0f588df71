"""The ``DataSync`` configuration: the seed service's section, typed and validated.

An appsettings.json with a ``DataSync`` section works unchanged, read the way .NET
reads it (comments, case-insensitive keys, the environment overlay and
``DataSync__…`` variables); YAML works too. model: the typed section; layers:
the .NET layering and where each value came from; loading: files and every
problem at once; explain: the effective values for check-config. The checks
against the fetcher and post-processor registries are added one layer up, in
datasync.engine.configuration (what the CLI and the DAG file use).
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """Build datasync's own models without Pydantic plugins.

    A plugin observes validation of the user's models; for datasync's section it adds
    nothing, and finding plugins reads every installed package's metadata (~15 ms per
    process, for a CLI command).
    """
    previous = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYDANTIC_DISABLE_PLUGINS"]
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = previous


with _without_pydantic_plugins():
    from datasync.config.loading import (
        DEFAULT_CONFIG_PATH,
        Check,
        config_path,
        config_problems,
        entries,
        load_config,
        parse_config,
        read_layers,
        read_section,
    )
    from datasync.config.layers import Layered, Origin
    from datasync.config.model import (
        AlertConfig,
        DataSourceConfig,
        DataSyncConfig,
        DeleteDetectionConfig,
        ScheduleConfig,
        SourceSystemConfig,
        parse_timespan,
    )
from datasync.core.types import SYNC_TYPES, SyncType

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "SYNC_TYPES",
    "AlertConfig",
    "Check",
    "DataSourceConfig",
    "DataSyncConfig",
    "DeleteDetectionConfig",
    "Layered",
    "Origin",
    "ScheduleConfig",
    "SourceSystemConfig",
    "SyncType",
    "config_path",
    "config_problems",
    "entries",
    "load_config",
    "parse_config",
    "parse_timespan",
    "read_layers",
    "read_section",
]
