"""Whether a callable takes a keyword: newer engine calls stay compatible with older user classes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def accepts(func: Callable[..., Any], name: str) -> bool:
    """True when ``func`` has a parameter ``name`` or takes ``**kwargs``."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # a builtin without a signature: assume the current contract
        return True
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
