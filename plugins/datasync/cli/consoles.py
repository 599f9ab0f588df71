"""The CLI's two rich consoles, made on first use.

Importing rich costs about 0.1 s, a tenth of a short ``datasync run`` that prints
one plain line; the tables, colours and JSON of the other commands load it when
they print.
"""

from __future__ import annotations

import sys
from typing import Any


class LazyConsole:
    """A ``rich.console.Console`` with these arguments, created when first used."""

    def __init__(self, **kwargs: Any):
        self._kwargs = kwargs
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._kwargs)
        return getattr(self._console, name)


out = LazyConsole(soft_wrap=True, width=None if sys.stdout.isatty() else 140)
err = LazyConsole(stderr=True, soft_wrap=True)
