"""Fetcher registry: names are the class's own, never inherited."""

from __future__ import annotations

import pytest
from conftest import table_entry

from datasync.core.errors import UnknownFetcher
from datasync.fetchers.jde import JdeItemFetcher
from datasync.fetchers.registry import fetcher_class, known_fetchers, register


def test_subclass_registers_under_its_own_name():
    @register
    class SiteItemFetcher(JdeItemFetcher):
        """A site's variant of the item fetcher."""

    assert fetcher_class("SiteItemFetcher") is SiteItemFetcher
    assert fetcher_class("JdeItemFetcher") is JdeItemFetcher


def test_unknown_name_lists_known_ones():
    with pytest.raises(UnknownFetcher) as err:
        fetcher_class("JdeNopeFetcher")
    assert "unknown fetcher 'JdeNopeFetcher'; known fetchers: " in str(err.value)
    assert all(name in str(err.value) for name in known_fetchers())


def test_the_static_name_table_lists_exactly_what_the_builtin_modules_register():
    """Config checks resolve names without importing fetchers; the table must match the modules."""
    import importlib

    from datasync.fetchers import registry
    from datasync.fetchers.base import Fetcher

    for module in set(registry.BUILTIN.values()):
        mod = importlib.import_module(module)
        declared = {
            obj.type_name
            for obj in vars(mod).values()
            if isinstance(obj, type) and issubclass(obj, Fetcher) and obj.__module__ == module and "type_name" in obj.__dict__
        }
        assert declared == {n for n, m in registry.BUILTIN.items() if m == module}
    for name in registry.BUILTIN:
        assert fetcher_class(name).type_name == name


def test_a_config_of_builtin_fetchers_is_checked_without_reading_entry_points(monkeypatch):
    """Reading every installed package's metadata costs ~20 ms per command; built-in names need none."""
    from datasync.core import entrypoints
    from datasync.core.errors import ConfigError
    from datasync.engine.configuration import parse_config

    def no_metadata() -> dict:
        raise AssertionError("entry points read for a config of built-in fetchers")

    monkeypatch.setattr(entrypoints, "_all", no_metadata)
    entry = table_entry("WorkOrder_Curr", "JdeWorkOrderFetcher")
    config = parse_config({"SourceSystems": {"JDE": {"ConnId": "jde"}}, "DataSources": [entry]})
    assert config.table("WorkOrder_Curr").fetcher_type_name == "JdeWorkOrderFetcher"

    monkeypatch.undo()  # a wrong name still gets the full list of known ones
    with pytest.raises(ConfigError) as err:
        parse_config({"SourceSystems": {"JDE": {"ConnId": "jde"}}, "DataSources": [dict(entry, FetcherTypeName="Nope")]})
    assert "unknown fetcher 'Nope'" in str(err.value) and "JdeLotMasterFetcher" in str(err.value)
