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
