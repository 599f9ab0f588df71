"""Fetcher registry: names are the class's own, never inherited."""

from __future__ import annotations

import pytest

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
